public import Foundation
import GRDB
public import Model

/// Custom domains and fleet leases (see ``Catalog/addDomains(siteID:_:limit:)``
/// and what follows it).
extension SQLiteCatalog {
    public func addDomains(siteID: SiteID, _ drafts: [CustomDomainDraft], limit: Int) async throws -> [CustomDomain] {
        try CustomDomains.check(drafts, limit: limit)
        return try await write { db, now, events in
            _ = try self.fetchSite(db, id: siteID)
            let count =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM custom_domain WHERE site_id = ?", arguments: [siteID.rawValue]) ?? 0
            guard count + drafts.count <= limit else { throw CatalogError.domainLimit(limit) }
            var added: [CustomDomain] = []
            for draft in drafts {
                let row = DomainRow.new(draft, siteID: siteID, now: now)
                do {
                    try Self.insert(db, row)
                } catch let error as DatabaseError
                    where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
                    || error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
                {
                    throw CatalogError.domainTaken(draft.hostname)
                }
                added.append(try row.domain())
            }
            for domain in added { events.publish(.domainChanged(domain)) }
            return added
        }
    }

    public func domains(siteID: SiteID) async throws -> [CustomDomain] {
        try await read { db, _ in
            try Self.fetchDomains(
                db, sql: "SELECT * FROM custom_domain WHERE site_id = ? ORDER BY hostname", arguments: [siteID.rawValue]
            )
        }
    }

    public func domain(hostname: String) async throws -> CustomDomain? {
        try await read { db, _ in
            try Self.fetchDomains(db, sql: "SELECT * FROM custom_domain WHERE hostname = ?", arguments: [hostname])
                .first
        }
    }

    public func allDomains() async throws -> [CustomDomain] {
        try await read { db, _ in
            try Self.fetchDomains(db, sql: "SELECT * FROM custom_domain ORDER BY hostname", arguments: [])
        }
    }

    public func removeDomain(siteID: SiteID, hostname: String) async throws -> [CustomDomain] {
        try await write { db, _, events in
            guard
                let domain = try Self.fetchDomains(
                    db, sql: "SELECT * FROM custom_domain WHERE hostname = ? AND site_id = ?",
                    arguments: [hostname, siteID.rawValue]
                ).first
            else { throw CatalogError.domainNotFound(hostname) }
            var removed = [domain]
            if let pair = domain.pairedWith,
                let other = try Self.fetchDomains(
                    db, sql: "SELECT * FROM custom_domain WHERE hostname = ? AND site_id = ?",
                    arguments: [pair, siteID.rawValue]
                ).first
            {
                removed.append(other)
            }
            for gone in removed {
                try db.execute(sql: "DELETE FROM custom_domain WHERE hostname = ?", arguments: [gone.hostname])
                events.publish(.domainRemoved(gone))
            }
            return removed
        }
    }

    @discardableResult
    public func updateDomain(
        hostname: String, _ change: @escaping @Sendable (inout CustomDomain) throws -> Void
    ) async throws -> CustomDomain {
        try await write { db, now, events in
            guard
                let original = try Self.fetchDomains(
                    db, sql: "SELECT * FROM custom_domain WHERE hostname = ?", arguments: [hostname]
                ).first
            else { throw CatalogError.domainNotFound(hostname) }
            var domain = original
            try change(&domain)
            try CustomDomains.check(changed: domain, original: original)
            guard domain != original else { return original }
            domain.updatedAt = Millis.date(now)
            let row = DomainRow(domain)
            let assignments = DomainRow.columns.dropFirst().map { "\($0) = ?" }.joined(separator: ", ")
            try db.execute(
                sql: "UPDATE custom_domain SET \(assignments) WHERE hostname = ?",
                arguments: StatementArguments(Self.databaseValues(Array(row.values.dropFirst())) + [hostname]))
            let stored = try row.domain()
            events.publish(.domainChanged(stored))
            return stored
        }
    }

