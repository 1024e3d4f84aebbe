import Foundation
public import Model
import PostgresNIO
public import Storage

extension PostgresCatalog {
    public func createBuild(siteID: SiteID, _ request: BuildRequest) async throws -> Build {
        let (trigger, commitSHA, commitMessage) = try CatalogRules.fields(of: request)
        let maxQueued = queueSettings.maxQueued
        let schema = settings.schema
        return try await write { tx in
            // Creators count the queue and add to it one at a time, so the
            // limit holds exactly; nothing else waits on this lock.
            try await tx.rows("SELECT pg_advisory_xact_lock(\(LockKey.queue), hashtext(\(schema)))")
            let site = try await tx.site(id: siteID)
            let queued =
                try await tx.rows("SELECT count(*) FROM build WHERE status = 'queued'").first?[0].decode(
                    Int.self) ?? 0
            if queued >= maxQueued { throw CatalogError.queueFull(limit: maxQueued) }
            // One statement reads and raises the counter under the row's lock:
            // concurrent creators get consecutive numbers.
            guard
                let number = try await tx.rows(
                    """
                    UPDATE site SET build_counter = build_counter + 1 WHERE id = \(site.id.rawValue)
                    RETURNING build_counter
                    """
                ).first?[0].decode(Int.self)
            else { throw CatalogError.siteNotFound(id: siteID) }
            let id = BuildID.generate(at: Millis.date(tx.now))
            try await tx.rows(
                """
                INSERT INTO build (id, site_id, number, status, priority, trigger, commit_sha, commit_message,
                    attempt, queued_at, not_before)
                VALUES (\(id.rawValue), \(site.id.rawValue), \(number), 'queued', \(request.priority), \(trigger),
                    \(commitSHA), \(commitMessage), 1, \(tx.now), \(tx.now))
                """)
            let build = try await tx.build(id: id)
            try await tx.publish(.buildChanged(build))
            return build
        }
    }

    public func build(id: BuildID) async throws -> Build {
        try await read { tx in try await tx.build(id: id) }
    }

    public func builds(siteID: SiteID, limit: Int, before: Int?) async throws -> BuildPage {
        try CatalogRules.pageSize(limit)
        return try await read { tx in
            _ = try await tx.site(id: siteID)
            let rows = try await tx.builds(
                """
                SELECT * FROM build WHERE site_id = \(siteID.rawValue) AND (\(before)::bigint IS NULL OR number < \(before)::bigint)
                ORDER BY number DESC LIMIT \(limit + 1)
                """)
            let page = Array(rows.prefix(limit))
            return BuildPage(builds: page, nextBefore: rows.count > limit ? page.last?.number : nil)
        }
    }

    public func cancelBuild(id: BuildID) async throws -> Build {
        try await write { tx in
            var build = try await tx.lockBuildAndItsSite(id)
            guard build.status.canChange(to: .canceled) else {
                throw CatalogError.illegalTransition(build, to: "cancel", allowedFrom: "queued or building")
            }
            // A running build keeps its lease and its site's claim: its
            // worker learns of the cancel at its next renewal, and until it
            // lets go (or its lease expires) no other build of the site starts.
            build.status = .canceled
            build.finishedAt = Millis.date(tx.now)
            try await tx.store(build)
            try await tx.enqueueNotification(for: build)
            try await tx.publish(.buildChanged(build))
            return build
        }
    }

    public func deleteBuild(id: BuildID) async throws -> Build {
        try await write { tx in
            // The site's row first: an activation of this build waits, or went first.
            let build = try await tx.lockBuildAndItsSite(id)
            guard build.status.isFinal else {
                throw CatalogError.buildInUse(build, "it is \(build.status); cancel it first")
            }
            let site = try await tx.site(id: build.siteID)
            if site.activeBuildID == build.id {
                throw CatalogError.buildInUse(
                    build, "it is the active build of '\(site.slug)'; activate another build first")
            }
            if let owner = build.leaseOwner, let expiry = build.leaseExpiresAt {
                let wait = max(0, Millis.from(expiry) - tx.now) / 1000 + 1
                throw CatalogError.buildInUse(
                    build, "worker '\(owner)' has not stopped it yet; retry in \(wait) s, once its lease has expired"
                )
            }
            try await tx.rows("DELETE FROM build WHERE id = \(id.rawValue)")
            return build
        }
    }

    public func deletableBuilds(siteID: SiteID, keepSuccesses: Int) async throws -> [Build] {
        guard keepSuccesses >= 0 else {
            throw CatalogError.invalidInput("keepSuccesses is \(keepSuccesses); give 0 or more")
        }
        return try await read { tx in
            let site = try await tx.site(id: siteID)
            let finished = try await tx.builds(
                """
                SELECT * FROM build WHERE site_id = \(siteID.rawValue) AND status IN ('success', 'failed', 'canceled')
                ORDER BY number DESC
                """)
            return CatalogRetention.deletable(finished, keepSuccesses: keepSuccesses, active: site.activeBuildID)
        }
    }

    public func stats() async throws -> CatalogStats {
        try await read(needsTime: true) { tx in
            var counts = Dictionary(uniqueKeysWithValues: BuildStatus.allCases.map { ($0, 0) })
            for row in try await tx.rows("SELECT status, count(*) FROM build GROUP BY status") {
                if let status = BuildStatus(rawValue: try row[0].decode(String.self)) {
                    counts[status] = try row[1].decode(Int.self)
                }
            }
            let oldest = try await tx.rows("SELECT min(queued_at) FROM build WHERE status = 'queued'").first?[0]
                .decode(Int64?.self)
            return CatalogStats(
                countsByStatus: counts,
                queueDepth: counts[.queued] ?? 0,
                oldestQueuedAge: oldest.map { .milliseconds(max(0, tx.now - $0)) },
                running: counts[.building] ?? 0
            )
        }
    }
}
