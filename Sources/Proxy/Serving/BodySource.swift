import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Storage

/// One object of a build to send: which bytes, where they live, and whether
/// they may be kept in memory.
struct BodyObject: Sendable, Hashable {
    /// The key in the body cache (`BodyCache.key(objectKey:)`).
    var cacheKey: String
    /// The key in the object store: a blob's (`blobs/<aa>/<sha256>`), or an
    /// older build's file (`sites/<siteId>/<buildId>/<path>`).
    var objectKey: String
    /// The whole object's size, from the manifest.
    var size: Int64
    /// Small enough for the body cache: read whole and served from memory.
    var isCacheable: Bool
}

/// Where the proxy reads a build's bytes: the store's local files when it
/// has them (the disk store; sent with `sendfile`), or presigned GETs to an
/// S3-compatible store (streamed with backpressure through an `HTTPClient`
/// of the proxy's own, with redirects and decompression off). Decided once,
/// when the server is built, from what the store says it can do.
enum BodySource: Sendable {
    case localFiles(any LocalObjectFiles, store: any ObjectStore)
    case presigned(any ObjectStore, HTTPClient)

    /// A small object's bytes through the body cache: the cached bytes, or
    /// one ``loadWhole(_:timeout:presignExpiry:)`` shared by every caller
    /// waiting for the same key (requests and the prefetcher alike), whose
    /// result the cache keeps.
    /// - Throws: what `loadWhole` throws, or `CancellationError`.
    func loadCached(
        _ object: BodyObject, into cache: BodyCache, upstream: ProxyConfiguration.Upstream, counted: Bool = true
    ) async throws -> ByteBuffer {
        try await cache.value(forKey: object.cacheKey, counted: counted) {
            let bytes = try await self.loadWhole(
                object, timeout: upstream.timeout, presignExpiry: upstream.presignExpiry)
            return (bytes, bytes.readableBytes)
        }
    }

    /// Reads a whole (small) object into memory, checking that it has the
    /// size the manifest promised, so a truncated object is never cached.
    /// - Throws: `ProxyError` (502 or 504), or `CancellationError`.
    func loadWhole(_ object: BodyObject, timeout: Duration, presignExpiry: Duration) async throws -> ByteBuffer {
        let size = Int(object.size)
        do {
            return try await withUpstreamTimeout(timeout, what: "an object") {
                let bytes: ByteBuffer
                switch self {
                case .localFiles(_, let store):
                    bytes = try await store.getBytes(object.objectKey, limit: size)
                case .presigned(let store, let client):
                    let url = try store.presignedGET(key: object.objectKey, expiresIn: presignExpiry)
                    let request = HTTPClientRequest(url: url.url)
                    let response = try await client.execute(request, timeout: TimeAmount(timeout))
                    guard response.status == .ok else {
                        throw ProxyError.upstreamFailed(
                            "the object store answered \(response.status.code) for \(object.objectKey)")
                    }
                    bytes = try await response.body.collect(upTo: size)
                }
                guard bytes.readableBytes == size else {
                    throw ProxyError.objectMismatch(
                        "\(object.objectKey) has \(bytes.readableBytes) bytes but its manifest says \(size); rebuild the site"
                    )
                }
                return bytes
            }
        } catch {
            throw classifyUpstreamError(error, what: object.objectKey)
        }
    }
}
