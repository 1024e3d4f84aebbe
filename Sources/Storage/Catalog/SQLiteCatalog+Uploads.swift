public import Foundation
import GRDB
public import Model

/// Uploads: table `upload` (one row per folder being uploaded, with the
/// files it announced) and `upload_blob` (the blobs it sent, with their
/// gzip variants). See ``Catalog`` for the contract.
extension SQLiteCatalog {
    public func createUpload(_ draft: UploadDraft) async throws -> Upload {
        try UploadCatalogRules.check(draft)
        let files = String(decoding: try JSONEncoder().encode(draft.files), as: UTF8.self)
        let id = UploadCatalogRules.newID()
        let total = draft.files.reduce(Int64(0)) { $0 + $1.size }
        return try await write { db, now, _ in
            _ = try self.fetchSite(db, id: draft.siteID)
            try db.execute(
                sql: """
                    INSERT INTO upload (id, site_id, kind, preview, state, files, file_count, total_bytes,
                        created_at, expires_at)
                    VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    id, draft.siteID.rawValue, draft.kind.rawValue, draft.preview, files, draft.files.count, total,
                    now, now + Millis.from(draft.lifetime),
                ])
            return try Self.fetchUpload(db, id: id, now: now)
        }
    }

    public func upload(id: String) async throws -> Upload {
        try await read { db, now in try Self.fetchUpload(db, id: id, now: now) }
    }

    public func uploadFiles(id: String) async throws -> [UploadFile] {
        let text = try await read { db, _ in
            guard UploadCatalogRules.isID(id),
                let files = try String.fetchOne(db, sql: "SELECT files FROM upload WHERE id = ?", arguments: [id])
            else { throw UploadCatalogRules.notFound(id) }
            return files
        }
        return try JSONDecoder().decode([UploadFile].self, from: Data(text.utf8))
    }

    public func recordUploadedBlobs(uploadID: String, _ blobs: [UploadedBlob]) async throws {
        try BlobRules.check(blobs.map(\.sha256) + blobs.compactMap(\.gzip?.sha256))
        try await write { db, now, _ in
            let upload = try Self.fetchUpload(db, id: uploadID, now: now)
            guard upload.isOpen(at: Millis.date(now)) else {
                throw UploadCatalogRules.closed(upload, now: Millis.date(now))
            }
            for blob in blobs {
                try db.execute(
                    sql: """
                        INSERT INTO upload_blob (upload_id, sha256, gzip_sha256, gzip_size) VALUES (?, ?, ?, ?)
                        ON CONFLICT (upload_id, sha256) DO UPDATE
                        SET gzip_sha256 = excluded.gzip_sha256, gzip_size = excluded.gzip_size
                        """, arguments: [uploadID, blob.sha256, blob.gzip?.sha256, blob.gzip?.size])
            }
        }
    }

    public func uploadVariants(siteID: SiteID, digests: [String]) async throws -> [String: StoredBlob?] {
        try BlobRules.check(digests)
        return try await read { db, _ in
            var variants: [String: StoredBlob?] = [:]
            for chunk in Array(Set(digests)).chunked(Self.blobChunk) {
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT b.sha256, b.gzip_sha256, b.gzip_size FROM upload_blob b
                        JOIN upload u ON u.id = b.upload_id
                        WHERE u.site_id = ? AND b.sha256 IN (\(Self.marks(chunk.count)))
                        """, arguments: StatementArguments([siteID.rawValue] + Array(chunk)))
                for row in rows {
                    let digest: String = row["sha256"]
                    let gzip: String? = row["gzip_sha256"]
                    let size: Int64? = row["gzip_size"]
                    let variant = gzip.flatMap { sha in size.map { StoredBlob(sha256: sha, size: $0) } }
                    // Any upload that made a variant answers for all.
                    if variants[digest] == nil || variant != nil { variants[digest] = .some(variant) }
                }
            }
            return variants
        }
    }

    public func finishUpload(id: String, buildID: BuildID, fileCount: Int, bytes: Int64) async throws
        -> FinishedUpload
    {
        try SQLiteCatalog.validate(.success(fileCount: fileCount, bytes: bytes))
        let maxQueued = queueSettings.maxQueued
        return try await write { db, now, events in
            var upload = try Self.fetchUpload(db, id: id, now: now)
            if upload.state == .finished, let existing = upload.buildID {
                return FinishedUpload(upload: upload, build: try Self.fetchBuild(db, id: existing), activation: nil)
            }
            guard upload.isOpen(at: Millis.date(now)) else {
                throw UploadCatalogRules.closed(upload, now: Millis.date(now))
            }
            if upload.kind == .source {
                let queued = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM build WHERE status = 'queued'") ?? 0
                if queued >= maxQueued { throw CatalogError.queueFull(limit: maxQueued) }
            }
            let site = try self.fetchSite(db, id: upload.siteID)
            let number =
                (try Int.fetchOne(
                    db, sql: "SELECT build_counter FROM site WHERE id = ?", arguments: [site.id.rawValue]) ?? 0) + 1
            try db.execute(
                sql: "UPDATE site SET build_counter = ? WHERE id = ?", arguments: [number, site.id.rawValue])
            if upload.kind == .source {
                // Built like any build, from the uploaded files.
                try db.execute(
                    sql: """
                        INSERT INTO build (id, site_id, number, status, priority, trigger, commit_message, attempt,
                            queued_at, not_before)
                        VALUES (?, ?, ?, 'queued', 0, ?, ?, 1, ?, ?)
                        """,
                    arguments: [
                        buildID.rawValue, site.id.rawValue, number, UploadCatalogRules.trigger(upload.kind),
                        UploadCatalogRules.sourceMessage(upload), now, now,
                    ])
            } else {
                // Published already: the build is recorded as the success it is.
                try db.execute(
                    sql: """
                        INSERT INTO build (id, site_id, number, status, priority, trigger, attempt, queued_at,
                            started_at, finished_at, not_before, file_count, bytes)
                        VALUES (?, ?, ?, 'success', 0, ?, 1, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        buildID.rawValue, site.id.rawValue, number, UploadCatalogRules.trigger(upload.kind),
                        Millis.from(upload.createdAt), Millis.from(upload.createdAt), now, now, fileCount, bytes,
                    ])
            }
            try db.execute(
                sql: "UPDATE upload SET state = 'finished', build_id = ? WHERE id = ?",
                arguments: [buildID.rawValue, id])
            upload.state = .finished
            upload.buildID = buildID
            let build = try Self.fetchBuild(db, id: buildID)
            if upload.kind == .source {
                events.publish(.buildChanged(build))
                return FinishedUpload(upload: upload, build: build, activation: nil)
            }
            try Self.enqueueNotification(for: build, in: db, now: now)
            events.publish(.buildChanged(build))
            guard !upload.preview else {
                // A preview is never activated: its notification need not wait.
                try Self.releaseNotification(of: build.id, in: db, now: now)
                return FinishedUpload(upload: upload, build: build, activation: nil)
            }
            let outcome = try Self.activate(build, of: site, allowOlder: false, in: db, now: now, events: &events)
            return FinishedUpload(upload: upload, build: build, activation: outcome)
        }
    }

    public func sourceUpload(buildID: BuildID) async throws -> Upload? {
        try await read { db, now in
            guard
                let id = try String.fetchOne(
                    db, sql: "SELECT id FROM upload WHERE build_id = ? AND kind = 'source'",
                    arguments: [buildID.rawValue])
            else { return nil }
            return try Self.fetchUpload(db, id: id, now: now)
        }
    }

    public func sourceUploads(siteID: SiteID) async throws -> [Upload] {
        try await read { db, now in
            try String.fetchAll(
                db, sql: "SELECT id FROM upload WHERE site_id = ? AND kind = 'source' ORDER BY created_at",
                arguments: [siteID.rawValue]
            ).map { try Self.fetchUpload(db, id: $0, now: now) }
        }
    }

    public func pruneUploads(before cutoff: Date) async throws -> Int {
        try await write { db, _, _ in
            try db.execute(sql: "DELETE FROM upload WHERE expires_at < ?", arguments: [Millis.from(cutoff)])
            return db.changesCount
        }
    }

    static func fetchUpload(_ db: Database, id: String, now: Int64) throws -> Upload {
        guard UploadCatalogRules.isID(id),
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT id, site_id, kind, preview, state, file_count, total_bytes, created_at, expires_at, build_id
                    FROM upload WHERE id = ?
                    """, arguments: [id])
        else { throw UploadCatalogRules.notFound(id) }
        let expiresAt: Int64 = row["expires_at"]
        var state = UploadState(rawValue: row["state"]) ?? .open
        if state == .open && expiresAt <= now { state = .expired }
        return Upload(
            id: row["id"], siteID: SiteID(unchecked: row["site_id"]),
            kind: UploadKind(rawValue: row["kind"]) ?? .output,
            preview: row["preview"], state: state, fileCount: row["file_count"], totalBytes: row["total_bytes"],
            createdAt: Millis.date(row["created_at"]), expiresAt: Millis.date(expiresAt),
            buildID: (row["build_id"] as String?).flatMap(BuildID.init))
    }
}
