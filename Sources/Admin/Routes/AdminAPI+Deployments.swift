import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import Storage

extension AdminAPI {
    /// `POST /api/deployments`: creates the site and queues its first build
    /// (none for a deployment without a repository: folders are uploaded to it).
    func createDeployment(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let body = try await StrictJSON.decode(
            CreateDeploymentBody.self, from: request, limit: configuration.maxBodyBytes)
        var draft = try body.draft()
        let hasRepository = !draft.repoURL.isEmpty
        if hasRepository {
            try requireBuilds()
            try checkRepositoryURL(draft.repoURL)
        }
        if let input = body.protection {
            let (protection, password) = try input.applied(to: .none)
            draft.protection = protection
            draft.passwordHash = await ProtectionInput.hashed(password)
        }
        let webhookSecret = WebhookSecret.generate()
        draft.webhookSecret = webhookSecret
        let site = try await catalog.createSite(draft)
        let build: Build?
        do {
            build =
                hasRepository ? try await catalog.createBuild(siteID: site.id, BuildRequest(trigger: "create")) : nil
        } catch {
            // Nothing half-done: a deployment whose first build was refused
            // (a full queue) is removed again, so the client can simply retry.
            _ = try? await catalog.deleteSite(id: site.id)
            throw error
        }
        if build != nil { services.buildsQueued() }
        context.audit.target = site.slug
        logger.info(
            "deployment created",
            metadata: ["slug": "\(site.slug)", "site": "\(site.id)", "build": "\(build?.id.rawValue ?? "none")"])
        let deployment = try await deploymentJSON(site)
        return try json(
            CreatedDeployment(
                deployment: deployment, build: build.map { buildJSON($0, slug: site.slug) },
                webhookSecret: webhookSecret),
            status: .created)
    }

    /// `GET /api/deployments`. A `deploy:<slug>` token sees its own deployment only.
    func listDeployments(_ context: AdminRequestContext) async throws -> Response {
        var deployments: [DeploymentJSON] = []
        for site in try await catalog.sites() {
            if case .deploy(let slug) = context.principal?.scope, site.slug != slug { continue }
            deployments.append(try await deploymentJSON(site))
        }
        return try json(Envelope(key: "deployments", value: deployments))
    }

    /// `GET /api/deployments/{slug}`.
    func getDeployment(_ context: AdminRequestContext) async throws -> Response {
        try json(try await deploymentJSON(try await site(context)))
    }

    /// `PATCH /api/deployments/{slug}`: changes settings, and queues a build
    /// when the body says `"rebuild": true`.
    func updateDeployment(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let current = try await site(context)
        let body = try await StrictJSON.decode(
            UpdateDeploymentBody.self, from: request, limit: configuration.maxBodyBytes)
        if body.rebuild {
            try requireBuilds()
            // A repository given in the same request counts.
            if body.repoURL == nil { try requireRepository(current) }
        }
        if let url = body.repoURL { try checkRepositoryURL(url) }
        let variables = try body.variables(current: current.env)
        // Checked before anything changes, so a bad token changes nothing.
        var newToken: String?? = nil
        switch body.repoToken {
        case .absent: break
        case .null: newToken = .some(nil)
        case .value(let token): newToken = .some(try CatalogRules.repoToken(token))
        }
        // The protection is worked out from the stored one (the catalog
        // checks again against what it holds when it stores it).
        let protection = try body.protection.map { try $0.applied(to: current.protection) }
        let passwordHash = await ProtectionInput.hashed(protection?.password)
        var updated = try await catalog.updateSite(id: current.id) { settings in
            body.apply(to: &settings, variables: variables)
            if let protection {
                let version = settings.protection.version
                settings.protection = protection.protection
                settings.protection.version = version
                settings.newPasswordHash = passwordHash
            }
        }
        if let protection {
            logger.info(
                "deployment protection set",
                metadata: [
                    "slug": "\(updated.slug)", "protection": "\(updated.protection)",
                    "passwordChanged": "\(protection.password != nil)",
                ])
        }
        if let newToken {
            updated = try await catalog.setRepoToken(siteID: current.id, newToken)
        }
        if body.rebuild {
            _ = try await catalog.createBuild(siteID: updated.id, BuildRequest(trigger: "update"))
            services.buildsQueued()
        }
        return try json(try await deploymentJSON(updated))
    }

