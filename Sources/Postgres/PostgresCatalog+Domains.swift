public import Foundation
public import Model
import PostgresNIO
public import Storage

/// Custom domains and fleet leases (see ``Catalog/addDomains(siteID:_:limit:)``
/// and what follows it).
extension PostgresCatalog {
    public func addDomains(siteID: SiteID, _ drafts: [CustomDomainDraft], limit: Int) async throws -> [CustomDomain] {
        try CustomDomains.check(drafts, limit: limit)
        return try await write { tx in
            // The site's row lock serialises adds to one site, so two at once
            // cannot both pass the limit.
            guard try await tx.rows("SELECT id FROM site WHERE id = \(siteID.rawValue) FOR UPDATE").first != nil else {
                throw CatalogError.siteNotFound(id: siteID)
            }
            let count =
                try await tx.rows("SELECT count(*) FROM custom_domain WHERE site_id = \(siteID.rawValue)").first?[0]
                .decode(Int64.self) ?? 0
            guard Int(count) + drafts.count <= limit else { throw CatalogError.domainLimit(limit) }
            var added: [CustomDomain] = []
            for draft in drafts {
                let row = DomainRow.new(draft, siteID: siteID, now: tx.now)
                let inserted = try await tx.rows(
                    """
                    INSERT INTO custom_domain (hostname, site_id, apex, paired_with, redirect_to, verify_token,
                        status, cert_status, check_attempts, next_check_at, https_redirect, hsts_max_age,
                        created_at, updated_at)
                    VALUES (\(row.hostname), \(row.siteID), \(row.apex), \(row.pairedWith), \(row.redirectTo),
                        \(row.verifyToken), \(row.status), \(row.certStatus), \(row.checkAttempts), \(row.nextCheckAt),
                        \(row.httpsRedirect), \(row.hstsMaxAge), \(row.createdAt), \(row.updatedAt))
                    ON CONFLICT (hostname) DO NOTHING
                    RETURNING *
                    """)
                guard let stored = inserted.first else { throw CatalogError.domainTaken(draft.hostname) }
                added.append(try Self.domain(from: stored))
            }
            for domain in added { try await tx.publish(.domainChanged(domain)) }
            return added
        }
    }

    public func domains(siteID: SiteID) async throws -> [CustomDomain] {
        try await read { tx in
            try await tx.rows("SELECT * FROM custom_domain WHERE site_id = \(siteID.rawValue) ORDER BY hostname").map(
                Self.domain(from:))
        }
    }

    public func domain(hostname: String) async throws -> CustomDomain? {
        try await read { tx in
            try await tx.rows("SELECT * FROM custom_domain WHERE hostname = \(hostname)").first.map(Self.domain(from:))
        }
    }

    public func allDomains() async throws -> [CustomDomain] {
        try await read { tx in
            try await tx.rows("SELECT * FROM custom_domain ORDER BY hostname").map(Self.domain(from:))
        }
    }

    public func removeDomain(siteID: SiteID, hostname: String) async throws -> [CustomDomain] {
        try await write { tx in
            guard
                let row = try await tx.rows(
                    "SELECT * FROM custom_domain WHERE hostname = \(hostname) AND site_id = \(siteID.rawValue) FOR UPDATE"
                ).first
            else { throw CatalogError.domainNotFound(hostname) }
            let domain = try Self.domain(from: row)
            var names = [domain.hostname]
            if let pair = domain.pairedWith { names.append(pair) }
            let removed = try await tx.rows(
                """
                DELETE FROM custom_domain WHERE site_id = \(siteID.rawValue) AND hostname = ANY(\(names))
                RETURNING *
                """
            ).map(Self.domain(from:)).sorted { ($0.hostname == hostname ? 0 : 1) < ($1.hostname == hostname ? 0 : 1) }
            for gone in removed { try await tx.publish(.domainRemoved(gone)) }
            return removed
        }
    }

