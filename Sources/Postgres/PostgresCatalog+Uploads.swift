public import Foundation
public import Model
import PostgresNIO
public import Storage

/// Uploads, as ``SQLiteCatalog``'s: tables `upload` and `upload_blob`.
///
/// Finishing takes the upload's row lock, then the site's: two finishes of
/// one upload take turns (the second finds it finished), and two uploads of
/// one site number and activate their builds one after the other.
extension PostgresCatalog {
    public func createUpload(_ draft: UploadDraft) async throws -> Upload {
        try UploadCatalogRules.check(draft)
        let files = String(decoding: try JSONEncoder().encode(draft.files), as: UTF8.self)
        let id = UploadCatalogRules.newID()
        let total = draft.files.reduce(Int64(0)) { $0 + $1.size }
        let lifetime = Millis.from(draft.lifetime)
        return try await write { tx in
            _ = try await tx.site(id: draft.siteID)
            try await tx.rows(
                """
                INSERT INTO upload (id, site_id, kind, preview, state, files, file_count, total_bytes, created_at,
                    expires_at)
                VALUES (\(id), \(draft.siteID.rawValue), \(draft.kind.rawValue), \(draft.preview), 'open', \(files),
                    \(draft.files.count), \(total), \(tx.now), \(tx.now + lifetime))
                """)
            return try await tx.upload(id: id)
        }
    }

    public func upload(id: String) async throws -> Upload {
        try await read(needsTime: true) { tx in try await tx.upload(id: id) }
    }

    public func uploadFiles(id: String) async throws -> [UploadFile] {
        let text = try await read { tx in
            guard UploadCatalogRules.isID(id),
                let row = try await tx.rows("SELECT files FROM upload WHERE id = \(id)").first
            else { throw UploadCatalogRules.notFound(id) }
            return try row["files"].decode(String.self)
        }
        return try JSONDecoder().decode([UploadFile].self, from: Data(text.utf8))
    }

    public func recordUploadedBlobs(uploadID: String, _ blobs: [UploadedBlob]) async throws {
        try BlobRules.check(blobs.map(\.sha256) + blobs.compactMap(\.gzip?.sha256))
        try await write { tx in
            let upload = try await tx.upload(id: uploadID, lock: .share)
            let now = Millis.date(tx.now)
            guard upload.isOpen(at: now) else { throw UploadCatalogRules.closed(upload, now: now) }
            for blob in blobs {
                try await tx.rows(
                    """
                    INSERT INTO upload_blob (upload_id, sha256, gzip_sha256, gzip_size)
                    VALUES (\(uploadID), \(blob.sha256), \(blob.gzip?.sha256), \(blob.gzip?.size))
                    ON CONFLICT (upload_id, sha256) DO UPDATE
                    SET gzip_sha256 = excluded.gzip_sha256, gzip_size = excluded.gzip_size
                    """)
            }
        }
    }

    public func uploadVariants(siteID: SiteID, digests: [String]) async throws -> [String: StoredBlob?] {
        try BlobRules.check(digests)
        let unique = Array(Set(digests))
        return try await read { tx in
            var variants: [String: StoredBlob?] = [:]
            let rows = try await tx.rows(
                """
                SELECT b.sha256, b.gzip_sha256, b.gzip_size FROM upload_blob b JOIN upload u ON u.id = b.upload_id
                WHERE u.site_id = \(siteID.rawValue) AND b.sha256 = ANY(\(unique))
                """)
            for row in rows {
                let digest = try row["sha256"].decode(String.self)
                let gzip = try row["gzip_sha256"].decode(String?.self)
                let size = try row["gzip_size"].decode(Int64?.self)
                let variant = gzip.flatMap { sha in size.map { StoredBlob(sha256: sha, size: $0) } }
                if variants[digest] == nil || variant != nil { variants[digest] = .some(variant) }
            }
            return variants
        }
    }

