public import Foundation
import GRDB
public import Model

/// Content blobs: table `blob` (one row per stored content, whoever has it;
/// `state` `live` or `collecting`) and `site_blob` (which sites have which
/// blob, and when each last used it). See ``Catalog`` for the contract.
extension SQLiteCatalog {
    /// Statement parameters per `IN (…)` list.
    static let blobChunk = 500

    public func missingBlobs(siteID: SiteID, digests: [String]) async throws -> Set<String> {
        try BlobRules.check(digests)
        let unique = Array(Set(digests))
        return try await write { db, now, _ in
            var present = Set<String>()
            for chunk in unique.chunked(Self.blobChunk) {
                let marks = Self.marks(chunk.count)
                let found = try String.fetchAll(
                    db,
                    sql: """
                        SELECT s.sha256 FROM site_blob s JOIN blob b ON b.sha256 = s.sha256
                        WHERE s.site_id = ? AND b.state = 'live' AND s.sha256 IN (\(marks))
                        """, arguments: StatementArguments([siteID.rawValue] + Array(chunk)))
                present.formUnion(found)
                try db.execute(
                    sql: "UPDATE site_blob SET used_at = ? WHERE site_id = ? AND sha256 IN (\(marks))",
                    arguments: Self.arguments([now, siteID.rawValue], chunk))
            }
            return Set(unique).subtracting(present)
        }
    }

    public func reserveBlobs(_ blobs: [StoredBlob]) async throws -> [String] {
        try BlobRules.check(blobs)
        return try await write { db, now, _ in
            var collecting: [String] = []
            for blob in blobs {
                let state = try String.fetchOne(
                    db, sql: "SELECT state FROM blob WHERE sha256 = ?", arguments: [blob.sha256])
                switch state {
                case nil:
                    try db.execute(
                        sql: "INSERT INTO blob (sha256, size, state, created_at, used_at) VALUES (?, ?, 'live', ?, ?)",
                        arguments: [blob.sha256, blob.size, now, now])
                case "live":
                    try db.execute(sql: "UPDATE blob SET used_at = ? WHERE sha256 = ?", arguments: [now, blob.sha256])
                default:
                    collecting.append(blob.sha256)
                }
            }
            return collecting
        }
    }

    public func recordBlobs(siteID: SiteID, digests: [String]) async throws {
        try BlobRules.check(digests)
        let unique = Array(Set(digests))
        try await write { db, now, _ in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM site WHERE id = ?", arguments: [siteID.rawValue]) != nil
            else { throw CatalogError.siteNotFound(id: siteID) }
            for chunk in unique.chunked(Self.blobChunk) {
                let live = try String.fetchAll(
                    db, sql: "SELECT sha256 FROM blob WHERE state = 'live' AND sha256 IN (\(Self.marks(chunk.count)))",
                    arguments: StatementArguments(Array(chunk)))
                let missing = Set(chunk).subtracting(live)
                if !missing.isEmpty { throw BlobRules.collecting(missing.sorted()) }
            }
            for digest in unique {
                try db.execute(
                    sql: """
                        INSERT INTO site_blob (site_id, sha256, used_at) VALUES (?, ?, ?)
                        ON CONFLICT (site_id, sha256) DO UPDATE SET used_at = excluded.used_at
                        """, arguments: [siteID.rawValue, digest, now])
            }
            for chunk in unique.chunked(Self.blobChunk) {
                try db.execute(
                    sql: "UPDATE blob SET used_at = ? WHERE sha256 IN (\(Self.marks(chunk.count)))",
                    arguments: Self.arguments([now], chunk))
            }
        }
    }

    public func siteBlobs(siteID: SiteID, unusedSince cutoff: Date, limit: Int) async throws -> [String] {
        try await read { db, _ in
            try String.fetchAll(
                db,
                sql: "SELECT sha256 FROM site_blob WHERE site_id = ? AND used_at < ? ORDER BY used_at, sha256 LIMIT ?",
                arguments: [siteID.rawValue, Millis.from(cutoff), max(0, limit)])
        }
    }

    public func forgetSiteBlobs(siteID: SiteID, digests: [String], unusedSince cutoff: Date) async throws -> Int {
        try BlobRules.check(digests)
        return try await write { db, _, _ in
            var removed = 0
            for chunk in Array(Set(digests)).chunked(Self.blobChunk) {
                try db.execute(
                    sql:
                        "DELETE FROM site_blob WHERE site_id = ? AND used_at < ? AND sha256 IN (\(Self.marks(chunk.count)))",
                    arguments: Self.arguments([siteID.rawValue, Millis.from(cutoff)], chunk))
                removed += db.changesCount
            }
            return removed
        }
    }

    public func claimUnreferencedBlobs(unusedSince cutoff: Date, limit: Int) async throws -> [String] {
        try await write { db, _, _ in
            let limit = max(0, limit)
            var claimed = try String.fetchAll(
                db, sql: "SELECT sha256 FROM blob WHERE state = 'collecting' ORDER BY sha256 LIMIT ?",
                arguments: [limit])
            let fresh = try String.fetchAll(
                db,
                sql: """
                    SELECT sha256 FROM blob b WHERE state = 'live' AND used_at < ?
                    AND NOT EXISTS (SELECT 1 FROM site_blob s WHERE s.sha256 = b.sha256)
                    ORDER BY used_at, sha256 LIMIT ?
                    """, arguments: [Millis.from(cutoff), max(0, limit - claimed.count)])
            for chunk in fresh.chunked(Self.blobChunk) {
                try db.execute(
                    sql: "UPDATE blob SET state = 'collecting' WHERE sha256 IN (\(Self.marks(chunk.count)))",
                    arguments: StatementArguments(Array(chunk)))
            }
            claimed += fresh
            return claimed
        }
    }

    public func removeCollectedBlobs(_ digests: [String]) async throws -> Int {
        try BlobRules.check(digests)
        return try await write { db, _, _ in
            var removed = 0
            for chunk in Array(Set(digests)).chunked(Self.blobChunk) {
                try db.execute(
                    sql: "DELETE FROM blob WHERE state = 'collecting' AND sha256 IN (\(Self.marks(chunk.count)))",
                    arguments: StatementArguments(Array(chunk)))
                removed += db.changesCount
            }
            return removed
        }
    }

    public func blobStats() async throws -> BlobStats {
        try await read { db, _ in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*) AS blobs, coalesce(sum(size), 0) AS bytes,
                    (SELECT count(*) FROM blob b WHERE NOT EXISTS
                        (SELECT 1 FROM site_blob s WHERE s.sha256 = b.sha256)) AS unreferenced
                    FROM blob
                    """)
            return BlobStats(
                blobs: row?["blobs"] ?? 0, bytes: row?["bytes"] ?? 0, unreferenced: row?["unreferenced"] ?? 0)
        }
    }

    private static func arguments(_ first: [any DatabaseValueConvertible], _ digests: ArraySlice<String>)
        -> StatementArguments
    {
        StatementArguments(first + digests.map { $0 as any DatabaseValueConvertible })
    }

    static func marks(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}

extension Array {
    /// The array in consecutive pieces of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
