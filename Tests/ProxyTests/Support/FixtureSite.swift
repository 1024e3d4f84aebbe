import Crypto
import Foundation
import Storage

/// A fixture site tree under `Tests/ProxyTests/Fixtures/sites/<name>` and the
/// manifest a build of it has: every file with its size, content type and
/// strong ETag, `.gz` sidecars as gzip variants, `_redirects` and `_headers`
/// parsed.
struct FixtureSite {
    let root: URL
    let manifest: BuildManifest
    let problems: [RuleProblem]

    init(_ name: String, siteID: String = "site1", buildID: String = "build1") throws {
        guard let base = Bundle.module.url(forResource: "Fixtures/sites/\(name)", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        root = base
        var files: [String: ManifestFile] = [:]
        var redirects: [RedirectRule] = []
        var headers: [HeaderRule] = []
        var problems: [RuleProblem] = []
        let enumerator = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey])!
        var paths: [String] = []
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            paths.append(String(url.standardizedFileURL.path.dropFirst(base.standardizedFileURL.path.count + 1)))
        }
        for path in paths.sorted() {
            let data = try Data(contentsOf: base.appendingPathComponent(path))
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
                files[path] = ManifestFile(
                    size: Int64(data.count), etag: Self.etag(data), contentType: ContentTypes.forPath(path),
                    immutable: AssetClassifier.isImmutable(path))
            }
        }
        for (path, _) in files where path.hasSuffix(".gz") {
            let original = String(path.dropLast(3))
            if let gz = files[path], files[original] != nil {
                files[original]!.variants["gzip"] = ManifestVariant(path: path, size: gz.size, etag: gz.etag)
            }
        }
        manifest = BuildManifest(siteID: siteID, buildID: buildID, files: files, redirects: redirects, headers: headers)
        self.problems = problems
    }

    static func etag(_ data: Data) -> String {
        SHA256.hash(data: data).prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
