import Foundation
import Model
import Storage

/// A fixture site tree under `Tests/ProxyTests/Fixtures/sites/<name>` laid
/// out exactly as the builder publishes it: every file's manifest entry and
/// gzip variant come from the model's `ManifestEntryBuilder` (the code the
/// builder publishes with), and `_redirects` and `_headers` are parsed by the
/// same parsers.
struct FixtureSite: Sendable {
    /// Every stored object by site path: the tree's files (`_redirects` and
    /// `_headers` included) and the gzip variants under `.slipway/gzip/`.
    let files: [String: Data]
    let manifest: BuildManifest
    let problems: [RuleProblem]

    init(_ name: String, siteID: String = "site1", buildID: String = "build1", extraFiles: [String: Data] = [:]) throws
    {
        guard let base = Bundle.module.url(forResource: "Fixtures/sites/\(name)", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey])!
        for case let url as URL in enumerator
        where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let path = String(url.standardizedFileURL.path.dropFirst(base.standardizedFileURL.path.count + 1))
            files[path] = try Data(contentsOf: url)
        }
        files.merge(extraFiles) { _, extra in extra }
        try self.init(files: files, siteID: siteID, buildID: buildID)
    }

    /// A site made of `files`, with the manifest and variants the builder would publish.
    init(
        files: [String: Data], siteID: String, buildID: String,
        createdAt: Date = Date(timeIntervalSince1970: 1_750_000_000)
    ) throws {
        var entries: [String: ManifestFile] = [:]
        var stored = files
        var redirects: [RedirectRule] = []
        var headers: [HeaderRule] = []
        var problems: [RuleProblem] = []
        for (path, data) in files.sorted(by: { $0.key < $1.key }) {
            switch path {
            case "_redirects":
                let parsed = RedirectRules.parse(String(decoding: data, as: UTF8.self))
                redirects = parsed.rules
                problems += parsed.problems
            case "_headers":
                let parsed = HeaderRules.parse(String(decoding: data, as: UTF8.self))
                headers = parsed.rules
                problems += parsed.problems
            default:
                let (entry, gzip) = try ManifestEntryBuilder.entry(path: path, bytes: [UInt8](data))
                entries[path] = entry
                if let gzip, let variant = entry.variants["gzip"] { stored[variant.path] = Data(gzip) }
            }
        }
        self.files = stored
        self.manifest = BuildManifest(
            siteID: siteID, buildID: buildID, createdAt: createdAt, files: entries, redirects: redirects,
            headers: headers)
        self.problems = problems
    }

    private init(files: [String: Data], manifest: BuildManifest, problems: [RuleProblem]) {
        self.files = files
        self.manifest = manifest
        self.problems = problems
    }

    /// The same site as Slipway laid builds out before publishing by
    /// content: a version 1 manifest without digests, every file and
    /// variant under `sites/<siteId>/<buildId>/`.
    func legacyLayout() -> FixtureSite {
        var manifest = self.manifest
        manifest.version = 1
        for (path, var file) in manifest.files {
            file.sha256 = nil
            for (coding, var variant) in file.variants {
                variant.sha256 = nil
                file.variants[coding] = variant
            }
            manifest.files[path] = file
        }
        return FixtureSite(files: files, manifest: manifest, problems: problems)
    }

    /// The bytes of a site path.
    func data(_ path: String) -> Data { files[path]! }

    /// Stores every file and variant, then the manifest, as the builder
    /// publishes a build: the manifest last.
    func publish(to store: any ObjectStore) async throws {
        for (path, file) in manifest.files.sorted(by: { $0.key < $1.key }) {
            try await store.put(
                manifest.objectKey(for: path), body: .bytes(files[path]!),
                options: PutOptions(contentType: file.contentType, cacheControl: file.cacheControl))
            if let variant = file.variants["gzip"] {
                try await store.put(
                    manifest.objectKey(for: variant.path), body: .bytes(files[variant.path]!),
                    options: PutOptions(
                        contentType: file.contentType, cacheControl: file.cacheControl, contentEncoding: "gzip"))
            }
        }
        try await publishManifest(to: store)
    }

    func publishManifest(to store: any ObjectStore) async throws {
        try await store.put(
            BuildManifest.key(siteID: manifest.siteID, buildID: manifest.buildID), body: .bytes(try manifest.encoded()),
            options: PutOptions(contentType: "application/json"))
    }
}

/// Deterministic bytes that are not all alike, for large objects.
func patternBytes(count: Int, seed: UInt8 = 7) -> Data {
    var bytes = [UInt8](repeating: 0, count: count)
    var state = UInt32(seed) &* 2_654_435_761 | 1
    for index in 0..<count {
        state ^= state << 13
        state ^= state >> 17
        state ^= state << 5
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    return Data(bytes)
}
