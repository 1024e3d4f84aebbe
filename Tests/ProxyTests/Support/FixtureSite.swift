import Crypto
import Foundation
import Storage

/// A fixture site tree under `Tests/ProxyTests/Fixtures/sites/<name>` and the
/// manifest a build of it has: every file with its size, content type and
/// strong ETag, `.gz` sidecars as gzip variants, `_redirects` and `_headers`
/// parsed.
struct FixtureSite: Sendable {
    /// Every file of the tree by site path (`_redirects` and `_headers` included).
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
        self.init(files: files, siteID: siteID, buildID: buildID)
    }

    /// A site made of `files`, with the manifest the builder would write.
    init(
        files: [String: Data], siteID: String, buildID: String,
        createdAt: Date = Date(timeIntervalSince1970: 1_750_000_000)
    ) {
        var entries: [String: ManifestFile] = [:]
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
                entries[path] = ManifestFile(
                    size: Int64(data.count), etag: Self.etag(data), contentType: ContentTypes.forPath(path),
                    immutable: AssetClassifier.isImmutable(path))
            }
        }
        for (path, _) in entries where path.hasSuffix(".gz") {
            let original = String(path.dropLast(3))
            if let gz = entries[path], entries[original] != nil {
                entries[original]!.variants["gzip"] = ManifestVariant(path: path, size: gz.size, etag: gz.etag)
            }
        }
        self.files = files
        self.manifest = BuildManifest(
            siteID: siteID, buildID: buildID, createdAt: createdAt, files: entries, redirects: redirects,
            headers: headers)
        self.problems = problems
    }

    static func etag(_ data: Data) -> String {
        SHA256.hash(data: data).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// The bytes of a site path.
    func data(_ path: String) -> Data { files[path]! }

    /// Stores every file of the manifest, then the manifest itself, as the
    /// builder publishes a build: the manifest last.
    func publish(to store: any ObjectStore) async throws {
        for (path, file) in manifest.files.sorted(by: { $0.key < $1.key }) {
            try await store.put(
                manifest.objectKey(for: path), body: .bytes(files[path]!),
                options: PutOptions(contentType: file.contentType))
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