    public func domainsDue(at now: Date, limit: Int) async throws -> [CustomDomain] {
        try await read { db, _ in
            try Self.fetchDomains(
                db,
                sql: """
                    SELECT * FROM custom_domain WHERE next_check_at IS NOT NULL AND next_check_at <= ?
                    ORDER BY next_check_at, hostname LIMIT ?
                    """,
                arguments: [Millis.from(now), max(1, limit)])
        }
    }

    public func acquireLease(_ name: String, owner: String, duration: Duration) async throws -> Bool {
        try CustomDomains.check(leaseName: name, owner: owner, duration: duration)
        let length = Millis.from(duration)
        return try await write { db, now, _ in
            // One IMMEDIATE transaction: the row is read and written under the write lock.
            try db.execute(
                sql: """
                    INSERT INTO fleet_lease (name, owner, expires_at) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                    WHERE fleet_lease.owner = excluded.owner OR fleet_lease.expires_at <= ?
                    """,
                arguments: [name, owner, now + length, now])
            return db.changesCount == 1
        }
    }

    public func releaseLease(_ name: String, owner: String) async throws {
        try await write { db, _, _ in
            try db.execute(sql: "DELETE FROM fleet_lease WHERE name = ? AND owner = ?", arguments: [name, owner])
        }
    }

    public func lease(_ name: String) async throws -> FleetLease? {
        try await read { db, now in
            try Row.fetchOne(
                db, sql: "SELECT * FROM fleet_lease WHERE name = ? AND expires_at > ?", arguments: [name, now]
            ).map { row in
                FleetLease(
                    name: try row.decode(forColumn: "name"), owner: try row.decode(forColumn: "owner"),
                    expiresAt: Millis.date(try row.decode(forColumn: "expires_at")))
            }
        }
    }

    private static func insert(_ db: Database, _ row: DomainRow) throws {
        let names = DomainRow.columns.joined(separator: ", ")
        let marks = DomainRow.columns.map { _ in "?" }.joined(separator: ", ")
        try db.execute(
            sql: "INSERT INTO custom_domain (\(names)) VALUES (\(marks))",
            arguments: StatementArguments(databaseValues(row.values)))
    }

    private static func databaseValues(_ values: [(any Sendable)?]) -> [(any DatabaseValueConvertible)?] {
        values.map { value in
            switch value {
            case let text as String: text
            case let flag as Bool: flag
            case let number as Int: number
            case let number as Int64: number
            default: nil
            }
        }
    }

    static func fetchDomains(_ db: Database, sql: String, arguments: StatementArguments) throws -> [CustomDomain] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            try DomainRow(
                hostname: row.decode(forColumn: "hostname"), siteID: row.decode(forColumn: "site_id"),
                apex: row.decode(forColumn: "apex"), pairedWith: row.decode(forColumn: "paired_with"),
                redirectTo: row.decode(forColumn: "redirect_to"), verifyToken: row.decode(forColumn: "verify_token"),
                status: row.decode(forColumn: "status"), certStatus: row.decode(forColumn: "cert_status"),
                errorCode: row.decode(forColumn: "error_code"), errorDetail: row.decode(forColumn: "error_detail"),
                errorAt: row.decode(forColumn: "error_at"), checkAttempts: row.decode(forColumn: "check_attempts"),
                nextCheckAt: row.decode(forColumn: "next_check_at"), verifiedAt: row.decode(forColumn: "verified_at"),
                certChainKey: row.decode(forColumn: "cert_chain_key"),
                certKeyKey: row.decode(forColumn: "cert_key_key"),
                certSHA256: row.decode(forColumn: "cert_sha256"),
                certNotBefore: row.decode(forColumn: "cert_not_before"),
                certNotAfter: row.decode(forColumn: "cert_not_after"),
                certRenewAt: row.decode(forColumn: "cert_renew_at"), certSource: row.decode(forColumn: "cert_source"),
                httpsRedirect: row.decode(forColumn: "https_redirect"),
                hstsMaxAge: row.decode(forColumn: "hsts_max_age"),
                createdAt: row.decode(forColumn: "created_at"), updatedAt: row.decode(forColumn: "updated_at")
            ).domain()
        }
    }
}
