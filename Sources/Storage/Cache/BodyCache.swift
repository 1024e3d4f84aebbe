public import NIOCore

/// The cache of file bodies the proxy serves from memory and the builder
/// warms after an activation: `LRUCache` keyed by `BodyCache.key(…)`.
///
/// Keys contain the build id, and a build's files never change once it
/// succeeded, so entries never need invalidation: a deploy is a pointer swap
/// and old builds' entries age out.
public typealias BodyCache = LRUCache<String, ByteBuffer>

extension LRUCache where Key == String, Value == ByteBuffer {
    /// The key of a build file's body, or of one of its precompressed variants.
    /// - Parameters:
    ///   - path: the manifest path (no leading `/`).
    ///   - encoding: `gzip`/`br` for a variant, nil for the identity body.
    public static func key(buildID: String, path: String, encoding: String? = nil) -> String {
        if let encoding { return buildID + "/" + path + "\u{0}" + encoding }
        return buildID + "/" + path
    }
}
