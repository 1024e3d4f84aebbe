import Foundation
public import Model
import PostgresNIO
public import Storage

extension PostgresCatalog {
    public func nextQueuedBuildDelay() async throws -> Duration? {
        try await read(needsTime: true) { tx in
            let now = tx.now
            return try await tx.rows(
                "SELECT min(not_before) FROM build WHERE status = 'queued' AND not_before > \(now)"
            ).first?[0].decode(Int64?.self).map { .milliseconds($0 - now) }
        }
    }

    public func claimNextBuild(workerID: String, leaseDuration: Duration) async throws -> Build? {
        try BuildFields.workerID(workerID)
        let lease = try SQLiteCatalog.leaseMilliseconds(leaseDuration)
        return try await write { tx in
            let now = tx.now
            // A canceled build whose worker never let go stops holding its
            // site once its lease lapses, as in SQLiteCatalog; the sweep
            // releases its lease later.
            try await tx.rows(
                """
                UPDATE site SET claimed_build_id = NULL
                WHERE id IN (
                    SELECT s.id FROM site AS s JOIN build AS r ON r.id = s.claimed_build_id
                    WHERE r.status = 'canceled' AND r.lease_expires_at <= \(now)
                    FOR NO KEY UPDATE OF s SKIP LOCKED
                )
                """)
            // One statement takes the build and its site's mutex together.
            // Rows another claimer holds are skipped, and a site whose row
            // changed since the statement began is re-checked on its new
            // version (READ COMMITTED), so of two claimers racing for two
            // builds of one site, one gets a build and the other none. Only
            // the first runnable build of each site is a candidate, so the
            // one that runs is the one SQLiteCatalog would pick, whichever
            // claimer wins.
            let claimed = try await tx.builds(
                """
                WITH candidate AS (
                    SELECT b.id, b.site_id FROM build AS b JOIN site AS s ON s.id = b.site_id
                    WHERE b.status = 'queued' AND b.not_before <= \(now) AND s.claimed_build_id IS NULL
                      AND NOT EXISTS (
                        SELECT 1 FROM build AS e
                        WHERE e.site_id = b.site_id AND e.status = 'queued' AND e.not_before <= \(now)
                          AND (e.priority > b.priority
                               OR (e.priority = b.priority AND (e.queued_at, e.seq) < (b.queued_at, b.seq)))
                      )
                    ORDER BY b.priority DESC, b.queued_at, b.seq
                    LIMIT 1
                    FOR NO KEY UPDATE OF b, s SKIP LOCKED
                ), mutex AS (
                    UPDATE site SET claimed_build_id = candidate.id FROM candidate WHERE site.id = candidate.site_id
                )
                UPDATE build SET status = 'building', started_at = \(now), finished_at = NULL,
                    lease_owner = \(workerID), lease_expires_at = \(now + lease)
                FROM candidate WHERE build.id = candidate.id
                RETURNING build.*
                """)
            guard let build = claimed.first else { return nil }
            try await tx.publish(.buildChanged(build))
            return build
        }
    }

    public func renewLease(buildID: BuildID, workerID: String, leaseDuration: Duration) async throws -> Build {
        let lease = try SQLiteCatalog.leaseMilliseconds(leaseDuration)
        return try await holdingLease(buildID: buildID, workerID: workerID) { tx, build in
            var build = build
            build.leaseExpiresAt = Millis.date(tx.now + lease)
            try await tx.store(build)
            return build
        }.get()
    }

    public func releaseBuild(buildID: BuildID, workerID: String) async throws -> Build {
        let outcome = try await holdingLease(buildID: buildID, workerID: workerID) { tx, build in
            var build = build
            build.status = .queued
            build.startedAt = nil
            build.notBefore = Millis.date(tx.now)
            build.leaseOwner = nil
            build.leaseExpiresAt = nil
            try await tx.store(build)
            try await tx.releaseClaim(of: build.id, siteID: build.siteID)
            try await tx.publish(.buildChanged(build))
            return build
        }
        switch outcome {
        case .held(let build): return build
        // Letting go of a canceled build is what the worker came to do.
        case .canceled(let build): return build
        }
    }

    public func recordCommit(buildID: BuildID, workerID: String, sha: String, message: String?) async throws -> Build {
        let (sha, message) = try CatalogRules.commit(sha: sha, message: message)
        return try await holdingLease(buildID: buildID, workerID: workerID) { tx, build in
            var build = build
            build.commitSHA = sha
            build.commitMessage = message
            try await tx.store(build)
            try await tx.publish(.buildChanged(build))
            return build
        }.get()
    }

