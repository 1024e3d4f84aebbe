import Foundation
import GRDB
public import Model

extension SQLiteCatalog {
    public func nextQueuedBuildDelay() async throws -> Duration? {
        try await read { db, now in
            try Int64.fetchOne(
                db, sql: "SELECT MIN(not_before) FROM build WHERE status = 'queued' AND not_before > ?",
                arguments: [now]
            ).map { .milliseconds($0 - now) }
        }
    }

    public func claimNextBuild(workerID: String, leaseDuration: Duration) async throws -> Build? {
        try BuildFields.workerID(workerID)
        let lease = try Self.leaseMilliseconds(leaseDuration)
        return try await write { db, now, events in
            // One IMMEDIATE transaction: no other writer, in this process or
            // another, can claim the same row between the SELECT and the UPDATE.
            let candidates = try Self.fetchBuilds(
                db,
                sql: """
                    SELECT * FROM build AS b
                    WHERE b.status = 'queued' AND b.not_before <= :now
                      AND NOT EXISTS (
                        SELECT 1 FROM build AS r
                        WHERE r.site_id = b.site_id
                          AND (r.status = 'building' OR (r.status = 'canceled' AND r.lease_expires_at > :now))
                      )
                    ORDER BY b.priority DESC, b.queued_at, b.rowid
                    LIMIT 1
                    """,
                arguments: ["now": now]
            )
            guard var build = candidates.first else { return nil }
            build.status = .building
            build.startedAt = Millis.date(now)
            build.finishedAt = nil
            build.leaseOwner = workerID
            build.leaseExpiresAt = Millis.date(now + lease)
            try Self.store(build, in: db)
            events.publish(.buildChanged(build))
            return build
        }
    }

    public func renewLease(buildID: BuildID, workerID: String, leaseDuration: Duration) async throws -> Build {
        let lease = try Self.leaseMilliseconds(leaseDuration)
        return try await holdingLease(buildID: buildID, workerID: workerID) { db, build, now, _ in
            var build = build
            build.leaseExpiresAt = Millis.date(now + lease)
            try Self.store(build, in: db)
            return build
        }.get()
    }

