import Crypto

/// Turns one file of a build into its manifest entry: the one place that
/// decides a published file's strong ETag, content type, immutable flag and
/// gzip variant. The builder publishes every file through it, and anything
/// that must lay out a build exactly as the builder does (test fixtures,
/// tools) uses it too, so the two can never drift apart.
///
/// Feed the file's bytes in order with ``update(_:variantOutput:)``, then
/// call ``finish(variantOutput:)``. Compressible text of at least
/// ``minimumCompressibleSize`` bytes is gzipped as it streams; the variant is
/// kept only when it is at most ``maximumVariantRatio`` of the original. The
/// caller owns the variant's bytes (`variantOutput`) and may move them
/// elsewhere between calls (to a temporary file, say): the builder hashes and
/// counts them as they are produced.
///
/// Not thread-safe: one file per instance, driven by one thread.
public final class ManifestEntryBuilder {
    /// Files smaller than this are not worth a variant (gzip adds ~20 bytes of framing).
    public static let minimumCompressibleSize: Int64 = 256
    /// A variant must be at most this fraction of the original to be kept.
    public static let maximumVariantRatio = 0.9
    /// The top-level directory of a build that belongs to Slipway: a site's
    /// own files never go there (the builder skips it in the output).
    public static let reservedDirectory = ".slipway"
    /// Where generated variants live inside a build (`.slipway/gzip/<path>.gz`).
    public static let variantPrefix = reservedDirectory + "/gzip/"
    /// Hex characters of the SHA-256 kept in an ETag (128 bits).
    public static let etagLength = 32

    /// The file's site path (`index.html`, `assets/app-3f9a1b2c.js`).
    public let path: String
    /// `Content-Type` by extension, with `charset=utf-8` for text.
    public let contentType: String
    /// The site path of the gzip variant, should one be kept.
    public var variantPath: String { Self.variantPrefix + path + ".gz" }
    /// Bytes fed so far.
    public private(set) var size: Int64 = 0
    /// Variant bytes produced so far.
    public private(set) var variantSize: Int64 = 0

    private var hasher = SHA256()
    private var variantHasher = SHA256()
    private let compressor: GzipCompressor?

    /// - Parameters:
    ///   - path: the file's site path.
    ///   - expectedSize: its size on disk; a file below
    ///     ``minimumCompressibleSize`` gets no variant.
    public init(path: String, expectedSize: Int64) throws(GzipCompressor.Failure) {
        self.path = path
        contentType = ContentTypes.forPath(path)
        let compress = ContentTypes.isCompressible(contentType) && expectedSize >= Self.minimumCompressibleSize
        compressor = compress ? try GzipCompressor() : nil
    }

    /// Whether a gzip variant is being produced.
    public var compresses: Bool { compressor != nil }

    /// Feeds the next bytes of the file; compressed output (if any) is
    /// appended to `variantOutput`.
    public func update(_ chunk: UnsafeRawBufferPointer, variantOutput: inout [UInt8]) throws(GzipCompressor.Failure) {
        size += Int64(chunk.count)
        hasher.update(bufferPointer: chunk)
        guard let compressor else { return }
        let before = variantOutput.count
        try compressor.update(chunk, into: &variantOutput)
        account(variantOutput, from: before)
    }

    /// Ends the file: appends the rest of the variant (if any) to
    /// `variantOutput` and returns the manifest entry, with the variant only
    /// when it is worth keeping (``keepsVariant``).
    public func finish(variantOutput: inout [UInt8]) throws(GzipCompressor.Failure) -> ManifestFile {
        let digest = hasher.finalize()
        var entry = ManifestFile(
            size: size, etag: Self.etag(digest), contentType: contentType,
            immutable: AssetClassifier.isImmutable(path), sha256: Hex.encode(digest))
        if let compressor {
            let before = variantOutput.count
            try compressor.finish(into: &variantOutput)
            account(variantOutput, from: before)
            if keepsVariant {
                let variantDigest = variantHasher.finalize()
                entry.variants["gzip"] = ManifestVariant(
                    path: variantPath, size: variantSize, etag: Self.etag(variantDigest),
                    sha256: Hex.encode(variantDigest))
            }
        }
        return entry
    }

    /// Whether the variant saves enough to be published.
    public var keepsVariant: Bool {
        compressor != nil && Double(variantSize) <= Double(size) * Self.maximumVariantRatio
    }

    private func account(_ output: [UInt8], from start: Int) {
        guard output.count > start else { return }
        output[start...].withUnsafeBytes { variantHasher.update(bufferPointer: $0) }
        variantSize += Int64(output.count - start)
    }

    /// The manifest entry of a file held in memory, and its gzip variant's
    /// bytes when one is kept.
    public static func entry(path: String, bytes: [UInt8]) throws(GzipCompressor.Failure) -> (
        file: ManifestFile, gzip: [UInt8]?
    ) {
        let builder = try ManifestEntryBuilder(path: path, expectedSize: Int64(bytes.count))
        var variant: [UInt8] = []
        var failure: GzipCompressor.Failure?
        bytes.withUnsafeBytes { raw in
            do throws(GzipCompressor.Failure) { try builder.update(raw, variantOutput: &variant) } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        let file = try builder.finish(variantOutput: &variant)
        return (file, file.variants["gzip"] == nil ? nil : variant)
    }

    /// The manifest entry of a file known by its digest and size (an
    /// uploaded file, whose bytes the server checked when they arrived),
    /// exactly as ``finish(variantOutput:)`` makes it from the bytes: the
    /// gzip variant (its blob's digest and size) is kept only where the
    /// builder would keep it.
    public static func entry(path: String, size: Int64, sha256: String, gzip: (sha256: String, size: Int64)?)
        -> ManifestFile
    {
        let contentType = ContentTypes.forPath(path)
        var entry = ManifestFile(
            size: size, etag: String(sha256.prefix(etagLength)), contentType: contentType,
            immutable: AssetClassifier.isImmutable(path), sha256: sha256)
        if let gzip, ContentTypes.isCompressible(contentType), size >= minimumCompressibleSize,
            Double(gzip.size) <= Double(size) * maximumVariantRatio
        {
            entry.variants["gzip"] = ManifestVariant(
                path: variantPrefix + path + ".gz", size: gzip.size, etag: String(gzip.sha256.prefix(etagLength)),
                sha256: gzip.sha256)
        }
        return entry
    }

    /// A strong ETag (without quotes) for a SHA-256 digest: its first
    /// ``etagLength`` hex characters.
    static func etag(_ digest: SHA256.Digest) -> String {
        Hex.encode(digest, maxBytes: etagLength / 2)
    }
}

extension ManifestFile {
    /// The `Cache-Control` a published file is stored and served with:
    /// a year and `immutable` for hashed assets, revalidation otherwise.
    public var cacheControl: String { immutable ? CacheControl.immutable : CacheControl.revalidate }
}

/// The `Cache-Control` values Slipway sends by default.
public enum CacheControl {
    /// Pages and anything not known to be immutable: always revalidated with the ETag.
    public static let revalidate = "public, max-age=0, must-revalidate"
    /// Content-hashed assets.
    public static let immutable = "public, max-age=31536000, immutable"
    /// Slipway's own pages (building, failure, errors).
    public static let noStore = "no-store"
}
