import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import NIOCore
import Storage

/// Deploying a folder: the digest protocol behind `slipway deploy --dir`.
///
/// 1. `POST /api/deployments/{slug}/uploads` announces every file (path,
///    SHA-256, size) and answers which contents the deployment lacks.
/// 2. `PUT /api/uploads/{id}/blobs/{sha256}` sends each missing content once
///    (in parallel, in any order); the server checks every byte against the
///    name before the blob is stored.
/// 3. `GET /api/uploads/{id}` says what is still missing (resume after a
///    dropped connection).
/// 4. `POST /api/uploads/{id}/finish` builds the manifest (with gzip
///    variants), stores it last and records the build, activated at once
///    unless the upload is a preview. A source upload (`"kind": "source"`,
///    `slipway deploy --source`) is queued as a build instead, which the
///    builder runs on the uploaded files.
extension AdminAPI {
    func registerUploads(on router: Router<AdminRequestContext>) {
        router.post("/api/deployments/{slug}/uploads") { request, context in try await createUpload(request, context) }
        router.get("/api/uploads/{id}") { _, context in try await getUpload(context) }
        router.put("/api/uploads/{id}/blobs/{sha256}") { request, context in try await putBlob(request, context) }
        router.post("/api/uploads/{id}/finish") { _, context in try await finishUpload(context) }
    }

    /// `POST /api/deployments/{slug}/uploads`: 201 with the upload and the
    /// digests to send.
    func createUpload(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let site = try await site(context)
        let settings = configuration.uploads
        let body = try await StrictJSON.decode(CreateUploadBody.self, from: request, limit: settings.listBodyLimit)
        if body.kind == .source {
            try requireBuilds()
            if body.preview {
                throw AdminError.invalidBody(
                    "preview goes with kind 'output' only: a source upload is built and goes live like any build")
            }
        }
        if let problem = UploadRules.problem(
            files: body.files, kind: body.kind, maxFiles: settings.maxFiles, maxBytes: settings.maxBytes)
        {
            throw AdminError(status: .unprocessableContent, code: "upload_invalid", message: problem)
        }
        let upload = try await catalog.createUpload(
            UploadDraft(
                siteID: site.id, kind: body.kind, preview: body.preview, files: body.files,
                lifetime: settings.lifetime))
        context.audit.target = site.slug
        let missing = try await missingDigests(of: body.files, siteID: site.id)
        logger.info(
            "upload started",
            metadata: [
                "slug": "\(site.slug)", "upload": "\(upload.id)", "files": "\(upload.fileCount)",
                "missing": "\(missing.digests.count)",
            ])
        return try json(UploadStatusJSON(upload: upload, missing: missing), status: .created)
    }

    /// `GET /api/uploads/{id}`: the upload and what it still lacks.
    func getUpload(_ context: AdminRequestContext) async throws -> Response {
        let upload = try await upload(context)
        let missing =
            upload.state == .open
            ? try await missingDigests(of: try await catalog.uploadFiles(id: upload.id), siteID: upload.siteID)
            : MissingContent(digests: [], bytes: 0)
        return try json(UploadStatusJSON(upload: upload, missing: missing))
    }

