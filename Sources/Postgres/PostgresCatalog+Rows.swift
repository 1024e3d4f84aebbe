import Foundation
import Model
import PostgresNIO
import Storage

/// Reading and writing catalog rows. Column lists live here, next to each
/// other, so the schema and the Swift types stay in step.
extension PostgresCatalog {
    static func site(from row: PostgresRandomAccessRow, sealed: SealedFields) throws -> Site {
        let id = SiteID(unchecked: try row["id"].decode(String.self))
        let env = try sealed.env(json: try row["env"].decode(String.self), siteID: id)
        let spaText = try row["spa"].decode(String.self)
        guard let spa = SpaMode(rawValue: spaText) else {
            throw CatalogError.unavailable("a deployment row holds the unknown SPA mode '\(spaText)'")
        }
        return Site(
            id: id,
            slug: try row["slug"].decode(String.self),
            repoURL: try row["repo_url"].decode(String.self),
            branch: try row["branch"].decode(String.self),
            rootDir: try row["root_dir"].decode(String?.self),
            installCommand: try row["install_command"].decode(String?.self),
            buildCommand: try row["build_command"].decode(String?.self),
            outputDir: try row["output_dir"].decode(String?.self),
            spa: spa,
            env: env,
            activeBuildID: try row["active_build_id"].decode(String?.self).map(BuildID.init(unchecked:)),
            createdAt: Millis.date(try row["created_at"].decode(Int64.self)),
            updatedAt: Millis.date(try row["updated_at"].decode(Int64.self)),
            notifyURL: try sealed.open(try row["notify_url"].decode(String?.self), .notifyURL, siteID: id),
            hasRepoToken: try row["repo_token"].decode(String?.self) != nil,
            protection: try protection(from: row)
        )
    }

    /// The protection columns of a site row (never the hash).
    static func protection(from row: PostgresRandomAccessRow) throws -> SiteProtection {
        let modeText = try row["protection_mode"].decode(String.self)
        guard let mode = ProtectionMode(rawValue: modeText) else {
            throw CatalogError.unavailable("a deployment row holds the unknown protection mode '\(modeText)'")
        }
        return SiteProtection(
            mode: mode, username: try row["protection_username"].decode(String?.self),
            previewsOnly: try row["protection_previews_only"].decode(Bool.self),
            version: try row["protection_version"].decode(Int.self))
    }

    static func build(from row: PostgresRandomAccessRow) throws -> Build {
        let statusText = try row["status"].decode(String.self)
        guard let status = BuildStatus(rawValue: statusText) else {
            throw CatalogError.unavailable("a build row holds the unknown status '\(statusText)'")
        }
        func date(_ column: String) throws -> Date? {
            try row[column].decode(Int64?.self).map(Millis.date)
        }
        return Build(
            id: BuildID(unchecked: try row["id"].decode(String.self)),
            siteID: SiteID(unchecked: try row["site_id"].decode(String.self)),
            number: try row["number"].decode(Int.self),
            status: status,
            priority: try row["priority"].decode(Int.self),
            trigger: try row["trigger"].decode(String?.self),
            commitSHA: try row["commit_sha"].decode(String?.self),
            commitMessage: try row["commit_message"].decode(String?.self),
            error: try row["error"].decode(String?.self),
            attempt: try row["attempt"].decode(Int.self),
            queuedAt: Millis.date(try row["queued_at"].decode(Int64.self)),
            startedAt: try date("started_at"),
            finishedAt: try date("finished_at"),
            notBefore: Millis.date(try row["not_before"].decode(Int64.self)),
            leaseOwner: try row["lease_owner"].decode(String?.self),
            leaseExpiresAt: try date("lease_expires_at"),
            fileCount: try row["file_count"].decode(Int?.self),
            bytes: try row["bytes"].decode(Int64?.self),
            replacedAt: try date("replaced_at")
        )
    }

    static func notification(from row: PostgresRandomAccessRow, sealed: SealedFields) throws -> NotificationDelivery {
        let siteID = SiteID(unchecked: try row["site_id"].decode(String.self))
        let stateText = try row["state"].decode(String.self)
        guard let state = NotificationDelivery.State(rawValue: stateText) else {
            throw CatalogError.unavailable("a notification row holds the unknown state '\(stateText)'")
        }
        let build: Build
        do {
            build = try SQLiteCatalog.snapshotDecoder.decode(
                Build.self, from: Data(try row["build"].decode(String.self).utf8))
        } catch {
            throw CatalogError.unavailable(
                "a notification row holds an unreadable build; restore the catalog from a backup")
        }
        func date(_ column: String) throws -> Date? {
            try row[column].decode(Int64?.self).map(Millis.date)
        }
        return NotificationDelivery(
            id: try row["id"].decode(String.self),
            siteID: siteID,
            buildID: BuildID(unchecked: try row["build_id"].decode(String.self)),
            event: try row["event"].decode(String.self),
            // The site's notify URL as it was, sealed for the site.
            url: try sealed.open(try row["url"].decode(String.self), .notifyURL, siteID: siteID) ?? "",
            build: build,
            state: state,
            attempts: try row["attempts"].decode(Int.self),
            createdAt: Millis.date(try row["created_at"].decode(Int64.self)),
            nextAttemptAt: Millis.date(try row["next_attempt_at"].decode(Int64.self)),
            leaseOwner: try row["lease_owner"].decode(String?.self),
            leaseExpiresAt: try date("lease_expires_at"),
            lastAttemptAt: try date("last_attempt_at"),
            lastStatus: try row["last_status"].decode(Int?.self),
            lastError: try row["last_error"].decode(String?.self),
            finishedAt: try date("finished_at")
        )
    }
}

