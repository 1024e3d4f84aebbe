package import Foundation
import GRDB
package import Model

/// Reading and writing catalog rows. Column lists live here, next to each
/// other, so the schema and the Swift types stay in step.
extension SQLiteCatalog {
    func site(from row: Row) throws -> Site {
        let id = SiteID(unchecked: try row.decode(forColumn: "id"))
        let env = try sealed.env(json: try row.decode(forColumn: "env"), siteID: id)
        let spaText: String = try row.decode(forColumn: "spa")
        guard let spa = SpaMode(rawValue: spaText) else {
            throw CatalogError.unavailable("a deployment row holds the unknown SPA mode '\(spaText)'")
        }
        let activeBuild: String? = try row.decode(forColumn: "active_build_id")
        return Site(
            id: id,
            slug: try row.decode(forColumn: "slug"),
            repoURL: try row.decode(forColumn: "repo_url"),
            branch: try row.decode(forColumn: "branch"),
            rootDir: try row.decode(forColumn: "root_dir"),
            installCommand: try row.decode(forColumn: "install_command"),
            buildCommand: try row.decode(forColumn: "build_command"),
            outputDir: try row.decode(forColumn: "output_dir"),
            spa: spa,
            env: env,
            activeBuildID: activeBuild.map(BuildID.init(unchecked:)),
            createdAt: Millis.date(try row.decode(forColumn: "created_at")),
            updatedAt: Millis.date(try row.decode(forColumn: "updated_at")),
            notifyURL: try sealed.open(try row.decode(forColumn: "notify_url"), .notifyURL, siteID: id),
            hasRepoToken: (try row.decode(forColumn: "repo_token") as String?) != nil,
            protection: try Self.protection(from: row)
        )
    }

    /// The protection columns of a site row (never the hash).
    static func protection(from row: Row) throws -> SiteProtection {
        let modeText: String = try row.decode(forColumn: "protection_mode")
        guard let mode = ProtectionMode(rawValue: modeText) else {
            throw CatalogError.unavailable("a deployment row holds the unknown protection mode '\(modeText)'")
        }
        return SiteProtection(
            mode: mode, username: try row.decode(forColumn: "protection_username"),
            previewsOnly: try row.decode(forColumn: "protection_previews_only"),
            version: try row.decode(forColumn: "protection_version"))
    }

    static func build(from row: Row) throws -> Build {
        let statusText: String = try row.decode(forColumn: "status")
        guard let status = BuildStatus(rawValue: statusText) else {
            throw CatalogError.unavailable("a build row holds the unknown status '\(statusText)'")
        }
        func date(_ column: String) throws -> Date? {
            let milliseconds: Int64? = try row.decode(forColumn: column)
            return milliseconds.map(Millis.date)
        }
        return Build(
            id: BuildID(unchecked: try row.decode(forColumn: "id")),
            siteID: SiteID(unchecked: try row.decode(forColumn: "site_id")),
            number: try row.decode(forColumn: "number"),
            status: status,
            priority: try row.decode(forColumn: "priority"),
            trigger: try row.decode(forColumn: "trigger"),
            commitSHA: try row.decode(forColumn: "commit_sha"),
            commitMessage: try row.decode(forColumn: "commit_message"),
            error: try row.decode(forColumn: "error"),
            attempt: try row.decode(forColumn: "attempt"),
            queuedAt: Millis.date(try row.decode(forColumn: "queued_at")),
            startedAt: try date("started_at"),
            finishedAt: try date("finished_at"),
            notBefore: Millis.date(try row.decode(forColumn: "not_before")),
            leaseOwner: try row.decode(forColumn: "lease_owner"),
            leaseExpiresAt: try date("lease_expires_at"),
            fileCount: try row.decode(forColumn: "file_count"),
            bytes: try row.decode(forColumn: "bytes"),
            replacedAt: try date("replaced_at")
        )
    }

