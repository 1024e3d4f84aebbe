import CoreMetrics
import Foundation
import Model
import NIOCore
import Storage

/// A build's manifest, decoded once, with what every response of the build needs.
final class LoadedManifest: Sendable {
    let manifest: BuildManifest
    /// `Last-Modified` of every file of the build: when the build was published.
    let lastModified: Int64
    let lastModifiedText: String
    /// Its `_redirects` rules and `404.html` pages, indexed for resolution.
    let routes: RouteIndex
    /// Whether an `auto` site falls back to `index.html` for unknown routes.
    var isSPAByDefault: Bool { !manifest.hasRootNotFoundPage }

    init(_ manifest: BuildManifest) {
        self.manifest = manifest
        self.lastModified = Int64(manifest.createdAt.timeIntervalSince1970.rounded(.down))
        self.lastModifiedText = HTTPDate.format(epochSeconds: lastModified)
        self.routes = RouteIndex(manifest)
    }
}

/// Manifests by build id: loaded from the store once per build (concurrent
/// loads of one build collapse into one GET) and kept in a byte-bounded LRU.
/// Builds never change, so an entry never goes stale.
final class ManifestStore: Sendable {
    private let store: any ObjectStore
    private let cache: LRUCache<String, LoadedManifest>
    private let maxBytes: Int
    private let timeout: Duration

    init(
        store: any ObjectStore, capacityBytes: Int, maxBytes: Int, timeout: Duration, metricsFactory: any MetricsFactory
    ) {
        self.store = store
        self.maxBytes = maxBytes
        self.timeout = timeout
        self.cache = LRUCache(
            capacityBytes: capacityBytes, maxEntryBytes: max(maxBytes, capacityBytes / 16), shardCount: 4,
            name: "manifests",
            metricsFactory: metricsFactory)
    }

    /// The manifest when it is in memory (the hot path: no suspension).
    func cached(buildID: BuildID) -> LoadedManifest? {
        cache.get(buildID.rawValue)
    }

    /// The manifest, loading it when needed.
    /// - Throws: `ProxyError` (502: missing, unreadable or for another build;
    ///   504: the store did not answer within the upstream timeout).
    func load(siteID: SiteID, buildID: BuildID) async throws -> LoadedManifest {
        let store = self.store
        let maxBytes = self.maxBytes
        let timeout = self.timeout
        return try await cache.value(forKey: buildID.rawValue) {
            let key = BuildManifest.key(siteID: siteID.rawValue, buildID: buildID.rawValue)
            let bytes = try await withUpstreamTimeout(timeout, what: "the manifest of build \(buildID)") {
                do {
                    return try await store.getBytes(key, limit: maxBytes)
                } catch let error as ObjectStoreError where error.code == .notFound {
                    throw ProxyError.manifestUnusable(
                        "build \(buildID) is active but has no manifest at \(key); roll back or rebuild the site")
                } catch let error as ObjectStoreError where error.code == .tooLarge {
                    throw ProxyError.manifestUnusable("the manifest at \(key) is larger than \(maxBytes) bytes")
                }
            }
            let manifest: BuildManifest
            do {
                manifest = try BuildManifest.decode(Data(bytes.readableBytesView))
            } catch {
                throw ProxyError.manifestUnusable("the manifest at \(key) cannot be used: \(error)")
            }
            guard manifest.siteID == siteID.rawValue, manifest.buildID == buildID.rawValue else {
                throw ProxyError.manifestUnusable("the manifest at \(key) describes another build; rebuild the site")
            }
            return (LoadedManifest(manifest), bytes.readableBytes)
        }
    }
}