    /// `PUT /api/uploads/{id}/blobs/{sha256}`: one content of the upload,
    /// its exact bytes. 201 once stored; 200 when the deployment has it
    /// already (nothing is read).
    func putBlob(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let upload = try await upload(context)
        guard upload.state == .open else { throw UploadCatalogRules.closed(upload, now: services.clock()) }
        let sha256 = try context.parameters.require("sha256")
        guard ContentAddress.isDigest(sha256) else {
            throw AdminError(
                status: .unprocessableContent, code: "invalid_input",
                message: "'\(sha256.prefix(80))' is not a SHA-256: give 64 lower-case hexadecimal digits")
        }
        // Nothing is ever inflated or unpacked: a compressed (or archived) body
        // is refused before a byte is read, so no bomb can expand here.
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw AdminError(
                status: .unsupportedMediaType, code: "unsupported_media_type",
                message:
                    "Content-Encoding '\(encoding.prefix(40))' is not taken: send the content's exact bytes, uncompressed, one file per request"
            )
        }
        let files = try await catalog.uploadFiles(id: upload.id).filter { $0.sha256 == sha256 }
        guard let first = files.first else {
            throw AdminError(
                status: .notFound, code: "blob_not_in_upload",
                message:
                    "upload \(upload.id) names no file with SHA-256 \(sha256); send only the contents the upload announced"
            )
        }
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length != first.size {
            throw AdminError(
                status: .unprocessableContent, code: "blob_size_mismatch",
                message:
                    "Content-Length is \(length), but the upload announced \(first.size) bytes for \(sha256); send the file's exact bytes"
            )
        }
        let writer = SiteBlobWriter(catalog: catalog, siteID: upload.siteID)
        if try await catalog.missingBlobs(siteID: upload.siteID, digests: [sha256]).isEmpty {
            return try json(BlobStoredJSON(sha256: sha256, size: first.size, stored: false))
        }
        // The compressible path decides the variant (the bytes are the same for every path).
        let path =
            files.first { ContentTypes.isCompressible(ContentTypes.forPath($0.path)) }?.path ?? first.path
        let receiver = BlobReceiver(scratchDirectory: configuration.uploads.scratchDirectory ?? NSTemporaryDirectory())
        let received = try await receiver.receive(request.body, sha256: sha256, size: first.size, path: path)
        defer { received.remove() }
        var blobs = [StoredBlob(sha256: sha256, size: received.size)]
        if let gzip = received.gzip { blobs.append(StoredBlob(sha256: gzip.digest.sha256, size: gzip.digest.size)) }
        let store = services.store
        try await writer.store(blobs) {
            try await Self.putBlob(store, sha256: sha256, path: received.path)
            if let gzip = received.gzip { try await Self.putBlob(store, sha256: gzip.digest.sha256, path: gzip.path) }
        }
        try await catalog.recordUploadedBlobs(
            uploadID: upload.id, [UploadedBlob(sha256: sha256, gzip: received.gzip?.digest)])
        return try json(BlobStoredJSON(sha256: sha256, size: received.size, stored: true), status: .created)
    }

    /// `POST /api/uploads/{id}/finish`: 201 with the build; 409
    /// `upload_incomplete` while contents are missing. Finishing a finished
    /// upload answers its build again (200).
    func finishUpload(_ context: AdminRequestContext) async throws -> Response {
        let upload = try await upload(context)
        let site = try await catalog.site(id: upload.siteID)
        if upload.state == .finished, let buildID = upload.buildID {
            let build = try await catalog.build(id: buildID)
            return try json(
                FinishedUploadJSON(build: buildJSON(build, slug: site.slug), activated: false, url: nil, warnings: []))
        }
        guard upload.state == .open else { throw UploadCatalogRules.closed(upload, now: services.clock()) }
        let files = try await catalog.uploadFiles(id: upload.id)
        let missing = try await missingDigests(of: files, siteID: site.id)
        guard missing.digests.isEmpty else {
            throw AdminError(
                status: .conflict, code: "upload_incomplete",
                message:
                    "\(missing.digests.count) content\(missing.digests.count == 1 ? " is" : "s are") still missing (\(missing.bytes) bytes); GET /api/uploads/\(upload.id) lists them — send them, then finish again"
            )
        }
        if upload.kind == .source { return try await queueSource(upload, site: site, context) }
        let assembler = UploadManifestAssembler(catalog: catalog, store: services.store, logger: logger)
        let buildID = BuildID.generate(at: services.clock())
        let assembled = try await assembler.manifest(of: files, site: site, buildID: buildID)
        let manifest = assembled.manifest
        let manifestKey = BuildManifest.key(siteID: site.id.rawValue, buildID: buildID.rawValue)
        let data = try manifest.encoded()
        _ = try await services.store.put(
            manifestKey, body: .bytes(ByteBuffer(bytes: data)),
            options: PutOptions(contentType: "application/json", cacheControl: "no-cache"))
        let finished = try await catalog.finishUpload(
            id: upload.id, buildID: buildID, fileCount: manifest.files.count, bytes: manifest.totalBytes)
        if finished.build.id != buildID {
            // Another finish of the same upload won: this manifest names no build.
            try? await services.store.delete([manifestKey])
        }
        context.audit.target = site.slug
        let activated: Bool =
            switch finished.activation {
            case .activated, .alreadyActive: true
            default: false
            }
        logger.info(
            "upload finished",
            metadata: [
                "slug": "\(site.slug)", "upload": "\(upload.id)", "build": "\(finished.build.id)",
                "files": "\(manifest.files.count)", "activated": "\(activated)",
            ])
        return try json(
            FinishedUploadJSON(
                build: buildJSON(finished.build, slug: site.slug), activated: activated,
                url: activated ? configuration.siteURL(slug: site.slug) : nil, warnings: assembled.warnings),
            status: finished.build.id == buildID ? .created : .ok)
    }

    /// Finishing a source upload: its build is queued.
    private func queueSource(_ upload: Upload, site: Site, _ context: AdminRequestContext) async throws -> Response {
        try requireBuilds()
        let finished = try await catalog.finishUpload(
            id: upload.id, buildID: BuildID.generate(at: services.clock()), fileCount: 0, bytes: 0)
        services.buildsQueued()
        context.audit.target = site.slug
        logger.info(
            "source upload queued",
            metadata: ["slug": "\(site.slug)", "upload": "\(upload.id)", "build": "\(finished.build.id)"])
        return try json(
            FinishedUploadJSON(
                build: buildJSON(finished.build, slug: site.slug), activated: false, url: nil, warnings: []),
            status: .created)
    }

    // MARK: Steps

    /// The upload named by the `{id}` path parameter.
    func upload(_ context: AdminRequestContext) async throws -> Upload {
        try await catalog.upload(id: try context.parameters.require("id"))
    }

    /// The contents of `files` the site lacks, asked in batches.
    private func missingDigests(of files: [UploadFile], siteID: SiteID) async throws -> MissingContent {
        var sizes: [String: Int64] = [:]
        for file in files { sizes[file.sha256] = file.size }
        let digests = sizes.keys.sorted()
        var missing: [String] = []
        for start in stride(from: 0, to: digests.count, by: BlobRules.maxBatch) {
            let batch = Array(digests[start..<min(start + BlobRules.maxBatch, digests.count)])
            missing += try await catalog.missingBlobs(siteID: siteID, digests: batch)
        }
        missing.sort()
        return MissingContent(digests: missing, bytes: missing.reduce(0) { $0 + (sizes[$1] ?? 0) })
    }

    /// Stores a checked blob's bytes under its content address, trying twice.
    private static func putBlob(_ store: any ObjectStore, sha256: String, path: String) async throws {
        let key = ContentAddress.key(sha256: sha256)
        let options = PutOptions(contentType: "application/octet-stream", cacheControl: CacheControl.immutable)
        do {
            _ = try await store.put(key, body: .file(atPath: path), options: options)
        } catch {
            _ = try await store.put(key, body: .file(atPath: path), options: options)
        }
    }
}