    func notification(from row: Row) throws -> NotificationDelivery {
        let siteID = SiteID(unchecked: try row.decode(forColumn: "site_id"))
        let stateText: String = try row.decode(forColumn: "state")
        guard let state = NotificationDelivery.State(rawValue: stateText) else {
            throw CatalogError.unavailable("a notification row holds the unknown state '\(stateText)'")
        }
        let buildJSON: String = try row.decode(forColumn: "build")
        let build: Build
        do {
            build = try Self.snapshotDecoder.decode(Build.self, from: Data(buildJSON.utf8))
        } catch {
            throw CatalogError.unavailable(
                "a notification row holds an unreadable build; restore the catalog from a backup")
        }
        func date(_ column: String) throws -> Date? {
            let milliseconds: Int64? = try row.decode(forColumn: column)
            return milliseconds.map(Millis.date)
        }
        return NotificationDelivery(
            id: try row.decode(forColumn: "id"),
            siteID: siteID,
            buildID: BuildID(unchecked: try row.decode(forColumn: "build_id")),
            event: try row.decode(forColumn: "event"),
            // The site's notify URL as it was, sealed for the site.
            url: try sealed.open(try row.decode(forColumn: "url"), .notifyURL, siteID: siteID) ?? "",
            build: build,
            state: state,
            attempts: try row.decode(forColumn: "attempts"),
            createdAt: Millis.date(try row.decode(forColumn: "created_at")),
            nextAttemptAt: Millis.date(try row.decode(forColumn: "next_attempt_at")),
            leaseOwner: try row.decode(forColumn: "lease_owner"),
            leaseExpiresAt: try date("lease_expires_at"),
            lastAttemptAt: try date("last_attempt_at"),
            lastStatus: try row.decode(forColumn: "last_status"),
            lastError: try row.decode(forColumn: "last_error"),
            finishedAt: try date("finished_at")
        )
    }

    /// A build as a notification keeps it: JSON with times in whole milliseconds,
    /// so it reads back equal to what the build table holds. (`PostgresCatalog`
    /// keeps its notifications in the same form.)
    package static func snapshot(_ build: Build) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Millis.from(date))
        }
        return String(decoding: try encoder.encode(build), as: UTF8.self)
    }

    package static var snapshotDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            Millis.date(try decoder.singleValueContainer().decode(Int64.self))
        }
        return decoder
    }

    package static func envJSON(_ env: [BuildVariable]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(env), as: UTF8.self)
    }

    // MARK: Lookups inside a transaction

    func fetchSite(_ db: Database, id: SiteID) throws -> Site {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM site WHERE id = ?", arguments: [id.rawValue]) else {
            throw CatalogError.siteNotFound(id: id)
        }
        return try site(from: row)
    }

    static func fetchBuild(_ db: Database, id: BuildID) throws -> Build {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM build WHERE id = ?", arguments: [id.rawValue]) else {
            throw CatalogError.buildNotFound(id)
        }
        return try build(from: row)
    }

    static func fetchBuilds(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws
        -> [Build]
    {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map(build(from:))
    }

    /// Writes every mutable column of `delivery` back to its row.
    static func store(_ delivery: NotificationDelivery, in db: Database) throws {
        try db.execute(
            sql: """
                UPDATE notification SET state = ?, attempts = ?, next_attempt_at = ?, lease_owner = ?, lease_expires_at = ?,
                    last_attempt_at = ?, last_status = ?, last_error = ?, finished_at = ?
                WHERE id = ?
                """,
            arguments: [
                delivery.state.rawValue, delivery.attempts, Millis.from(delivery.nextAttemptAt), delivery.leaseOwner,
                delivery.leaseExpiresAt.map(Millis.from), delivery.lastAttemptAt.map(Millis.from), delivery.lastStatus,
                delivery.lastError, delivery.finishedAt.map(Millis.from), delivery.id,
            ]
        )
    }

    /// Writes every mutable column of `build` back to its row.
    static func store(_ build: Build, in db: Database) throws {
        try db.execute(
            sql: """
                UPDATE build SET status = ?, priority = ?, trigger = ?, commit_sha = ?, commit_message = ?, error = ?,
                    attempt = ?, started_at = ?, finished_at = ?, not_before = ?, lease_owner = ?, lease_expires_at = ?,
                    file_count = ?, bytes = ?
                WHERE id = ?
                """,
            arguments: [
                build.status.rawValue, build.priority, build.trigger, build.commitSHA, build.commitMessage, build.error,
                build.attempt, build.startedAt.map(Millis.from), build.finishedAt.map(Millis.from),
                Millis.from(build.notBefore), build.leaseOwner, build.leaseExpiresAt.map(Millis.from),
                build.fileCount, build.bytes, build.id.rawValue,
            ]
        )
    }
}
