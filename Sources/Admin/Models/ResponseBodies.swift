import Foundation
import Model
import Storage

/// A deployment (a catalog site) as the API returns it. Secret values are
/// never included.
struct DeploymentJSON: Encodable, Sendable {
    /// `new`, `building`, `live` or `failed`.
    enum Status: String, Encodable, Sendable {
        case new, building, live, failed
    }

    struct EnvEntry: Encodable, Sendable {
        let name: String
        let secret: Bool
        let value: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: AnyCodingKey.self)
            try container.encode(name, forKey: AnyCodingKey("name"))
            try container.encode(secret, forKey: AnyCodingKey("secret"))
            // A secret's value never leaves the server, not even as null.
            if !secret { try container.encode(value, forKey: AnyCodingKey("value")) }
        }
    }

    let site: Site
    let url: String
    let status: Status

    init(site: Site, url: String, recentBuilds: [Build]) {
        self.site = site
        self.url = url
        self.status = Self.status(of: site, recentBuilds: recentBuilds)
    }

    /// `building` while a build is queued or running, else `live` with an
    /// active build, else `failed` when the newest build failed or was
    /// canceled, else `new`.
    static func status(of site: Site, recentBuilds: [Build]) -> Status {
        if recentBuilds.contains(where: { !$0.status.isFinal }) { return .building }
        if site.activeBuildID != nil { return .live }
        if let newest = recentBuilds.max(by: { $0.number < $1.number }),
            newest.status == .failed || newest.status == .canceled
        {
            return .failed
        }
        return .new
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        func put<T: Encodable>(_ value: T, _ key: String) throws {
            try container.encode(value, forKey: AnyCodingKey(key))
        }
        try put(site.id.rawValue, "id")
        try put(site.slug, "slug")
        try put(url, "url")
        // Never with userinfo: credentials live sealed in repoToken.
        // Null for a deployment without a repository.
        try put(site.repoURL.isEmpty ? nil : URLUserinfo.removed(from: site.repoURL), "repoUrl")
        try put(site.hasRepoToken, "hasRepoToken")
        try put(site.branch, "branch")
        try put(site.rootDir, "rootDir")
        try put(site.installCommand, "installCommand")
        try put(site.buildCommand, "buildCommand")
        try put(site.outputDir, "outputDir")
        try put(site.spa.rawValue, "spa")
        try put(site.env.map { EnvEntry(name: $0.name, secret: $0.secret, value: $0.secret ? nil : $0.value) }, "env")
        // Without the userinfo, which the notifier sends as Basic credentials.
        try put(site.notifyURL.map(URLUserinfo.removed(from:)), "notifyUrl")
        try put(ProtectionJSON(protection: site.protection), "protection")
        try put(site.activeBuildID?.rawValue, "activeBuildId")
        try put(status, "status")
        try put(site.createdAt, "createdAt")
        try put(site.updatedAt, "updatedAt")
    }
}
