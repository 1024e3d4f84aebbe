import Foundation
import Model
import NIOCore
import Storage
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A published build: its manifest and what to warm the cache with.
struct PublishResult: Sendable {
    var manifest: BuildManifest
    var fileCount: Int
    var bytes: Int64
    /// Objects written: blobs the site did not have, and the manifest.
    var objectCount: Int
    /// Blobs (files and variants) the site already had: not written again.
    var reusedCount: Int
    var variantCount: Int
    /// Small HTML files, to put into the body cache once the build is live.
    var warmEntries: [WarmEntry]
}

/// The bytes of one small file for the body cache, under the object keys
/// requests use.
struct WarmEntry: Sendable {
    var path: String
    var identityKey: String
    var identity: [UInt8]
    var gzipKey: String?
    var gzip: [UInt8]?
}

/// Publishes a scanned output by content and writes the manifest last.
///
/// 1. Every file is read once (SHA-256, content type, gzip variant), at
///    most ``concurrency`` at a time, keeping the bytes of small HTML files
///    (for the cache) and of other small files within ``maxHeldBytes``.
/// 2. One question to the catalog: which of these digests does the site
///    not have yet (``Catalog/missingBlobs(siteID:digests:)``; the ones it
///    has are marked used, so the collector keeps them).
/// 3. Only the files with a missing digest are uploaded (small ones from
///    the bodies kept at the first read, within ``maxHeldBytes``; larger
///    ones read again), their blobs written through ``SiteBlobWriter``
///    (reserve, write, record), with retries; the same content in two
///    files is written once.
/// 4. `_headers` and `_redirects` are parsed into the manifest (invalid
///    lines reported in the log), and the manifest is stored only after
///    every blob is: a build without a manifest is never served.
struct Publisher: Sendable {
    var uploader: Uploader
    var catalog: any Catalog
    var concurrency: Int
    var scratchDirectory: String
    var warmMaxFileBytes: Int
    var warmMaxBytes: Int
    /// Largest `_headers` / `_redirects` file read.
    static let maxRulesFileBytes = 1 << 20
    /// Bytes of small files' bodies (and their variants) kept from the
    /// first read for the upload, so that a new file is read once.
    static let maxHeldBytes: Int64 = 32 << 20

