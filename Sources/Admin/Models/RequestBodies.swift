import Model
import Storage

/// One entry of `env` in a create or update body.
struct EnvEntryInput: Decodable, Sendable {
    let name: String
    /// Nil only in an update, for a secret whose stored value is kept.
    let value: String?
    let secret: Bool

    static let fields = ["name", "value", "secret"]

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: Self.fields)
        name = try object.required("name")
        value = try object.optional("value")
        secret = try object.optional("secret") ?? false
    }
}

/// `POST /api/deployments`.
struct CreateDeploymentBody: Decodable, Sendable {
    let slug: String?
    /// Empty when the deployment has no repository (folders are uploaded to it).
    let repoURL: String
    let branch: String?
    let rootDir: String?
    let installCommand: String?
    let buildCommand: String?
    let outputDir: String?
    let spa: SpaMode?
    let env: [EnvEntryInput]
    let notifyURL: String?
    /// A private repository's access token (write-only).
    let repoToken: String?
    /// Who may visit (`ProtectionBody.swift`).
    let protection: ProtectionInput?

    static let fields = [
        "slug", "repoUrl", "branch", "rootDir", "installCommand", "buildCommand", "outputDir", "spa", "env",
        "notifyUrl", "repoToken", "protection",
    ]

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: Self.fields)
        slug = try object.optional("slug")
        repoURL = try object.optional("repoUrl") ?? ""
        if repoURL.isEmpty && slug == nil {
            throw AdminError.invalidBody(
                "give a slug or a repoUrl: a deployment without a repository (deployed with slipway deploy --dir) is named by its slug"
            )
        }
        branch = try object.optional("branch")
        rootDir = try object.optional("rootDir")
        installCommand = try object.optional("installCommand")
        buildCommand = try object.optional("buildCommand")
        outputDir = try object.optional("outputDir")
        spa = try object.optional("spa", as: SpaModeInput.self)?.mode
        env = try object.optional("env") ?? []
        notifyURL = try object.optional("notifyUrl")
        repoToken = try object.optional("repoToken")
        protection = try object.optional("protection")
    }

    /// The catalog's draft; every variable must carry its value.
    func draft() throws -> SiteDraft {
        let variables = try env.enumerated().map { index, entry in
            guard let value = entry.value else {
                throw AdminError.invalidBody(
                    "field 'env[\(index)].value' is required: give the value of '\(entry.name)'")
            }
            return BuildVariable(name: entry.name, value: value, secret: entry.secret)
        }
        return SiteDraft(
            slug: slug, repoURL: repoURL, branch: branch ?? "main", rootDir: rootDir, installCommand: installCommand,
            buildCommand: buildCommand, outputDir: outputDir, spa: spa ?? .auto, env: variables, notifyURL: notifyURL,
            repoToken: repoToken)
    }
}

/// `PATCH /api/deployments/{slug}`: every field optional; `null` clears the
/// optional text fields (`notifyUrl` included); `env` replaces the whole list, and a secret entry
/// without `value` keeps the secret's stored value.
struct UpdateDeploymentBody: Decodable, Sendable {
    let slug: String?
    let repoURL: String?
    let branch: String?
    let rootDir: FieldPatch<String>
    let installCommand: FieldPatch<String>
    let buildCommand: FieldPatch<String>
    let outputDir: FieldPatch<String>
    let spa: SpaMode?
    let env: [EnvEntryInput]?
    let notifyURL: FieldPatch<String>
    /// A new repository access token; `null` (or empty) forgets it.
    let repoToken: FieldPatch<String>
    let rebuild: Bool
    /// Who may visit (`ProtectionBody.swift`); absent keeps it.
    let protection: ProtectionInput?

    static let fields = CreateDeploymentBody.fields + ["rebuild"]

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: Self.fields)
        slug = try object.nonNullPatch("slug")
        repoURL = try object.nonNullPatch("repoUrl")
        branch = try object.nonNullPatch("branch")
        rootDir = try object.patch("rootDir")
        installCommand = try object.patch("installCommand")
        buildCommand = try object.patch("buildCommand")
        outputDir = try object.patch("outputDir")
        spa = try object.nonNullPatch("spa", as: SpaModeInput.self)?.mode
        env = try object.nonNullPatch("env")
        notifyURL = try object.patch("notifyUrl")
        repoToken = try object.patch("repoToken")
        rebuild = try object.optional("rebuild") ?? false
        protection = try object.nonNullPatch("protection")
    }

    /// The variables after the update, given the stored ones.
    func variables(current: [BuildVariable]) throws -> [BuildVariable]? {
        guard let env else { return nil }
        return try env.enumerated().map { index, entry in
            if let value = entry.value {
                return BuildVariable(name: entry.name, value: value, secret: entry.secret)
            }
            guard entry.secret, let stored = current.first(where: { $0.name == entry.name && $0.secret }) else {
                throw AdminError.invalidBody(
                    "field 'env[\(index)].value' is required: only a secret that is already stored may leave out its value to keep it"
                )
            }
            return stored
        }
    }

    /// Applies the body to the stored settings.
    func apply(to settings: inout SiteSettings, variables: [BuildVariable]?) {
        if let slug { settings.slug = slug }
        if let repoURL { settings.repoURL = repoURL }
        if let branch { settings.branch = branch }
        Self.apply(rootDir, to: &settings.rootDir)
        Self.apply(installCommand, to: &settings.installCommand)
        Self.apply(buildCommand, to: &settings.buildCommand)
        Self.apply(outputDir, to: &settings.outputDir)
        if let spa { settings.spa = spa }
        if let variables { settings.env = variables }
        Self.apply(notifyURL, to: &settings.notifyURL)
    }

    private static func apply(_ patch: FieldPatch<String>, to field: inout String?) {
        switch patch {
        case .absent: break
        case .null: field = nil
        case .value(let value): field = value
        }
    }
}

/// `POST /api/deployments/{slug}/builds`: an empty body or an object with
/// the commit the caller wants recorded.
struct TriggerBuildBody: Decodable, Sendable {
    let commitSHA: String?
    let commitMessage: String?

    static let fields = ["commitSha", "commitMessage"]

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: Self.fields)
        commitSHA = try object.optional("commitSha")
        commitMessage = try object.optional("commitMessage")
    }
}

/// `POST /api/deployments/{slug}/rollback`.
struct RollbackBody: Decodable, Sendable {
    let buildID: String?

    static let fields = ["buildId"]

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: Self.fields)
        buildID = try object.optional("buildId")
    }
}

/// An SPA mode named in a body, refused with the accepted names when unknown.
struct SpaModeInput: Decodable, Sendable {
    let mode: SpaMode

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let mode = SpaMode(rawValue: text) else {
            let path = StrictJSON.fieldPath(decoder.codingPath)
            throw AdminError.invalidBody(
                "field '\(path)' must be one of \(SpaMode.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")), not '\(text.prefix(40))'"
            )
        }
        self.mode = mode
    }
}