    public func finishUpload(id: String, buildID: BuildID, fileCount: Int, bytes: Int64) async throws
        -> FinishedUpload
    {
        try SQLiteCatalog.validate(.success(fileCount: fileCount, bytes: bytes))
        let maxQueued = queueSettings.maxQueued
        let schema = settings.schema
        return try await write { tx in
            var upload = try await tx.upload(id: id, lock: .update)
            if upload.state == .finished, let existing = upload.buildID {
                return FinishedUpload(upload: upload, build: try await tx.build(id: existing), activation: nil)
            }
            let now = Millis.date(tx.now)
            guard upload.isOpen(at: now) else { throw UploadCatalogRules.closed(upload, now: now) }
            if upload.kind == .source {
                // As createBuild: creators count the queue one at a time.
                try await tx.rows("SELECT pg_advisory_xact_lock(\(LockKey.queue), hashtext(\(schema)))")
                let queued =
                    try await tx.rows("SELECT count(*) FROM build WHERE status = 'queued'").first?[0].decode(Int.self)
                    ?? 0
                if queued >= maxQueued { throw CatalogError.queueFull(limit: maxQueued) }
            }
            // The site's row lock orders this with builds and activations of the site.
            let site = try await tx.site(id: upload.siteID, lock: true)
            guard
                let number = try await tx.rows(
                    """
                    UPDATE site SET build_counter = build_counter + 1 WHERE id = \(site.id.rawValue)
                    RETURNING build_counter
                    """
                ).first?[0].decode(Int.self)
            else { throw CatalogError.siteNotFound(id: site.id) }
            let created = Millis.from(upload.createdAt)
            if upload.kind == .source {
                // Built like any build, from the uploaded files.
                try await tx.rows(
                    """
                    INSERT INTO build (id, site_id, number, status, priority, trigger, commit_message, attempt,
                        queued_at, not_before)
                    VALUES (\(buildID.rawValue), \(site.id.rawValue), \(number), 'queued', 0,
                        \(UploadCatalogRules.trigger(upload.kind)), \(UploadCatalogRules.sourceMessage(upload)), 1,
                        \(tx.now), \(tx.now))
                    """)
            } else {
                try await tx.rows(
                    """
                    INSERT INTO build (id, site_id, number, status, priority, trigger, attempt, queued_at, started_at,
                        finished_at, not_before, file_count, bytes)
                    VALUES (\(buildID.rawValue), \(site.id.rawValue), \(number), 'success', 0,
                        \(UploadCatalogRules.trigger(upload.kind)), 1, \(created), \(created), \(tx.now), \(tx.now),
                        \(fileCount), \(bytes))
                    """)
            }
            try await tx.rows("UPDATE upload SET state = 'finished', build_id = \(buildID.rawValue) WHERE id = \(id)")
            upload.state = .finished
            upload.buildID = buildID
            let build = try await tx.build(id: buildID)
            if upload.kind == .source {
                try await tx.publish(.buildChanged(build))
                return FinishedUpload(upload: upload, build: build, activation: nil)
            }
            try await tx.enqueueNotification(for: build)
            try await tx.publish(.buildChanged(build))
            guard !upload.preview else {
                // A preview is never activated: its notification need not wait.
                try await tx.releaseNotification(of: build.id)
                return FinishedUpload(upload: upload, build: build, activation: nil)
            }
            let outcome = try await tx.activate(build, of: site, allowOlder: false)
            return FinishedUpload(upload: upload, build: build, activation: outcome)
        }
    }

    public func sourceUpload(buildID: BuildID) async throws -> Upload? {
        try await read(needsTime: true) { tx in
            guard
                let row = try await tx.rows(
                    "SELECT id FROM upload WHERE build_id = \(buildID.rawValue) AND kind = 'source'"
                ).first
            else { return nil }
            return try await tx.upload(id: try row["id"].decode(String.self))
        }
    }

    public func sourceUploads(siteID: SiteID) async throws -> [Upload] {
        try await read(needsTime: true) { tx in
            var uploads: [Upload] = []
            for row in try await tx.rows(
                "SELECT id FROM upload WHERE site_id = \(siteID.rawValue) AND kind = 'source' ORDER BY created_at")
            {
                uploads.append(try await tx.upload(id: try row["id"].decode(String.self)))
            }
            return uploads
        }
    }

    public func pruneUploads(before cutoff: Date) async throws -> Int {
        try await write { tx in
            try await tx.rows("DELETE FROM upload WHERE expires_at < \(Millis.from(cutoff)) RETURNING id").count
        }
    }
}

extension PostgresCatalog.Transaction {
    enum RowLock {
        case none
        case share
        case update
    }

    static let uploadColumns =
        "id, site_id, kind, preview, state, file_count, total_bytes, created_at, expires_at, build_id"

    /// The upload, `expired` once open past its expiry.
    func upload(id: String, lock: RowLock = .none) async throws -> Upload {
        guard UploadCatalogRules.isID(id) else { throw UploadCatalogRules.notFound(id) }
        let found: [PostgresRandomAccessRow]
        switch lock {
        case .none: found = try await rows("SELECT \(unescaped: Self.uploadColumns) FROM upload WHERE id = \(id)")
        case .share:
            found = try await rows("SELECT \(unescaped: Self.uploadColumns) FROM upload WHERE id = \(id) FOR SHARE")
        case .update:
            found = try await rows("SELECT \(unescaped: Self.uploadColumns) FROM upload WHERE id = \(id) FOR UPDATE")
        }
        guard let row = found.first else { throw UploadCatalogRules.notFound(id) }
        let expiresAt = try row["expires_at"].decode(Int64.self)
        var state = UploadState(rawValue: try row["state"].decode(String.self)) ?? .open
        if state == .open && expiresAt <= now { state = .expired }
        return Upload(
            id: try row["id"].decode(String.self), siteID: SiteID(unchecked: try row["site_id"].decode(String.self)),
            kind: UploadKind(rawValue: try row["kind"].decode(String.self)) ?? .output,
            preview: try row["preview"].decode(Bool.self), state: state,
            fileCount: try row["file_count"].decode(Int.self), totalBytes: try row["total_bytes"].decode(Int64.self),
            createdAt: Millis.date(try row["created_at"].decode(Int64.self)), expiresAt: Millis.date(expiresAt),
            buildID: try row["build_id"].decode(String?.self).flatMap(BuildID.init))
    }
}