    func publish(_ scan: OutputScan, siteID: String, buildID: String, log: BuildLog) async throws -> PublishResult {
        let redirects = rules(scan.redirectsFile, name: "_redirects", log: log, parse: RedirectRules.parse)
        let headers = rules(scan.headersFile, name: "_headers", log: log, parse: HeaderRules.parse)
        let preparer = FilePreparer(scratchDirectory: scratchDirectory)
        let indexed = Array(scan.files.enumerated())

        // 1. Digests, entries and the cache's bytes.
        let collected = Mutex(Collected())
        let warmMaxFileBytes = self.warmMaxFileBytes
        let warmMaxBytes = self.warmMaxBytes
        try await forEachConcurrently(indexed, width: concurrency) { index, file in
            let isWarm = file.size <= Int64(warmMaxFileBytes) && ContentTypes.forPath(file.path).hasPrefix("text/html")
            // Small files keep their bodies (within a budget) so that one the
            // site lacks is not read a second time to be uploaded.
            let holds =
                file.size <= Int64(FilePreparer.inMemoryLimit)
                && collected.withLock { state in
                    guard state.heldBytes + file.size * 2 <= Self.maxHeldBytes else { return false }
                    state.heldBytes += file.size * 2
                    return true
                }
            let prepared = try await preparer.prepare(file, index: index, keepingBodies: isWarm || holds)
            collected.withLock { state in
                state.files[file.path] = prepared.entry
                if prepared.entry.variants["gzip"] != nil { state.variants += 1 }
                if holds { state.held[file.path] = prepared }
                guard isWarm, let bytes = prepared.bytes, let identityKey = prepared.entry.sha256 else { return }
                let gzip: [UInt8]? = if case .bytes(let gzip) = prepared.gzip?.body { gzip } else { nil }
                let cost = bytes.count + (gzip?.count ?? 0)
                guard state.warmBytes + cost <= warmMaxBytes else { return }
                state.warmBytes += cost
                state.warm.append(
                    WarmEntry(
                        path: file.path, identityKey: ContentAddress.key(sha256: identityKey), identity: bytes,
                        gzipKey: prepared.gzip?.sha256.map { ContentAddress.key(sha256: $0) }, gzip: gzip))
            }
        }
        let result = collected.withLock { $0 }

        // 2. What the site lacks.
        var sizes: [String: Int64] = [:]
        for entry in result.files.values {
            if let sha256 = entry.sha256 { sizes[sha256] = entry.size }
            for variant in entry.variants.values { if let sha256 = variant.sha256 { sizes[sha256] = variant.size } }
        }
        let missing = try await missingDigests(Array(sizes.keys), siteID: siteID)

        // 3. Each missing blob, written once, from the first file that has it.
        var owners: [(index: Int, file: OutputFile, digests: [String])] = []
        var assigned = Set<String>()
        for (index, file) in indexed {
            guard let entry = result.files[file.path] else { continue }
            let digests = ([entry.sha256] + entry.variants.values.map(\.sha256)).compactMap { $0 }
                .filter { missing.contains($0) && !assigned.contains($0) }
            guard !digests.isEmpty else { continue }
            assigned.formUnion(digests)
            owners.append((index, file, digests))
        }
        let writer = SiteBlobWriter(catalog: catalog, siteID: SiteID(unchecked: siteID))
        let uploader = self.uploader
        try await forEachConcurrently(owners, width: concurrency) { owner in
            let held = result.held[owner.file.path]
            let prepared: PreparedFile
            if let held {
                prepared = held
            } else {
                prepared = try await preparer.prepare(owner.file, index: owner.index, keepingBodies: true)
            }
            let expected = result.files[owner.file.path]
            guard prepared.entry.sha256 == expected?.sha256,
                prepared.gzip?.sha256 == expected?.variants["gzip"]?.sha256
            else {
                throw BuildError.workspaceFailed(
                    "\(owner.file.path) changed while it was being published; nothing in the output may change once the build ends"
                )
            }
            var bodies: [(blob: StoredBlob, body: @Sendable () -> ObjectBody)] = []
            if let sha256 = prepared.entry.sha256, owner.digests.contains(sha256) {
                let source = owner.file.source
                let body: @Sendable () -> ObjectBody =
                    if let bytes = prepared.bytes { { .bytes(bytes) } } else { { .file(atPath: source) } }
                bodies.append((StoredBlob(sha256: sha256, size: prepared.entry.size), body))
            }
            if let variant = prepared.gzip, let sha256 = variant.sha256, owner.digests.contains(sha256) {
                let body: @Sendable () -> ObjectBody =
                    switch variant.body {
                    case .bytes(let bytes): { .bytes(bytes) }
                    case .file(let path): { .file(atPath: path) }
                    }
                bodies.append((StoredBlob(sha256: sha256, size: variant.size), body))
            }
            try await Self.catalogCall {
                try await writer.store(bodies.map(\.blob)) {
                    for (blob, body) in bodies {
                        try await uploader.put(
                            ContentAddress.key(sha256: blob.sha256), options: Self.blobOptions, body: body)
                    }
                }
            }
        }

        // 4. The manifest, last.
        let manifest = BuildManifest(
            siteID: siteID, buildID: buildID, files: result.files, redirects: redirects, headers: headers)
        let data: Data
        do {
            data = try manifest.encoded()
        } catch {
            throw BuildError.workspaceFailed("the build manifest could not be encoded: \(error)")
        }
        let bytes = [UInt8](data)
        try await uploader.put(
            BuildManifest.key(siteID: siteID, buildID: buildID),
            options: PutOptions(contentType: "application/json", cacheControl: "no-cache")
        ) { .bytes(bytes) }
        return PublishResult(
            manifest: manifest, fileCount: result.files.count, bytes: manifest.totalBytes,
            objectCount: assigned.count + 1, reusedCount: sizes.count - assigned.count,
            variantCount: result.variants, warmEntries: result.warm)
    }

