public import Foundation

/// How the proxy treats paths that match no file.
public enum SpaMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Decide from the output: an SPA when it has an `index.html` and no `404.html`.
    case auto
    /// Unknown paths without an extension get `index.html`.
    case spa
    /// Unknown paths get the nearest `404.html` or the built-in 404.
    case `static`
}

/// One environment variable given to a site's build.
///
/// The catalog stores secret values as they are (the builder needs them);
/// the admin API never returns them and build logs mask them. `description`,
/// `debugDescription` and the reflection mirror mask them too, so printing,
/// logging or dumping a variable, a site or an error never reveals one.
public struct BuildVariable: Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// `^[A-Za-z_][A-Za-z0-9_]*$`, at most ``SiteSettings/maxVariableNameLength`` bytes.
    public var name: String
    public var value: String
    /// Whether `value` must be kept out of API responses and logs.
    public var secret: Bool

    public init(name: String, value: String, secret: Bool = false) {
        self.name = name
        self.value = value
        self.secret = secret
    }

    public var description: String { secret ? "\(name)=***" : "\(name)=\(value)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "value": secret ? "***" : value, "secret": secret])
    }
}

/// A site as the catalog holds it: what to build and which build is live.
///
/// The admin API and the CLI call a site a **deployment** and name it by its
/// slug. Values are snapshots: change a site with ``Catalog/updateSite(id:_:)``.
public struct Site: Sendable, Hashable, Codable, Identifiable {
    public let id: SiteID
    /// The host label the site answers at (`<slug>.<apps-domain>`), unique.
    public let slug: String
    public let repoURL: String
    public let branch: String
    /// The directory inside the repository to build in; nil for its root.
    public let rootDir: String?
    public let installCommand: String?
    public let buildCommand: String?
    /// The directory holding the built files, relative to `rootDir`; nil to detect it.
    public let outputDir: String?
    public let spa: SpaMode
    public let env: [BuildVariable]
    /// Where a signed `build.finished` POST goes whenever one of the site's
    /// builds ends (see ``NotificationDelivery``); nil for none.
    public let notifyURL: String?
    /// The build being served; nil until a first build succeeds and is activated.
    public let activeBuildID: BuildID?
    /// Whether a repository access token is kept for the site (the token
    /// itself never leaves the catalog but for the checkout; see
    /// ``Catalog/repoToken(siteID:)``).
    public let hasRepoToken: Bool
    public let createdAt: Date
    /// When the settings last changed (activation does not count).
    public let updatedAt: Date
    /// Who may visit (see ``protection``). Optional in the encoded form, so
    /// a site encoded by a Slipway without protection still decodes.
    private let protectionSettings: SiteProtection?

    public init(
        id: SiteID, slug: String, repoURL: String, branch: String, rootDir: String?, installCommand: String?,
        buildCommand: String?, outputDir: String?, spa: SpaMode, env: [BuildVariable], activeBuildID: BuildID?,
        createdAt: Date, updatedAt: Date, notifyURL: String? = nil, hasRepoToken: Bool = false,
        protection: SiteProtection = .none
    ) {
        self.hasRepoToken = hasRepoToken
        self.protectionSettings = protection
        self.id = id
        self.slug = slug
        self.repoURL = repoURL
        self.branch = branch
        self.rootDir = rootDir
        self.installCommand = installCommand
        self.buildCommand = buildCommand
        self.outputDir = outputDir
        self.spa = spa
        self.env = env
        self.notifyURL = notifyURL
        self.activeBuildID = activeBuildID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The editable part of the site, as ``Catalog/updateSite(id:_:)`` hands it out.
    public var settings: SiteSettings {
        SiteSettings(
            slug: slug, repoURL: repoURL, branch: branch, rootDir: rootDir, installCommand: installCommand,
            buildCommand: buildCommand, outputDir: outputDir, spa: spa, env: env, notifyURL: notifyURL,
            protection: protection
        )
    }

    /// Whether visitors must sign in, and how; never the password or its hash.
    public var protection: SiteProtection { protectionSettings ?? .none }
}

extension Site {
    /// The same site with other values for the fields that hold secrets
    /// (the catalog seals them in what it keeps).
    public func replacingSecrets(env: [BuildVariable], notifyURL: String?) -> Site {
        Site(
            id: id, slug: slug, repoURL: repoURL, branch: branch, rootDir: rootDir, installCommand: installCommand,
            buildCommand: buildCommand, outputDir: outputDir, spa: spa, env: env, activeBuildID: activeBuildID,
            createdAt: createdAt, updatedAt: updatedAt, notifyURL: notifyURL, hasRepoToken: hasRepoToken,
            protection: protection)
    }

    /// Decodes a site, including one an older Slipway encoded (in an event
    /// kept in the database) before `hasRepoToken` or protection existed.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(SiteID.self, forKey: .id),
            slug: try container.decode(String.self, forKey: .slug),
            repoURL: try container.decode(String.self, forKey: .repoURL),
            branch: try container.decode(String.self, forKey: .branch),
            rootDir: try container.decodeIfPresent(String.self, forKey: .rootDir),
            installCommand: try container.decodeIfPresent(String.self, forKey: .installCommand),
            buildCommand: try container.decodeIfPresent(String.self, forKey: .buildCommand),
            outputDir: try container.decodeIfPresent(String.self, forKey: .outputDir),
            spa: try container.decode(SpaMode.self, forKey: .spa),
            env: try container.decode([BuildVariable].self, forKey: .env),
            activeBuildID: try container.decodeIfPresent(BuildID.self, forKey: .activeBuildID),
            createdAt: try container.decode(Date.self, forKey: .createdAt),
            updatedAt: try container.decode(Date.self, forKey: .updatedAt),
            notifyURL: try container.decodeIfPresent(String.self, forKey: .notifyURL),
            hasRepoToken: try container.decodeIfPresent(Bool.self, forKey: .hasRepoToken) ?? false,
            protection: try container.decodeIfPresent(SiteProtection.self, forKey: .protectionSettings) ?? .none)
    }
}