/// Digests a site lacks and their bytes.
struct MissingContent: Sendable {
    var digests: [String]
    var bytes: Int64
}

/// `POST /api/deployments/{slug}/uploads`: `{"files": [{"path", "sha256", "size"}], "preview": false, "kind": "output"}`.
struct CreateUploadBody: Decodable, Sendable {
    let files: [UploadFile]
    let preview: Bool
    let kind: UploadKind

    static let fields = ["files", "preview", "kind"]

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: Self.fields)
        files = try object.required("files")
        preview = try object.optional("preview") ?? false
        let kind: String = try object.optional("kind") ?? "output"
        guard let known = UploadKind(rawValue: kind) else {
            throw AdminError.invalidBody("kind '\(kind.prefix(40))' is not one of output, source")
        }
        self.kind = known
    }
}

/// An upload and what it lacks.
struct UploadStatusJSON: Encodable, Sendable {
    let upload: Upload
    let missing: MissingContent

    private enum CodingKeys: String, CodingKey {
        case id, deploymentId, kind, state, preview, fileCount, bytes, createdAt, expiresAt, buildId, missing
        case missingBytes
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(upload.id, forKey: .id)
        try container.encode(upload.siteID.rawValue, forKey: .deploymentId)
        try container.encode(upload.kind.rawValue, forKey: .kind)
        try container.encode(upload.state.rawValue, forKey: .state)
        try container.encode(upload.preview, forKey: .preview)
        try container.encode(upload.fileCount, forKey: .fileCount)
        try container.encode(upload.totalBytes, forKey: .bytes)
        try container.encode(upload.createdAt, forKey: .createdAt)
        try container.encode(upload.expiresAt, forKey: .expiresAt)
        try container.encode(upload.buildID?.rawValue, forKey: .buildId)
        try container.encode(missing.digests, forKey: .missing)
        try container.encode(missing.bytes, forKey: .missingBytes)
    }
}

/// `{"sha256", "size", "stored"}`: `stored` is false when the deployment had the content already.
struct BlobStoredJSON: Encodable, Sendable {
    let sha256: String
    let size: Int64
    let stored: Bool
}

/// `{"build": …, "activated": true, "url": …}`.
struct FinishedUploadJSON: Encodable, Sendable {
    let build: BuildJSON
    let activated: Bool
    /// The site's URL, when the build went live.
    let url: String?
    /// Rules lines and files skipped (as a build's log would say).
    let warnings: [String]

    private enum CodingKeys: String, CodingKey { case build, activated, url, warnings }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(build, forKey: .build)
        try container.encode(activated, forKey: .activated)
        try container.encode(url, forKey: .url)
        try container.encode(warnings, forKey: .warnings)
    }
}
