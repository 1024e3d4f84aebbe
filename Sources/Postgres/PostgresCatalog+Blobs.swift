public import Foundation
public import Model
import PostgresNIO
public import Storage

/// Content blobs, as ``SQLiteCatalog``'s: tables `blob` and `site_blob`.
///
/// Races between a writer and the collector are settled by row locks on
/// `blob`: ``reserveBlobs(_:)`` and ``recordBlobs(siteID:digests:)`` update
/// the blob rows they need (waiting for a collector's claim to commit, then
/// seeing `collecting`), and a claim waits for them and then finds the row
/// used too recently.
extension PostgresCatalog {
    public func missingBlobs(siteID: SiteID, digests: [String]) async throws -> Set<String> {
        try BlobRules.check(digests)
        let unique = Array(Set(digests))
        return try await write { tx in
            let present = try await tx.rows(
                """
                UPDATE site_blob s SET used_at = \(tx.now) FROM blob b
                WHERE s.site_id = \(siteID.rawValue) AND s.sha256 = ANY(\(unique)) AND b.sha256 = s.sha256
                AND b.state = 'live'
                RETURNING s.sha256
                """
            ).map { try $0["sha256"].decode(String.self) }
            return Set(unique).subtracting(present)
        }
    }

    public func reserveBlobs(_ blobs: [StoredBlob]) async throws -> [String] {
        try BlobRules.check(blobs)
        var sizes: [String: Int64] = [:]
        for blob in blobs { sizes[blob.sha256] = blob.size }
        let digests = sizes.keys.sorted()
        let byteCounts = digests.map { sizes[$0]! }
        return try await write { tx in
            // Sorted, so two reservations lock rows in one order (no deadlock).
            let reserved = try await tx.rows(
                """
                INSERT INTO blob (sha256, size, state, created_at, used_at)
                SELECT d, s, 'live', \(tx.now), \(tx.now) FROM unnest(\(digests)::text[], \(byteCounts)::bigint[]) AS u(d, s)
                ORDER BY d
                ON CONFLICT (sha256) DO UPDATE SET used_at = excluded.used_at WHERE blob.state = 'live'
                RETURNING sha256
                """
            ).map { try $0["sha256"].decode(String.self) }
            return Set(digests).subtracting(reserved).sorted()
        }
    }

    public func recordBlobs(siteID: SiteID, digests: [String]) async throws {
        try BlobRules.check(digests)
        let unique = Array(Set(digests)).sorted()
        try await write { tx in
            guard try await tx.rows("SELECT 1 FROM site WHERE id = \(siteID.rawValue) FOR SHARE").first != nil else {
                throw CatalogError.siteNotFound(id: siteID)
            }
            let live = try await tx.rows(
                """
                UPDATE blob SET used_at = \(tx.now)
                WHERE sha256 IN (SELECT sha256 FROM blob WHERE sha256 = ANY(\(unique)) ORDER BY sha256 FOR UPDATE)
                AND state = 'live'
                RETURNING sha256
                """
            ).map { try $0["sha256"].decode(String.self) }
            let missing = Set(unique).subtracting(live)
            if !missing.isEmpty { throw BlobRules.collecting(missing.sorted()) }
            try await tx.rows(
                """
                INSERT INTO site_blob (site_id, sha256, used_at)
                SELECT \(siteID.rawValue), d, \(tx.now) FROM unnest(\(unique)::text[]) AS u(d)
                ON CONFLICT (site_id, sha256) DO UPDATE SET used_at = excluded.used_at
                """)
        }
    }

    public func siteBlobs(siteID: SiteID, unusedSince cutoff: Date, limit: Int) async throws -> [String] {
        try await read { tx in
            try await tx.rows(
                """
                SELECT sha256 FROM site_blob WHERE site_id = \(siteID.rawValue) AND used_at < \(Millis.from(cutoff))
                ORDER BY used_at, sha256 LIMIT \(max(0, limit))
                """
            ).map { try $0["sha256"].decode(String.self) }
        }
    }

    public func forgetSiteBlobs(siteID: SiteID, digests: [String], unusedSince cutoff: Date) async throws -> Int {
        try BlobRules.check(digests)
        let unique = Array(Set(digests))
        return try await write { tx in
            try await tx.rows(
                """
                DELETE FROM site_blob WHERE site_id = \(siteID.rawValue) AND used_at < \(Millis.from(cutoff))
                AND sha256 = ANY(\(unique))
                RETURNING sha256
                """
            ).count
        }
    }

    public func claimUnreferencedBlobs(unusedSince cutoff: Date, limit: Int) async throws -> [String] {
        try await write { tx in
            let limit = max(0, limit)
            var claimed = try await tx.rows(
                "SELECT sha256 FROM blob WHERE state = 'collecting' ORDER BY sha256 LIMIT \(limit)"
            ).map { try $0["sha256"].decode(String.self) }
            // A row a writer reserved or recorded meanwhile is locked: the
            // claim waits, then re-checks `used_at` and leaves it.
            let fresh = try await tx.rows(
                """
                UPDATE blob SET state = 'collecting'
                WHERE sha256 IN (
                    SELECT sha256 FROM blob b WHERE state = 'live' AND used_at < \(Millis.from(cutoff))
                    AND NOT EXISTS (SELECT 1 FROM site_blob s WHERE s.sha256 = b.sha256)
                    ORDER BY used_at, sha256 LIMIT \(max(0, limit - claimed.count))
                    FOR UPDATE SKIP LOCKED
                )
                AND state = 'live' AND used_at < \(Millis.from(cutoff))
                AND NOT EXISTS (SELECT 1 FROM site_blob s WHERE s.sha256 = blob.sha256)
                RETURNING sha256
                """
            ).map { try $0["sha256"].decode(String.self) }
            claimed += fresh
            return claimed
        }
    }

    public func removeCollectedBlobs(_ digests: [String]) async throws -> Int {
        try BlobRules.check(digests)
        let unique = Array(Set(digests))
        return try await write { tx in
            try await tx.rows(
                "DELETE FROM blob WHERE state = 'collecting' AND sha256 = ANY(\(unique)) RETURNING sha256"
            ).count
        }
    }

    public func blobStats() async throws -> BlobStats {
        try await read { tx in
            let row = try await tx.rows(
                """
                SELECT count(*) AS blobs, coalesce(sum(size), 0)::bigint AS bytes,
                (SELECT count(*) FROM blob b WHERE NOT EXISTS
                    (SELECT 1 FROM site_blob s WHERE s.sha256 = b.sha256)) AS unreferenced
                FROM blob
                """
            ).first
            return BlobStats(
                blobs: Int(try row?["blobs"].decode(Int64.self) ?? 0), bytes: try row?["bytes"].decode(Int64.self) ?? 0,
                unreferenced: Int(try row?["unreferenced"].decode(Int64.self) ?? 0))
        }
    }
}