    public func finishBuild(buildID: BuildID, workerID: String, result: BuildResult, activate: Bool) async throws
        -> (build: Build, activation: ActivationOutcome?)
    {
        try SQLiteCatalog.validate(result)
        let settings = queueSettings
        return try await holdingLease(buildID: buildID, workerID: workerID) { tx, build in
            var build = build
            SQLiteCatalog.apply(result, to: &build, now: tx.now, settings: settings)
            try await tx.store(build)
            try await tx.releaseClaim(of: build.id, siteID: build.siteID)
            try await tx.enqueueNotification(for: build)
            try await tx.publish(.buildChanged(build))
            guard activate, build.status == .success else { return (build, nil) }
            // The success and its activation commit together: a worker that
            // dies now leaves either both or neither. The site's row is
            // already locked (holdingLease).
            let site = try await tx.site(id: build.siteID)
            let outcome = try await tx.activate(build, of: site, allowOlder: false)
            return (build, outcome)
        }.get()
    }

    public func sweepExpiredLeases() async throws -> SweepReport {
        let settings = queueSettings
        return try await write { tx in
            var requeued: [Build] = []
            var failed: [Build] = []
            var released: [Build] = []
            // Leases another sweeper (or the lease's worker) is changing are
            // skipped, and a row that changed since the statement began is
            // re-checked on its new version: a lapsed lease is taken back
            // once, by one sweeper.
            let expired = try await tx.builds(
                """
                SELECT b.* FROM build AS b JOIN site AS s ON s.id = b.site_id
                WHERE b.lease_owner IS NOT NULL AND b.lease_expires_at <= \(tx.now)
                ORDER BY b.lease_expires_at, b.seq
                FOR NO KEY UPDATE OF s, b SKIP LOCKED
                """)
            for var build in expired {
                switch SQLiteCatalog.expireLease(of: &build, now: tx.now, settings: settings) {
                case .requeued: requeued.append(build)
                case .failed: failed.append(build)
                case .releasedCanceled: released.append(build)
                }
                try await tx.store(build)
                try await tx.releaseClaim(of: build.id, siteID: build.siteID)
                // Only a build this sweep ended: a canceled one was notified of when it was canceled.
                if build.status == .failed { try await tx.enqueueNotification(for: build) }
            }
            for build in requeued + failed { try await tx.publish(.buildChanged(build)) }
            let activated = try await tx.activateStrandedFirstBuilds()
            return SweepReport(requeued: requeued, failed: failed, releasedCanceled: released, activated: activated)
        }
    }

    // MARK: Leases

    /// Runs `body` when `workerID` holds the lease of a building build, with
    /// the build's site and the build locked. A canceled build is released
    /// instead (the worker's acknowledgement is committed) and reported as
    /// `.canceled`; anything else throws.
    func holdingLease<T: Sendable>(
        buildID: BuildID,
        workerID: String,
        _ body: (Transaction, Build) async throws -> T
    ) async throws -> CatalogLeaseOutcome<T> {
        try BuildFields.workerID(workerID)
        return try await write { tx in
            var build = try await tx.lockBuildAndItsSite(buildID)
            switch build.status {
            case .canceled:
                if build.leaseOwner == workerID {
                    build.leaseOwner = nil
                    build.leaseExpiresAt = nil
                    try await tx.store(build)
                    try await tx.releaseClaim(of: build.id, siteID: build.siteID)
                }
                return .canceled(build)
            case .success, .failed:
                throw CatalogError.illegalTransition(build, to: "change", allowedFrom: "building")
            case .queued, .building:
                // A lease stays the worker's until the sweep takes it, even
                // past its expiry: nobody else can have claimed the build.
                guard build.status == .building, build.leaseOwner == workerID else {
                    throw CatalogError.leaseLost(build, workerID: workerID)
                }
                return .held(try await body(tx, build))
            }
        }
    }
}

extension PostgresCatalog.Transaction {
    /// A worker that stops between recording a site's first successful build
    /// and activating it leaves a site with a servable build and nothing
    /// live. Such a site is switched to its newest successful build here. (A
    /// site that already serves a build is left alone: an older build being
    /// live may be a deliberate rollback.) Sites another transaction holds
    /// are left for the next sweep.
    func activateStrandedFirstBuilds() async throws -> [Build] {
        let stranded = try await builds(
            """
            SELECT b.* FROM build AS b JOIN site AS s ON s.id = b.site_id
            WHERE s.active_build_id IS NULL AND b.status = 'success'
              AND b.number = (SELECT max(number) FROM build WHERE site_id = b.site_id AND status = 'success')
            ORDER BY b.seq
            FOR NO KEY UPDATE OF s SKIP LOCKED
            """)
        for build in stranded {
            try await rows(
                "UPDATE site SET active_build_id = \(build.id.rawValue) WHERE id = \(build.siteID.rawValue)")
            try await releaseNotification(of: build.id)
            try await publish(
                .activated(
                    Activation(siteID: build.siteID, buildID: build.id, buildNumber: build.number, previousBuildID: nil)
                )
            )
        }
        return stranded
    }
}