    public func releaseBuild(buildID: BuildID, workerID: String) async throws -> Build {
        let outcome = try await holdingLease(buildID: buildID, workerID: workerID) { db, build, now, events in
            var build = build
            build.status = .queued
            build.startedAt = nil
            build.notBefore = Millis.date(now)
            build.leaseOwner = nil
            build.leaseExpiresAt = nil
            try Self.store(build, in: db)
            events.publish(.buildChanged(build))
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
        return try await holdingLease(buildID: buildID, workerID: workerID) { db, build, _, events in
            var build = build
            build.commitSHA = sha
            build.commitMessage = message
            try Self.store(build, in: db)
            events.publish(.buildChanged(build))
            return build
        }.get()
    }

    public func finishBuild(buildID: BuildID, workerID: String, result: BuildResult, activate: Bool) async throws
        -> (build: Build, activation: ActivationOutcome?)
    {
        try Self.validate(result)
        let settings = queueSettings
        return try await holdingLease(buildID: buildID, workerID: workerID) { db, build, now, events in
            var build = build
            Self.apply(result, to: &build, now: now, settings: settings)
            try Self.store(build, in: db)
            try Self.enqueueNotification(for: build, in: db, now: now)
            events.publish(.buildChanged(build))
            guard activate, build.status == .success else { return (build, nil) }
            // The success and its activation commit together: a worker that
            // dies now leaves either both or neither.
            let site = try self.fetchSite(db, id: build.siteID)
            let outcome = try Self.activate(build, of: site, allowOlder: false, in: db, now: now, events: &events)
            return (build, outcome)
        }.get()
    }

    public func sweepExpiredLeases() async throws -> SweepReport {
        let settings = queueSettings
        return try await write { db, now, events in
            var requeued: [Build] = []
            var failed: [Build] = []
            var released: [Build] = []
            let expired = try Self.fetchBuilds(
                db,
                sql: """
                    SELECT * FROM build WHERE lease_owner IS NOT NULL AND lease_expires_at <= ?
                    ORDER BY lease_expires_at, rowid
                    """,
                arguments: [now]
            )
            for var build in expired {
                switch Self.expireLease(of: &build, now: now, settings: settings) {
                case .requeued: requeued.append(build)
                case .failed: failed.append(build)
                case .releasedCanceled: released.append(build)
                }
                try Self.store(build, in: db)
                // Only a build this sweep ended: a canceled one was notified of when it was canceled.
                if build.status == .failed { try Self.enqueueNotification(for: build, in: db, now: now) }
            }
            for build in requeued + failed { events.publish(.buildChanged(build)) }
            let activated = try Self.activateStrandedFirstBuilds(db, now: now, events: &events)
            return SweepReport(requeued: requeued, failed: failed, releasedCanceled: released, activated: activated)
        }
    }

    /// A worker that stops between recording a site's first successful build
    /// and activating it leaves a site with a servable build and nothing
    /// live. Such a site is switched to its newest successful build here. (A
    /// site that already serves a build is left alone: an older build being
    /// live may be a deliberate rollback.)
    static func activateStrandedFirstBuilds(_ db: Database, now: Int64, events: inout EventSink) throws -> [Build] {
        let stranded = try fetchBuilds(
            db,
            sql: """
                SELECT b.* FROM build AS b JOIN site AS s ON s.id = b.site_id
                WHERE s.active_build_id IS NULL AND b.status = 'success'
                  AND b.number = (SELECT MAX(number) FROM build WHERE site_id = b.site_id AND status = 'success')
                """
        )
        for build in stranded {
            try db.execute(
                sql: "UPDATE site SET active_build_id = ? WHERE id = ?",
                arguments: [build.id.rawValue, build.siteID.rawValue]
            )
            try releaseNotification(of: build.id, in: db, now: now)
            events.publish(
                .activated(
                    Activation(siteID: build.siteID, buildID: build.id, buildNumber: build.number, previousBuildID: nil)
                )
            )
        }
        return stranded
    }

    // MARK: Leases

    /// Runs `body` when `workerID` holds the lease of a building build. A
    /// canceled build is released instead (the worker's acknowledgement is
    /// committed) and reported as `.canceled`; anything else throws.
    func holdingLease<T: Sendable>(
        buildID: BuildID,
        workerID: String,
        _ body: @escaping @Sendable (Database, Build, Int64, inout EventSink) throws -> T
    ) async throws -> CatalogLeaseOutcome<T> {
        try BuildFields.workerID(workerID)
        return try await write { db, now, events in
            var build = try Self.fetchBuild(db, id: buildID)
            switch build.status {
            case .canceled:
                if build.leaseOwner == workerID {
                    build.leaseOwner = nil
                    build.leaseExpiresAt = nil
                    try Self.store(build, in: db)
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
                return .held(try body(db, build, now, &events))
            }
        }
    }

    /// Checks a worker's result before any transaction starts.
    package static func validate(_ result: BuildResult) throws(CatalogError) {
        if case .success(let fileCount, let bytes) = result, fileCount < 0 || bytes < 0 {
            throw .invalidInput("a successful build needs a file count and a byte count of 0 or more")
        }
    }

    /// Ends the attempt of `build`, whose lease the worker held, with
    /// `result`: a success or a final failure ends the build, a retryable
    /// failure with attempts left queues it again after the backoff. Shared
    /// with `PostgresCatalog` (Sources/Postgres), so both catalogs write the
    /// same values and messages.
    package static func apply(_ result: BuildResult, to build: inout Build, now: Int64, settings: QueueSettings) {
        build.leaseOwner = nil
        build.leaseExpiresAt = nil
        switch result {
        case .success(let fileCount, let bytes):
            build.status = .success
            build.finishedAt = Millis.date(now)
            build.error = nil
            build.fileCount = fileCount
            build.bytes = bytes
        case .failure(let message, let retryable):
            let message = BuildFields.errorMessage(message)
            if retryable && build.attempt < settings.maxAttempts {
                let delay = settings.backoff(afterAttempt: build.attempt)
                build.error = BuildFields.bounded(
                    "attempt \(build.attempt) of \(settings.maxAttempts) failed: \(message); retrying after \(delay)",
                    maxCharacters: BuildFields.maxErrorLength
                )
                requeue(&build, now: now, delay: delay)
            } else {
                build.status = .failed
                build.finishedAt = Millis.date(now)
                build.error =
                    retryable
                    ? BuildFields.bounded(
                        "\(message) (gave up after \(build.attempt) attempts)",
                        maxCharacters: BuildFields.maxErrorLength
                    )
                    : message
            }
        }
    }

    /// What the sweep did with a build whose lease expired.
    package enum LeaseExpiry: Sendable {
        /// Queued again with one more attempt, after the backoff.
        case requeued
        /// Failed: it had used every attempt.
        case failed
        /// A canceled build whose worker never acknowledged: its site is free again.
        case releasedCanceled
    }

    /// Takes back the expired lease of `build` (building or canceled), with
    /// the reason recorded in `error`. Shared with `PostgresCatalog`.
    package static func expireLease(of build: inout Build, now: Int64, settings: QueueSettings) -> LeaseExpiry {
        let owner = build.leaseOwner ?? "?"
        let expiry = build.leaseExpiresAt.map { $0.formatted(.iso8601) } ?? "?"
        build.leaseOwner = nil
        build.leaseExpiresAt = nil
        switch build.status {
        case .building where build.attempt < settings.maxAttempts:
            let delay = settings.backoff(afterAttempt: build.attempt)
            build.error =
                "attempt \(build.attempt) of \(settings.maxAttempts) stopped: the lease of worker '\(owner)' expired at \(expiry); retrying after \(delay)"
            requeue(&build, now: now, delay: delay)
            return .requeued
        case .building:
            build.status = .failed
            build.finishedAt = Millis.date(now)
            build.error =
                "gave up after \(build.attempt) attempts: the lease of the last worker, '\(owner)', expired at \(expiry) before the build finished (the worker crashed, was stopped or lost the database); check that worker's log"
            return .failed
        default:
            return .releasedCanceled
        }
    }

    /// Puts `build` back in the queue with one more attempt, not claimable before `now + delay`.
    package static func requeue(_ build: inout Build, now: Int64, delay: Duration) {
        build.status = .queued
        build.attempt += 1
        build.startedAt = nil
        build.finishedAt = nil
        build.notBefore = Millis.date(now + Millis.from(delay))
        build.leaseOwner = nil
        build.leaseExpiresAt = nil
    }

    package static func leaseMilliseconds(_ duration: Duration) throws -> Int64 {
        let milliseconds = Millis.from(duration)
        guard milliseconds >= 1 else {
            throw CatalogError.invalidInput("a lease must last at least 1 ms; give a positive duration")
        }
        return milliseconds
    }
}
