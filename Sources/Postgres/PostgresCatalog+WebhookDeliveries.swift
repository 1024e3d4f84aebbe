public import Model
import PostgresNIO
import Storage

/// The webhook deliveries already acted on (see ``Catalog/recordWebhookDelivery(id:siteID:window:)``).
extension PostgresCatalog {
    public func recordWebhookDelivery(id: String, siteID: SiteID, window: Duration) async throws -> Bool {
        if let problem = WebhookDeliveries.problem(with: id) { throw CatalogError.invalidInput(problem) }
        guard window >= .milliseconds(1), window <= WebhookDeliveries.maxWindow else {
            throw CatalogError.invalidInput("the replay window must be between 1 ms and 365 days")
        }
        let windowMilliseconds = Millis.from(window)
        return try await write { tx in
            // The share lock keeps the site from being deleted until this commits.
            let site = try await tx.rows("SELECT id FROM site WHERE id = \(siteID.rawValue) FOR KEY SHARE")
            guard !site.isEmpty else { throw CatalogError.siteNotFound(id: siteID) }
            // Pruning first also makes an id recorded `window` or longer ago new again.
            try await tx.rows("DELETE FROM webhook_delivery WHERE received_at <= \(tx.now - windowMilliseconds)")
            // The primary key: of two writers recording one id, on any
            // handle, one inserts and the other waits for it, then changes nothing.
            let inserted = try await tx.rows(
                """
                INSERT INTO webhook_delivery (site_id, delivery_id, received_at)
                VALUES (\(siteID.rawValue), \(id), \(tx.now))
                ON CONFLICT (site_id, delivery_id) DO NOTHING
                RETURNING delivery_id
                """)
            return inserted.count == 1
        }
    }

    public func forgetWebhookDelivery(id: String, siteID: SiteID) async throws {
        if let problem = WebhookDeliveries.problem(with: id) { throw CatalogError.invalidInput(problem) }
        try await write { tx in
            _ = try await tx.rows(
                "DELETE FROM webhook_delivery WHERE site_id = \(siteID.rawValue) AND delivery_id = \(id)")
        }
    }
}
