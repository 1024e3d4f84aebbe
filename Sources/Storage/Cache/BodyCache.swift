public import NIOCore

/// The cache of file bodies the proxy serves from memory and the builder
/// warms after an activation: `LRUCache` keyed by `BodyCache.key(…)`.
///
/// Keys are object keys (``key(objectKey:)``): a blob's names its digest
/// and never changes, so entries never need invalidation and a redeploy
/// keeps the entries of every unchanged file; the keys of older builds'
/// files (under `sites/<siteId>/<buildId>/`) contain the build id, and such
/// a build's files never change once it succeeded. A deploy is a pointer
/// swap and entries no build uses any more age out.
public typealias BodyCache = LRUCache<String, ByteBuffer>

extension LRUCache where Key == String, Value == ByteBuffer {
    /// The key of a stored object's body: its object key.
    /// - Parameter objectKey: a blob's key (`blobs/…`) or an older build's file key.
    /// - Parameters:
    ///   - path: the manifest path (no leading `/`).
    ///   - encoding: `gzip`/`br` for a variant, nil for the identity body.
    public static func key(objectKey: String) -> String { objectKey }

    /// The key of a build file's body by build and path, for entries that
    /// are not stored objects.
    public static func key(buildID: String, path: String, encoding: String? = nil) -> String {
        if let encoding { return buildID + "/" + path + "\u{0}" + encoding }
        return buildID + "/" + path
    }
}
