public import Foundation
import GRDB
public import Model

/// The outbox of build notifications (see ``NotificationDelivery``).
extension SQLiteCatalog {
    public func claimNotification(owner: String, leaseDuration: Duration) async throws -> ClaimedNotification? {
        try BuildFields.workerID(owner)
        let lease = try Self.leaseMilliseconds(leaseDuration)
        return try await write { db, now, _ in
            // One IMMEDIATE transaction: no other sender, in this process or
            // another, can claim the same row between the SELECT and the UPDATE.
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT * FROM notification
                        WHERE state = 'pending' AND next_attempt_at <= :now
                          AND (lease_expires_at IS NULL OR lease_expires_at <= :now)
                        ORDER BY next_attempt_at, rowid
                        LIMIT 1
                        """,
                    arguments: ["now": now])
            else { return nil }
            var delivery = try self.notification(from: row)
            if let previous = delivery.leaseOwner {
                delivery.lastError =
                    "attempt \(delivery.attempts) by sender '\(previous)' was cut short: its lease expired before it recorded a result (the process stopped)"
            }
            delivery.attempts += 1
            delivery.leaseOwner = owner
            delivery.leaseExpiresAt = Millis.date(now + lease)
            delivery.lastAttemptAt = Millis.date(now)
            try Self.store(delivery, in: db)
            return ClaimedNotification(delivery: delivery, site: try self.fetchSite(db, id: delivery.siteID))
        }
    }

    public func completeNotification(id: String, owner: String, result: NotificationAttemptResult) async throws
        -> NotificationDelivery
    {
        try CatalogRules.check(result)
        return try await write { db, now, _ in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM notification WHERE id = ?", arguments: [id]) else {
                throw CatalogError.notificationNotFound(id)
            }
            var delivery = try self.notification(from: row)
            // Like a build's, a lease stays its sender's until another claims
            // the notification, even past its expiry.
            guard delivery.state == .pending, delivery.leaseOwner == owner else {
                throw CatalogError.notificationLeaseLost(delivery, owner: owner)
            }
            CatalogRules.complete(&delivery, with: result, now: now)
            try Self.store(delivery, in: db)
            return delivery
        }
    }

    public func notifications(buildID: BuildID) async throws -> [NotificationDelivery] {
        try await read { db, _ in
            try Row.fetchAll(
                db, sql: "SELECT * FROM notification WHERE build_id = ? ORDER BY created_at, rowid",
                arguments: [buildID.rawValue]
            ).map(self.notification(from:))
        }
    }

    public func nextNotificationDue() async throws -> Date? {
        try await read { db, _ in
            // A leased one falls due again when its lease lapses.
            try Int64.fetchOne(
                db,
                sql: """
                    SELECT MIN(MAX(next_attempt_at, COALESCE(lease_expires_at, 0))) FROM notification
                    WHERE state = 'pending'
                    """
            ).map(Millis.date)
        }
    }

    public func pruneNotifications(deliveredBefore: Date, gaveUpBefore: Date) async throws -> Int {
        try await write { db, _, _ in
            try db.execute(
                sql: """
                    DELETE FROM notification
                    WHERE (state = 'delivered' AND finished_at < ?) OR (state = 'gave_up' AND finished_at < ?)
                    """,
                arguments: [Millis.from(deliveredBefore), Millis.from(gaveUpBefore)])
            return db.changesCount
        }
    }

    // MARK: Inside the transactions that end builds

    /// Writes the `build.finished` notification of `build`, which has just
    /// ended, when its site has a notify URL. A success waits for its
    /// activation (``releaseNotification(of:in:now:)``), at most
    /// ``NotificationDelivery/activationWait``.
    static func enqueueNotification(for build: Build, in db: Database, now: Int64) throws {
        guard build.status.isFinal else { return }
        let due = build.status == .success ? now + Millis.from(NotificationDelivery.activationWait) : now
        try db.execute(
            sql: """
                INSERT INTO notification (id, site_id, build_id, event, url, build, created_at, next_attempt_at)
                SELECT ?, id, ?, ?, notify_url, ?, ?, ? FROM site WHERE id = ? AND notify_url IS NOT NULL
                ON CONFLICT (build_id, event) DO NOTHING
                """,
            arguments: [
                OpaqueIdentifier.generate(at: Millis.date(now)), build.id.rawValue, NotificationDelivery.buildFinished,
                try snapshot(build), now, due, build.siteID.rawValue,
            ])
    }

    /// Makes a successful build's notification due now if it still waits
    /// for the activation, whatever the activation decided.
    static func releaseNotification(of buildID: BuildID, in db: Database, now: Int64) throws {
        try db.execute(
            sql: """
                UPDATE notification SET next_attempt_at = ?
                WHERE build_id = ? AND state = 'pending' AND attempts = 0 AND next_attempt_at > ?
                """,
            arguments: [now, buildID.rawValue, now])
    }
}
