public import Foundation
public import Model
import PostgresNIO
import Storage

/// The outbox of build notifications (see ``NotificationDelivery``).
extension PostgresCatalog {
    public func claimNotification(owner: String, leaseDuration: Duration) async throws -> ClaimedNotification? {
        try BuildFields.workerID(owner)
        let lease = try SQLiteCatalog.leaseMilliseconds(leaseDuration)
        return try await write { tx in
            // A row another sender is claiming is skipped, and one that
            // changed since the statement began is re-checked: each due
            // notification goes to one sender.
            guard
                let row = try await tx.rows(
                    """
                    SELECT * FROM notification
                    WHERE state = 'pending' AND next_attempt_at <= \(tx.now)
                      AND (lease_expires_at IS NULL OR lease_expires_at <= \(tx.now))
                    ORDER BY next_attempt_at, seq
                    LIMIT 1
                    FOR UPDATE SKIP LOCKED
                    """
                ).first
            else { return nil }
            var delivery = try Self.notification(from: row, sealed: sealed)
            if let previous = delivery.leaseOwner {
                delivery.lastError =
                    "attempt \(delivery.attempts) by sender '\(previous)' was cut short: its lease expired before it recorded a result (the process stopped)"
            }
            delivery.attempts += 1
            delivery.leaseOwner = owner
            delivery.leaseExpiresAt = Millis.date(tx.now + lease)
            delivery.lastAttemptAt = Millis.date(tx.now)
            try await tx.store(delivery)
            return ClaimedNotification(delivery: delivery, site: try await tx.site(id: delivery.siteID))
        }
    }

    public func completeNotification(id: String, owner: String, result: NotificationAttemptResult) async throws
        -> NotificationDelivery
    {
        try CatalogRules.check(result)
        return try await write { tx in
            guard let row = try await tx.rows("SELECT * FROM notification WHERE id = \(id) FOR UPDATE").first else {
                throw CatalogError.notificationNotFound(id)
            }
            var delivery = try Self.notification(from: row, sealed: sealed)
            // Like a build's, a lease stays its sender's until another claims
            // the notification, even past its expiry.
            guard delivery.state == .pending, delivery.leaseOwner == owner else {
                throw CatalogError.notificationLeaseLost(delivery, owner: owner)
            }
            CatalogRules.complete(&delivery, with: result, now: tx.now)
            try await tx.store(delivery)
            return delivery
        }
    }

    public func notifications(buildID: BuildID) async throws -> [NotificationDelivery] {
        try await read { tx in
            try await tx.rows(
                "SELECT * FROM notification WHERE build_id = \(buildID.rawValue) ORDER BY created_at, seq"
            ).map { try Self.notification(from: $0, sealed: self.sealed) }
        }
    }

    public func nextNotificationDue() async throws -> Date? {
        try await read { tx in
            // A leased one falls due again when its lease lapses.
            try await tx.rows(
                """
                SELECT min(greatest(next_attempt_at, coalesce(lease_expires_at, 0))) FROM notification
                WHERE state = 'pending'
                """
            ).first?[0].decode(Int64?.self).map(Millis.date)
        }
    }

    public func pruneNotifications(deliveredBefore: Date, gaveUpBefore: Date) async throws -> Int {
        let delivered = Millis.from(deliveredBefore)
        let gaveUp = Millis.from(gaveUpBefore)
        return try await write { tx in
            try await tx.rows(
                """
                WITH pruned AS (
                    DELETE FROM notification
                    WHERE (state = 'delivered' AND finished_at < \(delivered))
                       OR (state = 'gave_up' AND finished_at < \(gaveUp))
                    RETURNING 1
                )
                SELECT count(*) FROM pruned
                """
            ).first?[0].decode(Int.self) ?? 0
        }
    }
}

// MARK: Inside the transactions that end builds

extension PostgresCatalog.Transaction {
    /// Writes the `build.finished` notification of `build`, which has just
    /// ended, when its site has a notify URL. A success waits for its
    /// activation (``releaseNotification(of:)``), at most
    /// ``NotificationDelivery/activationWait``.
    func enqueueNotification(for build: Build) async throws {
        guard build.status.isFinal else { return }
        let due = build.status == .success ? now + Millis.from(NotificationDelivery.activationWait) : now
        let id = OpaqueIdentifier.generate(at: Millis.date(now))
        let snapshot = try SQLiteCatalog.snapshot(build)
        try await rows(
            """
            INSERT INTO notification (id, site_id, build_id, event, url, build, created_at, next_attempt_at)
            SELECT \(id), id, \(build.id.rawValue), \(NotificationDelivery.buildFinished), notify_url, \(snapshot),
                \(now), \(due)
            FROM site WHERE id = \(build.siteID.rawValue) AND notify_url IS NOT NULL
            ON CONFLICT (build_id, event) DO NOTHING
            """)
    }

    /// Makes a successful build's notification due now if it still waits
    /// for the activation, whatever the activation decided.
    func releaseNotification(of buildID: BuildID) async throws {
        try await rows(
            """
            UPDATE notification SET next_attempt_at = \(now)
            WHERE build_id = \(buildID.rawValue) AND state = 'pending' AND attempts = 0 AND next_attempt_at > \(now)
            """)
    }
}
