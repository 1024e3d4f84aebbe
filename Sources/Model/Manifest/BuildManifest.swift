public import Foundation

/// Everything the proxy needs to serve one build, written by the builder as
/// `manifests/<siteId>/<buildId>.json` after every file is stored. A build
/// without a manifest is not servable.
///
/// Paths are site paths without the leading `/` (`index.html`,
/// `assets/app-3f9a1b2c.js`); a file's bytes live at
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

    public static let currentVersion = 1

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

    /// The object key of a file (or variant) path of this build.
    public func objectKey(for path: String) -> String {
        BuildManifest.filesPrefix(siteID: siteID, buildID: buildID) + path
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
        guard manifest.version == currentVersion else {
            throw ManifestError(
                "build manifest version \(manifest.version) is not supported by this Slipway (expects \(currentVersion))"
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

    public init(
        size: Int64, etag: String, contentType: String, immutable: Bool, variants: [String: ManifestVariant] = [:]
    ) {
        self.size = size
        self.etag = etag
        self.contentType = contentType
        self.immutable = immutable
        self.variants = variants
    }
}

/// A precompressed copy of a file.
public struct ManifestVariant: Codable, Sendable, Equatable {
    /// The variant's path within the build (its bytes are at `sites/<siteId>/<buildId>/<path>`).
    public var path: String
    public var size: Int64
    /// A strong validator for the variant's bytes, without quotes; differs from the file's.
    public var etag: String

    public init(path: String, size: Int64, etag: String) {
        self.path = path
        self.size = size
        self.etag = etag
    }
}

/// A manifest that cannot be used, with the reason.
public struct ManifestError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
