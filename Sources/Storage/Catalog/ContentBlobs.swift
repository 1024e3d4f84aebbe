package import Model

/// A blob stored (or about to be) by content: its SHA-256 and size.
public struct StoredBlob: Sendable, Hashable {
    /// 64 lower-case hex digits (``ContentAddress/isDigest(_:)``).
    public var sha256: String
    public var size: Int64

    public init(sha256: String, size: Int64) {
        self.sha256 = sha256
        self.size = size
    }
}

/// Blob counts for operations (`/api/stats`, metrics).
public struct BlobStats: Sendable, Hashable {
    /// Blobs stored and in use by at least one site.
    public var blobs: Int
    /// Their bytes.
    public var bytes: Int64
    /// Blobs no site has any more, waiting for collection.
    public var unreferenced: Int

    public init(blobs: Int, bytes: Int64, unreferenced: Int) {
        self.blobs = blobs
        self.bytes = bytes
        self.unreferenced = unreferenced
    }
}

/// Checks shared by both catalogs' blob methods.
package enum BlobRules {
    /// Most digests one call takes (a build of the largest allowed output
    /// asks for its files and variants in batches of this size).
    package static let maxBatch = 5000

    package static func check(_ digests: [String]) throws {
        guard digests.count <= maxBatch else {
            throw CatalogError(
                code: .invalidInput,
                message: "at most \(maxBatch) blob digests are taken at once (\(digests.count) given)")
        }
        for digest in digests where !ContentAddress.isDigest(digest) {
            throw CatalogError(
                code: .invalidInput,
                message: "'\(digest.prefix(80))' is not a SHA-256 digest: give 64 lower-case hexadecimal digits")
        }
    }

    package static func check(_ blobs: [StoredBlob]) throws {
        try check(blobs.map(\.sha256))
        for blob in blobs where blob.size < 0 {
            throw CatalogError(code: .invalidInput, message: "blob \(blob.sha256) has a negative size")
        }
    }

    /// The refusal when a blob is being collected: store it again and retry.
    package static func collecting(_ digests: [String]) -> CatalogError {
        CatalogError(
            code: .blobCollecting,
            message:
                "\(digests.count) blob\(digests.count == 1 ? " is" : "s are") being deleted by the collector (\(digests.prefix(3).joined(separator: ", "))\(digests.count > 3 ? ", …" : "")); retry in a moment: the upload is then stored anew"
        )
    }
}