// MARK: Lookups and writes inside a transaction

extension PostgresCatalog.Transaction {
    /// The site, locked against other writers until the transaction ends
    /// when `lock` is true. (`FOR NO KEY UPDATE`, the lock an UPDATE of the
    /// row takes, lets the foreign-key checks of inserts referring to the
    /// site through; only deleting the site needs more.)
    func site(id: SiteID, lock: Bool = false) async throws -> Site {
        let rows =
            lock
            ? try await rows("SELECT * FROM site WHERE id = \(id.rawValue) FOR NO KEY UPDATE")
            : try await rows("SELECT * FROM site WHERE id = \(id.rawValue)")
        guard let row = rows.first else { throw CatalogError.siteNotFound(id: id) }
        return try PostgresCatalog.site(from: row, sealed: sealed)
    }

    /// The build, locked against other writers until the transaction ends
    /// when `lock` is true.
    func build(id: BuildID, lock: Bool = false) async throws -> Build {
        let rows =
            lock
            ? try await rows("SELECT * FROM build WHERE id = \(id.rawValue) FOR NO KEY UPDATE")
            : try await rows("SELECT * FROM build WHERE id = \(id.rawValue)")
        guard let row = rows.first else { throw CatalogError.buildNotFound(id) }
        return try PostgresCatalog.build(from: row)
    }

    func builds(_ query: PostgresQuery) async throws -> [Build] {
        try await rows(query).map(PostgresCatalog.build(from:))
    }

    /// Locks the row of the site `buildID` belongs to, then the build's own
    /// row: the order every transaction that locks both follows.
    func lockBuildAndItsSite(_ buildID: BuildID) async throws -> Build {
        let owner = try await rows("SELECT site_id FROM build WHERE id = \(buildID.rawValue)")
        guard let siteID = try owner.first?[0].decode(String.self) else { throw CatalogError.buildNotFound(buildID) }
        _ = try await rows("SELECT id FROM site WHERE id = \(siteID) FOR NO KEY UPDATE")
        return try await build(id: buildID, lock: true)
    }

    /// Frees the site's claim mutex when `buildID` holds it.
    func releaseClaim(of buildID: BuildID, siteID: SiteID) async throws {
        try await rows(
            """
            UPDATE site SET claimed_build_id = NULL
            WHERE id = \(siteID.rawValue) AND claimed_build_id = \(buildID.rawValue)
            """)
    }

    /// Writes every mutable column of `build` back to its row.
    func store(_ build: Build) async throws {
        let startedAt = build.startedAt.map(Millis.from)
        let finishedAt = build.finishedAt.map(Millis.from)
        let leaseExpiresAt = build.leaseExpiresAt.map(Millis.from)
        try await rows(
            """
            UPDATE build SET status = \(build.status.rawValue), priority = \(build.priority),
                trigger = \(build.trigger), commit_sha = \(build.commitSHA), commit_message = \(build.commitMessage),
                error = \(build.error), attempt = \(build.attempt), started_at = \(startedAt),
                finished_at = \(finishedAt), not_before = \(Millis.from(build.notBefore)),
                lease_owner = \(build.leaseOwner), lease_expires_at = \(leaseExpiresAt),
                file_count = \(build.fileCount), bytes = \(build.bytes)
            WHERE id = \(build.id.rawValue)
            """)
    }

    /// Writes every mutable column of `delivery` back to its row.
    func store(_ delivery: NotificationDelivery) async throws {
        let leaseExpiresAt = delivery.leaseExpiresAt.map(Millis.from)
        let lastAttemptAt = delivery.lastAttemptAt.map(Millis.from)
        let finishedAt = delivery.finishedAt.map(Millis.from)
        try await rows(
            """
            UPDATE notification SET state = \(delivery.state.rawValue), attempts = \(delivery.attempts),
                next_attempt_at = \(Millis.from(delivery.nextAttemptAt)), lease_owner = \(delivery.leaseOwner),
                lease_expires_at = \(leaseExpiresAt), last_attempt_at = \(lastAttemptAt),
                last_status = \(delivery.lastStatus), last_error = \(delivery.lastError), finished_at = \(finishedAt)
            WHERE id = \(delivery.id)
            """)
    }
}