    @discardableResult
    public func updateDomain(
        hostname: String, _ change: @escaping @Sendable (inout CustomDomain) throws -> Void
    ) async throws -> CustomDomain {
        try await write { tx in
            guard
                let current = try await tx.rows("SELECT * FROM custom_domain WHERE hostname = \(hostname) FOR UPDATE")
                    .first
            else { throw CatalogError.domainNotFound(hostname) }
            let original = try Self.domain(from: current)
            var domain = original
            try change(&domain)
            try CustomDomains.check(changed: domain, original: original)
            guard domain != original else { return original }
            domain.updatedAt = Millis.date(tx.now)
            let row = DomainRow(domain)
            let updated = try await tx.rows(
                """
                UPDATE custom_domain SET apex = \(row.apex), paired_with = \(row.pairedWith),
                    redirect_to = \(row.redirectTo), status = \(row.status), cert_status = \(row.certStatus),
                    error_code = \(row.errorCode), error_detail = \(row.errorDetail), error_at = \(row.errorAt),
                    check_attempts = \(row.checkAttempts), next_check_at = \(row.nextCheckAt),
                    verified_at = \(row.verifiedAt), cert_chain_key = \(row.certChainKey),
                    cert_key_key = \(row.certKeyKey), cert_sha256 = \(row.certSHA256),
                    cert_not_before = \(row.certNotBefore), cert_not_after = \(row.certNotAfter),
                    cert_renew_at = \(row.certRenewAt), cert_source = \(row.certSource),
                    https_redirect = \(row.httpsRedirect), hsts_max_age = \(row.hstsMaxAge),
                    updated_at = \(row.updatedAt)
                WHERE hostname = \(hostname)
                RETURNING *
                """)
            guard let stored = try updated.first.map(Self.domain(from:)) else {
                throw CatalogError.domainNotFound(hostname)
            }
            try await tx.publish(.domainChanged(stored))
            return stored
        }
    }

    public func domainsDue(at now: Date, limit: Int) async throws -> [CustomDomain] {
        try await read { tx in
            try await tx.rows(
                """
                SELECT * FROM custom_domain WHERE next_check_at IS NOT NULL AND next_check_at <= \(Millis.from(now))
                ORDER BY next_check_at, hostname LIMIT \(max(1, limit))
                """
            ).map(Self.domain(from:))
        }
    }

    public func acquireLease(_ name: String, owner: String, duration: Duration) async throws -> Bool {
        try CustomDomains.check(leaseName: name, owner: owner, duration: duration)
        let length = Millis.from(duration)
        return try await write { tx in
            // A second taker waits for the first one's row lock, then
            // re-checks the WHERE clause against what the first one wrote.
            let taken = try await tx.rows(
                """
                INSERT INTO fleet_lease (name, owner, expires_at) VALUES (\(name), \(owner), \(tx.now + length))
                ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                WHERE fleet_lease.owner = excluded.owner OR fleet_lease.expires_at <= \(tx.now)
                RETURNING name
                """)
            return taken.count == 1
        }
    }

    public func releaseLease(_ name: String, owner: String) async throws {
        try await write { tx in
            _ = try await tx.rows("DELETE FROM fleet_lease WHERE name = \(name) AND owner = \(owner)")
        }
    }

    public func lease(_ name: String) async throws -> FleetLease? {
        try await read(needsTime: true) { tx in
            try await tx.rows("SELECT * FROM fleet_lease WHERE name = \(name) AND expires_at > \(tx.now)").first.map {
                row in
                FleetLease(
                    name: try row["name"].decode(String.self), owner: try row["owner"].decode(String.self),
                    expiresAt: Millis.date(try row["expires_at"].decode(Int64.self)))
            }
        }
    }

    static func domain(from row: PostgresRandomAccessRow) throws -> CustomDomain {
        try DomainRow(
            hostname: row["hostname"].decode(String.self), siteID: row["site_id"].decode(String.self),
            apex: row["apex"].decode(Bool.self), pairedWith: row["paired_with"].decode(String?.self),
            redirectTo: row["redirect_to"].decode(String?.self), verifyToken: row["verify_token"].decode(String.self),
            status: row["status"].decode(String.self), certStatus: row["cert_status"].decode(String.self),
            errorCode: row["error_code"].decode(String?.self), errorDetail: row["error_detail"].decode(String?.self),
            errorAt: row["error_at"].decode(Int64?.self), checkAttempts: Int(row["check_attempts"].decode(Int32.self)),
            nextCheckAt: row["next_check_at"].decode(Int64?.self), verifiedAt: row["verified_at"].decode(Int64?.self),
            certChainKey: row["cert_chain_key"].decode(String?.self),
            certKeyKey: row["cert_key_key"].decode(String?.self), certSHA256: row["cert_sha256"].decode(String?.self),
            certNotBefore: row["cert_not_before"].decode(Int64?.self),
            certNotAfter: row["cert_not_after"].decode(Int64?.self),
            certRenewAt: row["cert_renew_at"].decode(Int64?.self), certSource: row["cert_source"].decode(String?.self),
            httpsRedirect: row["https_redirect"].decode(Bool.self),
            hstsMaxAge: row["hsts_max_age"].decode(Int32?.self).map(Int.init),
            createdAt: row["created_at"].decode(Int64.self), updatedAt: row["updated_at"].decode(Int64.self)
        ).domain()
    }
}