    /// How blobs are stored: their bytes never change, and whatever file
    /// they are served as gets its headers from the manifest.
    static let blobOptions = PutOptions(contentType: "application/octet-stream", cacheControl: CacheControl.immutable)

    /// The digests (of `digests`) the site does not have, asked in batches.
    private func missingDigests(_ digests: [String], siteID: String) async throws -> Set<String> {
        var missing = Set<String>()
        for start in stride(from: 0, to: digests.count, by: BlobRules.maxBatch) {
            let batch = Array(digests[start..<min(start + BlobRules.maxBatch, digests.count)])
            let lacking = try await Self.catalogCall {
                try await catalog.missingBlobs(siteID: SiteID(unchecked: siteID), digests: batch)
            }
            missing.formUnion(lacking)
        }
        return missing
    }

    /// Runs a catalog call, its failures as build errors (a database that
    /// cannot be reached is transient: the build is tried again).
    private static func catalogCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as BuildError {
            throw error
        } catch is CancellationError {
            throw BuildError.canceled
        } catch let error as CatalogError {
            throw BuildError.catalogFailed(
                "recording the build's files failed: \(error.message)",
                transient: error.code == .unavailable || error.code == .blobCollecting)
        }
    }

    private struct Collected: Sendable {
        var files: [String: ManifestFile] = [:]
        /// Prepared files whose bodies were kept (see ``maxHeldBytes``).
        var held: [String: PreparedFile] = [:]
        var heldBytes: Int64 = 0
        var variants = 0
        var warm: [WarmEntry] = []
        var warmBytes = 0
    }

    /// Parses a rules file, logging each invalid line. Never fails the
    /// build: a file over ``maxRulesFileBytes``, or one that cannot be read,
    /// is skipped with a warning naming it by its place in the site
    /// (`_redirects`), never by its path on the server.
    private func rules<Rule>(
        _ path: String?, name: String, log: BuildLog, parse: (String) -> (rules: [Rule], problems: [RuleProblem])
    ) -> [Rule] {
        guard let path else { return [] }
        let kind = name == "_redirects" ? "redirect" : "header"
        let bytes: [UInt8]
        switch Self.readRulesFile(path, limit: Self.maxRulesFileBytes) {
        case .read(let read):
            bytes = read
        case .tooLarge:
            log.system(
                "warning: \(name) is larger than \(ByteCount.format(Int64(Self.maxRulesFileBytes))), the limit for this file; it was skipped: this build has no \(kind) rules"
            )
            return []
        case .unreadable(let reason):
            log.system(
                "warning: \(name) could not be read (\(reason)); it was skipped: this build has no \(kind) rules")
            return []
        }
        let (rules, problems) = parse(String(decoding: bytes, as: UTF8.self))
        for problem in problems {
            log.system("warning: \(problem) (line skipped)")
        }
        log.system(
            "\(name): \(rules.count) rule\(rules.count == 1 ? "" : "s")\(problems.isEmpty ? "" : ", \(problems.count) invalid line\(problems.count == 1 ? "" : "s") skipped")"
        )
        return rules
    }

    /// What reading a rules file gave.
    enum RulesFile: Equatable {
        case read([UInt8])
        /// Over the limit: nothing past it was read.
        case tooLarge
        /// Why it could not be read (`strerror`), without its path.
        case unreadable(String)
    }

    /// Reads at most `limit` bytes of the file at `path` (not following a
    /// symlink: the scanner hands over the file a link leads to).
    static func readRulesFile(_ path: String, limit: Int) -> RulesFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return .unreadable(POSIXErrorText.current()) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .unreadable(POSIXErrorText.current())
            }
            if count == 0 { return .read(result) }
            if result.count + count > limit { return .tooLarge }
            result.append(contentsOf: chunk[0..<count])
        }
    }
}
