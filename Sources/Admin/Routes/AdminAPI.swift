import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import NIOCore
import Storage

/// The handlers of the admin API. Each one reads and validates its input,
/// calls the catalog, store or bus, and answers JSON; every error goes to
/// ``ErrorMiddleware``.
struct AdminAPI: Sendable {
    let configuration: AdminConfiguration
    let services: AdminServices
    let logger: Logger
    /// Where the audit log is written; nil on the operations listener, which has no audited routes.
    var recorder: AuditRecorder? = nil

    var catalog: any Catalog { services.catalog }

    func register(on router: Router<AdminRequestContext>) {
        registerOperations(on: router)
        router.get("/api/stats") { _, _ in try await stats() }
        let document = OpenAPIDocument.load()
        if case .failure(let missing) = document {
            logger.warning(
                "the OpenAPI document is missing; GET /api/openapi.json answers 503",
                metadata: ["searched": "\(missing.searched)"])
        }
        router.get("/api/openapi.json") { _, _ in try openAPIDocument(document) }

        router.post("/api/deployments") { request, context in try await createDeployment(request, context) }
        router.get("/api/deployments") { _, context in try await listDeployments(context) }
        router.get("/api/deployments/{slug}") { _, context in try await getDeployment(context) }
        router.patch("/api/deployments/{slug}") { request, context in try await updateDeployment(request, context) }
        router.delete("/api/deployments/{slug}") { _, context in try await deleteDeployment(context) }
        router.post("/api/deployments/{slug}/builds") { request, context in try await triggerBuild(request, context) }
        router.get("/api/deployments/{slug}/builds") { request, context in try await listBuilds(request, context) }
        router.post("/api/deployments/{slug}/rollback") { request, context in try await rollback(request, context) }
        router.post("/api/deployments/{slug}/webhook-secret") { _, context in try await rotateWebhookSecret(context) }
        router.post("/api/hooks/github/{slug}") { request, context in try await githubHook(request, context) }

        router.get("/api/builds/{id}") { _, context in try await getBuild(context) }
        router.post("/api/builds/{id}/cancel") { _, context in try await cancelBuild(context) }
        router.get("/api/builds/{id}/logs") { request, context in try await logs(request, context) }

        registerUploads(on: router)
        registerDomains(on: router)
        registerTokens(on: router)
        registerAudit(on: router)
    }

    // MARK: Shared steps

    /// The site named by the `{slug}` path parameter.
    func site(_ context: AdminRequestContext) async throws -> Site {
        let slug = try context.parameters.require("slug")
        if let problem = SlugRules.problem(with: slug) {
            throw AdminError(status: .unprocessableContent, code: "slug_invalid", message: problem)
        }
        return try await catalog.site(slug: slug)
    }

    /// The build named by the `{id}` path parameter.
    func build(_ context: AdminRequestContext) async throws -> Build {
        let text = try context.parameters.require("id")
        guard let id = BuildID(text) else { throw AdminError.buildNotFound(text) }
        return try await catalog.build(id: id)
    }

    func deploymentJSON(_ site: Site) async throws -> DeploymentJSON {
        let recent = try await catalog.builds(siteID: site.id, limit: 20).builds
        return DeploymentJSON(site: site, url: configuration.siteURL(slug: site.slug), recentBuilds: recent)
    }

    func buildJSON(_ build: Build, slug: String) -> BuildJSON {
        BuildJSON(build: build, slug: slug, urls: configuration.siteURLs)
    }

    func buildJSON(_ build: Build) async throws -> BuildJSON {
        guard build.status == .success else { return BuildJSON(build: build, previewURL: nil) }
        let site = try await catalog.site(id: build.siteID)
        return buildJSON(build, slug: site.slug)
    }

    func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try APIJSON.encoder().encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// `{"deployment": …, "build": …}` and friends.
struct Envelope<Value: Encodable & Sendable>: Encodable, Sendable {
    let key: String
    let value: Value

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        try container.encode(value, forKey: AnyCodingKey(key))
    }
}