    /// `DELETE /api/deployments/{slug}`: removes the site, its builds and
    /// every object under its prefixes.
    func deleteDeployment(_ context: AdminRequestContext) async throws -> Response {
        let site = try await site(context)
        let deletion = try await catalog.deleteSite(id: site.id)
        let prefixes = ["sites/\(site.id)/", "manifests/\(site.id)/", "logs/\(site.id)/"]
        do {
            for prefix in prefixes {
                try await services.store.deletePrefix(prefix)
            }
        } catch {
            logger.error(
                "objects of a deleted deployment could not be removed",
                metadata: ["site": "\(site.id)", "error": "\(error)"])
            throw AdminError.storeFailed(
                "the deployment '\(site.slug)' was deleted, but some of its objects could not be removed from the object store; they remain under \(prefixes.joined(separator: ", "))"
            )
        }
        logger.info(
            "deployment deleted",
            metadata: ["slug": "\(site.slug)", "site": "\(site.id)", "builds": "\(deletion.builds.count)"])
        return Response(status: .noContent)
    }

    /// `POST /api/deployments/{slug}/rollback`: activates the given build, or
    /// the newest successful build older than the active one.
    func rollback(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let site = try await site(context)
        let body = try await StrictJSON.decode(
            RollbackBody.self, from: request, limit: configuration.maxBodyBytes, emptyIsObject: true)
        let target: Build
        if let text = body.buildID {
            guard let id = BuildID(text) else { throw AdminError.buildNotFound(text) }
            target = try await catalog.build(id: id)
            guard target.siteID == site.id else {
                throw AdminError.conflict(
                    "not_activatable",
                    "build '\(id)' belongs to another deployment; list the builds of '\(site.slug)' to pick one")
            }
        } else {
            target = try await previousSuccessfulBuild(of: site)
        }
        _ = try await catalog.activate(siteID: site.id, buildID: target.id, allowOlder: true)
        logger.info(
            "deployment rolled back",
            metadata: ["slug": "\(site.slug)", "build": "\(target.id)", "number": "\(target.number)"])
        return try json(try await deploymentJSON(try await catalog.site(id: site.id)))
    }

    private func previousSuccessfulBuild(of site: Site) async throws -> Build {
        guard let activeID = site.activeBuildID else {
            throw AdminError.conflict(
                "no_active_build",
                "'\(site.slug)' has no active build to roll back from; name a successful build with 'buildId'")
        }
        let active = try await catalog.build(id: activeID)
        var before: Int? = active.number
        while let cursor = before {
            let page = try await catalog.builds(siteID: site.id, limit: 200, before: cursor)
            if let found = page.builds.first(where: { $0.status == .success }) { return found }
            before = page.nextBefore
        }
        throw AdminError.conflict(
            "no_previous_build",
            "'\(site.slug)' has no successful build older than the active build #\(active.number); nothing to roll back to"
        )
    }
}

/// The answer to a create: the deployment, its first build, and the secret
/// GitHub must sign webhooks with (returned here only; rotating it is the
/// only way to see it again).
struct CreatedDeployment: Encodable, Sendable {
    let deployment: DeploymentJSON
    /// Nil for a deployment without a repository.
    let build: BuildJSON?
    let webhookSecret: String

    private enum CodingKeys: String, CodingKey { case deployment, build, webhookSecret }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(deployment, forKey: .deployment)
        try container.encode(build, forKey: .build)
        try container.encode(webhookSecret, forKey: .webhookSecret)
    }
}

extension AdminAPI {
    /// Refuses to queue a build of a deployment without a repository: 409
    /// `no_repository`, saying how it is deployed instead.
    func requireRepository(_ site: Site) throws {
        guard site.repoURL.isEmpty else { return }
        throw AdminError.conflict(
            "no_repository",
            "the deployment '\(site.slug)' has no repository, so it has nothing to build; publish a folder with `slipway deploy --slug \(site.slug) --dir FOLDER`, or set its repoUrl"
        )
    }

    /// Refuses a repository URL no build could clone (``RepositoryURLRules``).
    func checkRepositoryURL(_ url: String) throws {
        // A URL with credentials is refused by the catalog's checks, which say why without echoing it.
        guard !URLUserinfo.present(in: url),
            let problem = RepositoryURLRules.problem(with: url, allowLocal: configuration.allowLocalRepositories)
        else { return }
        throw AdminError.invalidBody(problem)
    }
}
