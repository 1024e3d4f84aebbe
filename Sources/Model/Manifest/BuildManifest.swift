public import Foundation

/// Everything the proxy needs to serve one build, written by the builder as
/// `manifests/<siteId>/<buildId>.json` after every file is stored. A build
/// without a manifest is not servable.
///
/// Paths are site paths without the leading `/` (`index.html`,
/// `assets/app-3f9a1b2c.js`). From version 2 on every file and variant
/// names its SHA-256 and its bytes are the blob of that digest
/// (``ContentAddress``), shared by every build of the site that has the same
/// bytes; a version 1 manifest's bytes live at
/// `sites/<siteId>/<buildId>/<path>`.
public struct BuildManifest: Codable, Sendable, Equatable {
    /// The format version; readers refuse versions they do not know.
    public var version: Int
    public var siteID: String
    public var buildID: String
    public var createdAt: Date
    public var files: [String: ManifestFile]
    /// Parsed `_redirects`, in file order.
    public var redirects: [RedirectRule]
    /// Parsed `_headers`, in file order.
    public var headers: [HeaderRule]

    /// The version written: 2, content-addressed files.
    public static let currentVersion = 2
    /// Versions read: 1 (files under the build's prefix) and 2.
    public static let readableVersions = 1...2

    public init(
        siteID: String, buildID: String, createdAt: Date = Date(), files: [String: ManifestFile],
        redirects: [RedirectRule] = [], headers: [HeaderRule] = []
    ) {
        self.version = BuildManifest.currentVersion
        self.siteID = siteID
        self.buildID = buildID
        self.createdAt = createdAt
        self.files = files
        self.redirects = redirects
        self.headers = headers
    }

    /// Where a build's manifest is stored.
    public static func key(siteID: String, buildID: String) -> String { "manifests/\(siteID)/\(buildID).json" }

    /// The prefix under which a build's files are stored (ends with `/`).
    public static func filesPrefix(siteID: String, buildID: String) -> String { "sites/\(siteID)/\(buildID)/" }

    /// The object key of a file (or variant) of this build: the blob of
    /// its digest, or, in a version 1 manifest (no digest), its path under
    /// the build's prefix.
    public func objectKey(for path: String, sha256: String?) -> String {
        if let sha256 { return ContentAddress.key(sha256: sha256) }
        return BuildManifest.filesPrefix(siteID: siteID, buildID: buildID) + path
    }

    /// The object key of a file or variant path of this build (a variant
    /// path is `.slipway/gzip/<path>.gz`): its blob when the manifest names
    /// its digest, else its key under the build's prefix.
    public func objectKey(for path: String) -> String {
        if let file = files[path] { return objectKey(for: path, sha256: file.sha256) }
        if path.hasPrefix(ManifestEntryBuilder.variantPrefix), path.hasSuffix(".gz") {
            let original = String(path.dropFirst(ManifestEntryBuilder.variantPrefix.count).dropLast(3))
            if let variant = files[original]?.variants.values.first(where: { $0.path == path }) {
                return objectKey(for: path, sha256: variant.sha256)
            }
        }
        return BuildManifest.filesPrefix(siteID: siteID, buildID: buildID) + path
    }

    /// Every blob digest the manifest refers to (files and variants).
    public var blobDigests: Set<String> {
        var digests = Set<String>()
        for file in files.values {
            if let sha256 = file.sha256 { digests.insert(sha256) }
            for variant in file.variants.values { if let sha256 = variant.sha256 { digests.insert(sha256) } }
        }
        return digests
    }

    /// Whether the build has a top-level `404.html` (an `auto` site with one
    /// is treated as a static site, not an SPA).
    public var hasRootNotFoundPage: Bool { files["404.html"] != nil }

    /// Total bytes of the build's files (variants not counted).
    public var totalBytes: Int64 { files.values.reduce(0) { $0 + $1.size } }

    /// Encodes the manifest as stored (sorted keys, so equal builds give equal bytes).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    /// Decodes a stored manifest.
    /// - Throws: `ManifestError` when the data is not a manifest of a known version.
    public static func decode(_ data: Data) throws -> BuildManifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let manifest: BuildManifest
        do {
            manifest = try decoder.decode(BuildManifest.self, from: data)
        } catch {
            throw ManifestError("the build manifest cannot be read (\(error)); rebuild the site")
        }
        guard readableVersions.contains(manifest.version) else {
            throw ManifestError(
                "build manifest version \(manifest.version) is not supported by this Slipway (it reads versions \(readableVersions.lowerBound) to \(readableVersions.upperBound)); upgrade this node"
            )
        }
        return manifest
    }
}

/// One published file.
public struct ManifestFile: Codable, Sendable, Equatable {
    public var size: Int64
    /// A strong validator for the file's bytes (hex of a content hash), without quotes.
    public var etag: String
    /// `Content-Type`, with `charset=utf-8` for text types.
    public var contentType: String
    /// A content-hashed asset: served with `Cache-Control: public, max-age=31536000, immutable`.
    public var immutable: Bool
    /// Precompressed variants by content coding (`gzip`, `br`).
    public var variants: [String: ManifestVariant]
    /// The SHA-256 of the bytes (64 hex digits), naming their blob; absent
    /// in version 1 manifests.
    public var sha256: String?

    public init(
        size: Int64, etag: String, contentType: String, immutable: Bool, variants: [String: ManifestVariant] = [:],
        sha256: String? = nil
    ) {
        self.size = size
        self.etag = etag
        self.contentType = contentType
        self.immutable = immutable
        self.variants = variants
        self.sha256 = sha256
    }
}

/// A precompressed copy of a file.
public struct ManifestVariant: Codable, Sendable, Equatable {
    /// The variant's path within the build (`.slipway/gzip/<path>.gz`;
    /// in a version 1 manifest its bytes are at `sites/<siteId>/<buildId>/<path>`).
    public var path: String
    public var size: Int64
    /// A strong validator for the variant's bytes, without quotes; differs from the file's.
    public var etag: String
    /// The SHA-256 of the variant's bytes, naming their blob; absent in version 1 manifests.
    public var sha256: String?

    public init(path: String, size: Int64, etag: String, sha256: String? = nil) {
        self.path = path
        self.size = size
        self.etag = etag
        self.sha256 = sha256
    }
}

/// A manifest that cannot be used, with the reason.
public struct ManifestError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