/// What is needed to create a site. Leave `slug` nil to have one derived from
/// the repository name and made unique (`my-site`, then `my-site-2`, …).
/// Leave `webhookSecret` nil to have one generated (``WebhookSecret/generate()``).
public struct SiteDraft: Sendable, Hashable {
    public var slug: String?
    public var repoURL: String
    public var branch: String
    public var rootDir: String?
    public var installCommand: String?
    public var buildCommand: String?
    public var outputDir: String?
    public var spa: SpaMode
    public var env: [BuildVariable]
    /// Where build notifications go; nil (or empty) for none. See ``NotifyURL``.
    public var notifyURL: String?
    /// The secret GitHub signs this site's push webhooks with, and Slipway
    /// signs its build notifications with; never logged.
    public var webhookSecret: String?
    /// An access token for a private https repository, handed to git when
    /// it clones; never logged or returned.
    public var repoToken: String?
    /// Who may visit; its `version` is ignored (a new site starts at 1 when
    /// protected). A protected draft needs `passwordHash`.
    public var protection: SiteProtection = .none
    /// The ``PasswordHash`` of the site's password when `protection` is on; never logged.
    public var passwordHash: String?

    public init(
        slug: String? = nil, repoURL: String, branch: String = "main", rootDir: String? = nil,
        installCommand: String? = nil, buildCommand: String? = nil, outputDir: String? = nil,
        spa: SpaMode = .auto, env: [BuildVariable] = [], notifyURL: String? = nil, webhookSecret: String? = nil,
        repoToken: String? = nil
    ) {
        self.repoToken = repoToken
        self.slug = slug
        self.repoURL = repoURL
        self.branch = branch
        self.rootDir = rootDir
        self.installCommand = installCommand
        self.buildCommand = buildCommand
        self.outputDir = outputDir
        self.spa = spa
        self.env = env
        self.notifyURL = notifyURL
        self.webhookSecret = webhookSecret
    }
}

extension SiteDraft: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "SiteDraft(slug: \(slug ?? "nil"), repoURL: \(repoURL), branch: \(branch), env: \(env), notifyURL: \(redactedNotifyURL), webhookSecret: \(webhookSecret == nil ? "nil" : "***"), repoToken: \(repoToken == nil ? "nil" : "***"), protection: \(protection))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "slug": slug as Any, "repoURL": repoURL, "branch": branch, "rootDir": rootDir as Any,
                "installCommand": installCommand as Any, "buildCommand": buildCommand as Any,
                "outputDir": outputDir as Any,
                "spa": spa, "env": env, "notifyURL": redactedNotifyURL,
                "webhookSecret": webhookSecret == nil ? "nil" : "***",
                "repoToken": repoToken == nil ? "nil" : "***",
                "protection": protection, "passwordHash": passwordHash == nil ? "nil" : "***",
            ])
    }

    /// The notify URL without what may be a credential (userinfo, query).
    private var redactedNotifyURL: String { notifyURL.map(NotifyURL.redact) ?? "nil" }
}

/// The editable fields of a site. ``Catalog/updateSite(id:_:)`` hands the
/// current values to an edit closure and validates the result as a whole.
///
/// Optional text fields set to an empty string are stored as nil.
public struct SiteSettings: Sendable, Hashable {
    public var slug: String
    public var repoURL: String
    public var branch: String
    public var rootDir: String?
    public var installCommand: String?
    public var buildCommand: String?
    public var outputDir: String?
    public var spa: SpaMode
    public var env: [BuildVariable]
    /// Where build notifications go; nil or empty for none.
    public var notifyURL: String?
    /// Who may visit. Its `version` is the catalog's to set: it grows by
    /// one whenever `newPasswordHash` is given.
    public var protection: SiteProtection
    /// Set to the ``PasswordHash`` of a new password to change it (needed
    /// to turn protection on, or to change its mode or username); nil keeps
    /// the stored one. Never read back from the catalog.
    public var newPasswordHash: String?

    public init(
        slug: String, repoURL: String, branch: String = "main", rootDir: String? = nil,
        installCommand: String? = nil, buildCommand: String? = nil, outputDir: String? = nil,
        spa: SpaMode = .auto, env: [BuildVariable] = [], notifyURL: String? = nil,
        protection: SiteProtection = .none, newPasswordHash: String? = nil
    ) {
        self.protection = protection
        self.newPasswordHash = newPasswordHash
        self.slug = slug
        self.repoURL = repoURL
        self.branch = branch
        self.rootDir = rootDir
        self.installCommand = installCommand
        self.buildCommand = buildCommand
        self.outputDir = outputDir
        self.spa = spa
        self.env = env
        self.notifyURL = notifyURL
    }

    /// Longest repository URL accepted, in bytes.
    public static let maxRepoURLLength = 2048
    /// Longest branch name accepted, in bytes.
    public static let maxBranchLength = 255
    /// Longest root or output directory accepted, in bytes.
    public static let maxPathLength = 1024
    /// Longest install or build command accepted, in bytes.
    public static let maxCommandLength = 8192
    /// Most build variables per site.
    public static let maxVariables = 200
    /// Longest variable name accepted, in bytes.
    public static let maxVariableNameLength = 128
    /// Longest variable value accepted, in bytes.
    public static let maxVariableValueLength = 32 << 10
    /// Most bytes of names and values together.
    public static let maxEnvironmentBytes = 256 << 10
    /// Longest notify URL accepted, in bytes.
    public static let maxNotifyURLLength = 2048
}
