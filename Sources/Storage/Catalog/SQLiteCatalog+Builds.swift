import Foundation
import GRDB
public import Model

extension SQLiteCatalog {
    public func createBuild(siteID: SiteID, _ request: BuildRequest) async throws -> Build {
        let (trigger, commitSHA, commitMessage) = try CatalogRules.fields(of: request)
        let maxQueued = queueSettings.maxQueued
        return try await write { db, now, events in
            let site = try self.fetchSite(db, id: siteID)
            let queued = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM build WHERE status = 'queued'") ?? 0
            if queued >= maxQueued { throw CatalogError.queueFull(limit: maxQueued) }
            let number =
                try
                (Int.fetchOne(
                    db, sql: "SELECT build_counter FROM site WHERE id = ?", arguments: [site.id.rawValue]
                ) ?? 0) + 1
            try db.execute(
                sql: "UPDATE site SET build_counter = ? WHERE id = ?", arguments: [number, site.id.rawValue])
            let id = BuildID.generate(at: Millis.date(now))
            try db.execute(
                sql: """
                    INSERT INTO build (id, site_id, number, status, priority, trigger, commit_sha, commit_message,
                        attempt, queued_at, not_before)
                    VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, 1, ?, ?)
                    """,
                arguments: [
                    id.rawValue, site.id.rawValue, number, request.priority, trigger, commitSHA, commitMessage, now,
                    now,
                ]
            )
            let build = try Self.fetchBuild(db, id: id)
            events.publish(.buildChanged(build))
            return build
        }
    }

    public func build(id: BuildID) async throws -> Build {
        try await read { db, _ in try Self.fetchBuild(db, id: id) }
    }

    public func builds(siteID: SiteID, limit: Int, before: Int?) async throws -> BuildPage {
        try CatalogRules.pageSize(limit)
        return try await read { db, _ in
            _ = try self.fetchSite(db, id: siteID)
            let rows = try Self.fetchBuilds(
                db,
                sql: """
                    SELECT * FROM build WHERE site_id = ? AND (? IS NULL OR number < ?)
                    ORDER BY number DESC LIMIT ?
                    """,
                arguments: [siteID.rawValue, before, before, limit + 1]
            )
            let page = Array(rows.prefix(limit))
            return BuildPage(builds: page, nextBefore: rows.count > limit ? page.last?.number : nil)
        }
    }

    public func cancelBuild(id: BuildID) async throws -> Build {
        try await write { db, now, events in
            var build = try Self.fetchBuild(db, id: id)
            guard build.status.canChange(to: .canceled) else {
                throw CatalogError.illegalTransition(build, to: "cancel", allowedFrom: "queued or building")
            }
            // A running build keeps its lease: its worker learns of the cancel
            // at its next renewal, and until it lets go (or its lease
            // expires) no other build of the site starts.
            build.status = .canceled
            build.finishedAt = Millis.date(now)
            try Self.store(build, in: db)
            try Self.enqueueNotification(for: build, in: db, now: now)
            events.publish(.buildChanged(build))
            return build
        }
    }

    public func deleteBuild(id: BuildID) async throws -> Build {
        try await write { db, now, _ in
            let build = try Self.fetchBuild(db, id: id)
            guard build.status.isFinal else {
                throw CatalogError.buildInUse(build, "it is \(build.status); cancel it first")
            }
            let site = try self.fetchSite(db, id: build.siteID)
            if site.activeBuildID == build.id {
                throw CatalogError.buildInUse(
                    build, "it is the active build of '\(site.slug)'; activate another build first")
            }
            if let owner = build.leaseOwner, let expiry = build.leaseExpiresAt {
                let wait = max(0, Millis.from(expiry) - now) / 1000 + 1
                throw CatalogError.buildInUse(
                    build, "worker '\(owner)' has not stopped it yet; retry in \(wait) s, once its lease has expired"
                )
            }
            try db.execute(sql: "DELETE FROM build WHERE id = ?", arguments: [id.rawValue])
            return build
        }
    }

    public func deletableBuilds(siteID: SiteID, keepSuccesses: Int) async throws -> [Build] {
        guard keepSuccesses >= 0 else {
            throw CatalogError.invalidInput("keepSuccesses is \(keepSuccesses); give 0 or more")
        }
        return try await read { db, _ in
            let site = try self.fetchSite(db, id: siteID)
            let finished = try Self.fetchBuilds(
                db,
                sql: """
                    SELECT * FROM build WHERE site_id = ? AND status IN ('success', 'failed', 'canceled')
                    ORDER BY number DESC
                    """,
                arguments: [siteID.rawValue]
            )
            return CatalogRetention.deletable(finished, keepSuccesses: keepSuccesses, active: site.activeBuildID)
        }
    }

    public func stats() async throws -> CatalogStats {
        try await read { db, now in
            var counts = Dictionary(uniqueKeysWithValues: BuildStatus.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM build GROUP BY status") {
                let text: String = try row.decode(forColumn: "status")
                if let status = BuildStatus(rawValue: text) { counts[status] = try row.decode(forColumn: "n") }
            }
            let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(queued_at) FROM build WHERE status = 'queued'")
            return CatalogStats(
                countsByStatus: counts,
                queueDepth: counts[.queued] ?? 0,
                oldestQueuedAge: oldest.map { .milliseconds(max(0, now - $0)) },
                running: counts[.building] ?? 0
            )
        }
    }
}
