import GRDB
public import Model

/// The webhook deliveries already acted on (see ``Catalog/recordWebhookDelivery(id:siteID:window:)``).
extension SQLiteCatalog {
    public func recordWebhookDelivery(id: String, siteID: SiteID, window: Duration) async throws -> Bool {
        if let problem = WebhookDeliveries.problem(with: id) { throw CatalogError.invalidInput(problem) }
        guard window >= .milliseconds(1), window <= WebhookDeliveries.maxWindow else {
            throw CatalogError.invalidInput("the replay window must be between 1 ms and 365 days")
        }
        let windowMilliseconds = Millis.from(window)
        return try await write { db, now, _ in
            _ = try self.fetchSite(db, id: siteID)
            // Pruning first also makes an id recorded `window` or longer ago new again.
            try db.execute(
                sql: "DELETE FROM webhook_delivery WHERE received_at <= ?", arguments: [now - windowMilliseconds])
            // One IMMEDIATE transaction and the primary key: of two writers
            // recording one id, in this process or another, one inserts and
            // the other changes nothing.
            try db.execute(
                sql: """
                    INSERT INTO webhook_delivery (site_id, delivery_id, received_at) VALUES (?, ?, ?)
                    ON CONFLICT (site_id, delivery_id) DO NOTHING
                    """,
                arguments: [siteID.rawValue, id, now])
            return db.changesCount == 1
        }
    }

    public func forgetWebhookDelivery(id: String, siteID: SiteID) async throws {
        if let problem = WebhookDeliveries.problem(with: id) { throw CatalogError.invalidInput(problem) }
        try await write { db, _, _ in
            try db.execute(
                sql: "DELETE FROM webhook_delivery WHERE site_id = ? AND delivery_id = ?",
                arguments: [siteID.rawValue, id])
        }
    }
}
