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
    /// Objects stored: files, variants and the manifest.
    var objectCount: Int
    var variantCount: Int
    /// Small HTML files, to put into the body cache once the build is live.
    var warmEntries: [WarmEntry]
}

/// The bytes of one small file for the body cache.
struct WarmEntry: Sendable {
    var path: String
    var identity: [UInt8]
    var gzip: [UInt8]?
}

/// Publishes a scanned output under `sites/<siteId>/<buildId>/` and writes
/// the manifest last.
///
/// Every file is read once (hash, content type, gzip variant), then stored
/// with its variant, with at most ``BuilderConfiguration/uploadConcurrency``
/// files in flight; `_headers` and `_redirects` are parsed into the manifest
/// and their invalid lines reported in the log. The manifest is stored only
/// after every object is: a build without a manifest is never served.
struct Publisher: Sendable {
    var uploader: Uploader
    var concurrency: Int
    var scratchDirectory: String
    var warmMaxFileBytes: Int
    var warmMaxBytes: Int
    /// Largest `_headers` / `_redirects` file read.
    static let maxRulesFileBytes = 1 << 20

    func publish(_ scan: OutputScan, siteID: String, buildID: String, log: BuildLog) async throws -> PublishResult {
        let redirects = rules(scan.redirectsFile, name: "_redirects", log: log, parse: RedirectRules.parse)
        let headers = rules(scan.headersFile, name: "_headers", log: log, parse: HeaderRules.parse)

        let preparer = FilePreparer(scratchDirectory: scratchDirectory)
        let prefix = BuildManifest.filesPrefix(siteID: siteID, buildID: buildID)
        let collected = Mutex(Collected())
        let uploader = self.uploader
        let warmMaxFileBytes = self.warmMaxFileBytes
        let warmMaxBytes = self.warmMaxBytes
        let indexed = Array(scan.files.enumerated())

        try await forEachConcurrently(indexed, width: concurrency) { index, file in
            let prepared = try await preparer.prepare(file, index: index)
            let entry = prepared.entry
            let cacheControl = entry.cacheControl
            let identityBody: @Sendable () -> ObjectBody =
                if let bytes = prepared.bytes { { .bytes(bytes) } } else { { .file(atPath: file.source) } }
            try await uploader.put(
                prefix + file.path, options: PutOptions(contentType: entry.contentType, cacheControl: cacheControl),
                body: identityBody)
            if let variant = prepared.gzip {
                let variantBody: @Sendable () -> ObjectBody =
                    switch variant.body {
                    case .bytes(let bytes): { .bytes(bytes) }
                    case .file(let path): { .file(atPath: path) }
                    }
                try await uploader.put(
                    prefix + variant.path,
                    options: PutOptions(
                        contentType: entry.contentType, cacheControl: cacheControl, contentEncoding: "gzip"),
                    body: variantBody)
            }
            let warm: WarmEntry? =
                if entry.contentType.hasPrefix("text/html"), let bytes = prepared.bytes, bytes.count <= warmMaxFileBytes
                {
                    WarmEntry(
                        path: file.path, identity: bytes,
                        gzip: prepared.gzip.flatMap { if case .bytes(let gzip) = $0.body { gzip } else { nil } })
                } else { nil }
            collected.withLock { state in
                state.files[file.path] = entry
                state.objects += prepared.gzip == nil ? 1 : 2
                if prepared.gzip != nil { state.variants += 1 }
                if let warm {
                    let cost = warm.identity.count + (warm.gzip?.count ?? 0)
                    if state.warmBytes + cost <= warmMaxBytes {
                        state.warmBytes += cost
                        state.warm.append(warm)
                    }
                }
            }
        }

        let result = collected.withLock { $0 }
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
            objectCount: result.objects + 1,
            variantCount: result.variants, warmEntries: result.warm)
    }

    private struct Collected: Sendable {
        var files: [String: ManifestFile] = [:]
        var objects = 0
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
