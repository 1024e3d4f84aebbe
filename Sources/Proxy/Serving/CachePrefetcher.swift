import Logging
import Model
import NIOCore
import Storage
import Synchronization

/// Warms the proxy's own caches when a build is activated, so that the first
/// visitors after a deploy or a rollback are answered from memory instead of
/// paying a GET to the store.
///
/// In a fleet the builder runs on another machine, and the cache it warms
/// after an activation is not the one any proxy reads. So each proxy does it
/// itself: for every `activated` catalog event its site table sees
/// (`Routing/SiteTable+Sync.swift`), it loads the build's manifest and then
/// the bodies the builder would warm — HTML files up to
/// `ProxyConfiguration.Prefetch.maxFileBytes`, with their precompressed
/// variants, within `maxBytes` per activation — `concurrency` objects at a time.
///
/// - Everything goes through the loading paths requests use
///   (`ManifestStore.load(siteID:buildID:)` and
///   `BodySource.loadCached(_:into:upstream:)`), under the cache keys requests
///   use (`BodyCache.key(objectKey:)`): a request arriving during
///   the prefetch joins the same load, and the first one after it is a hit.
/// - ``activated(_:)`` only starts a task off the event loops, so the event
///   consumer never waits; a newer activation of the same site cancels the
///   prefetch still running for an older one.
/// - A failure is logged and counted, and changes nothing else: requests load
///   what the prefetch could not.
final class CachePrefetcher: Sendable {
    private let configuration: ProxyConfiguration.Prefetch
    private let manifests: ManifestStore
    private let bodyCache: BodyCache
    private let bodySource: BodySource
    private let upstream: ProxyConfiguration.Upstream
    private let metrics: ProxyMetrics
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        /// The prefetch running for each site, with the number that tells it
        /// apart from the one a newer activation started.
        var running: [SiteID: (number: UInt64, task: Task<Void, Never>)] = [:]
        var nextNumber: UInt64 = 0
        var stopped = false
    }

    init(
        configuration: ProxyConfiguration.Prefetch, manifests: ManifestStore, bodyCache: BodyCache,
        bodySource: BodySource, upstream: ProxyConfiguration.Upstream, metrics: ProxyMetrics, logger: Logger
    ) {
        self.configuration = configuration
        self.manifests = manifests
        self.bodyCache = bodyCache
        self.bodySource = bodySource
        self.upstream = upstream
        self.metrics = metrics
        self.logger = logger
    }

    /// Starts prefetching `activation`'s build in the background, cancelling
    /// the prefetch of an older activation of the same site. Returns at once.
    func activated(_ activation: Activation) {
        guard configuration.isEnabled else { return }
        state.withLock { state in
            guard !state.stopped else { return }
            let number = state.nextNumber
            state.nextNumber += 1
            state.running[activation.siteID]?.task.cancel()
            // Detached: the prefetch must neither run on the caller's executor
            // nor inherit anything from the event consumer.
            let task = Task.detached(priority: .utility) { [self] in
                let result = await prefetch(activation)
                metrics.prefetchEnded(result)
                finished(siteID: activation.siteID, number: number)
            }
            state.running[activation.siteID] = (number, task)
        }
    }

    /// Forgets a prefetch that ended, unless a newer one replaced it.
    private func finished(siteID: SiteID, number: UInt64) {
        state.withLock { state in
            if state.running[siteID]?.number == number { state.running[siteID] = nil }
        }
    }

    /// Prefetches running now (diagnostics and tests).
    var runningCount: Int { state.withLock { $0.running.count } }

    /// Cancels every prefetch, waits for them to end, and starts no new one.
    func stop() async {
        let tasks = state.withLock { state in
            state.stopped = true
            defer { state.running.removeAll() }
            return state.running.values.map(\.task)
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    // MARK: Prefetching

    private func prefetch(_ activation: Activation) async -> ProxyMetrics.PrefetchResult {
        let metadata: Logger.Metadata = [
            "site": "\(activation.siteID)", "build": "\(activation.buildID)", "number": "\(activation.buildNumber)",
        ]
        let loaded: LoadedManifest
        do {
            loaded = try await manifests.load(siteID: activation.siteID, buildID: activation.buildID)
        } catch {
            if Task.isCancelled { return .canceled }
            var failed = metadata
            failed["error"] = "\(error)"
            logger.warning("cannot prefetch an activated build: its manifest did not load", metadata: failed)
            return .failed
        }
        if Task.isCancelled { return .canceled }

        let selection = Self.selection(
            of: loaded.manifest, buildID: activation.buildID, maxFileBytes: configuration.maxFileBytes,
            maxBytes: configuration.maxBytes, maxEntryBytes: bodyCache.maxEntryBytes)
        // What is cached already (a request was quicker, or the builder of a
        // single-process Slipway warmed it) costs nothing more.
        let missing = selection.filter { !bodyCache.contains($0.cacheKey) }
        let failures = await withTaskGroup(of: (BodyObject, (any Error)?).self) { group in
            var pending = missing.makeIterator()
            func startNext() -> Bool {
                guard !Task.isCancelled, let object = pending.next() else { return false }
                group.addTask { [self] in
                    do {
                        let bytes = try await bodySource.loadCached(
                            object, into: bodyCache, upstream: upstream, counted: false)
                        metrics.prefetched(bytes: bytes.readableBytes)
                        return (object, nil)
                    } catch {
                        return (object, error)
                    }
                }
                return true
            }
            for _ in 0..<configuration.concurrency {
                guard startNext() else { break }
            }
            var failures: [(BodyObject, any Error)] = []
            while let (object, error) = await group.next() {
                if let error { failures.append((object, error)) }
                _ = startNext()
            }
            return failures
        }
        if Task.isCancelled { return .canceled }
        for (object, error) in failures {
            var failed = metadata
            failed["object"] = "\(object.objectKey)"
            failed["error"] = "\(error)"
            logger.debug("an object of an activated build could not be prefetched", metadata: failed)
        }
        guard failures.isEmpty else {
            var failed = metadata
            failed["failed"] = "\(failures.count)"
            failed["objects"] = "\(missing.count)"
            logger.warning(
                "some objects of an activated build could not be prefetched; requests will load them",
                metadata: failed)
            return .failed
        }
        var done = metadata
        done["objects"] = "\(missing.count)"
        logger.debug("prefetched an activated build", metadata: done)
        return .completed
    }

    /// The bodies to prefetch for a build, in the order they are loaded: its
    /// HTML files (content type `text/html`) of at most `maxFileBytes`, each
    /// with its precompressed variants, shallowest paths first and a
    /// directory's `index.html` before its other files; a file whose bodies
    /// would take the total over `maxBytes` is skipped (a smaller one may
    /// still fit). Files the body cache would not admit (over
    /// `maxEntryBytes`) are never chosen: requests stream them.
    static func selection(
        of manifest: BuildManifest, buildID: BuildID, maxFileBytes: Int, maxBytes: Int, maxEntryBytes: Int
    ) -> [BodyObject] {
        let limit = Int64(min(maxFileBytes, maxEntryBytes))
        let candidates = manifest.files
            .filter { $0.value.contentType.hasPrefix("text/html") && $0.value.size <= limit }
            .map { path, file in (path: path, file: file, depth: path.count(where: { $0 == "/" })) }
            .sorted { left, right in
                if left.depth != right.depth { return left.depth < right.depth }
                let leftIndex = left.path == "index.html" || left.path.hasSuffix("/index.html")
                let rightIndex = right.path == "index.html" || right.path.hasSuffix("/index.html")
                if leftIndex != rightIndex { return leftIndex }
                return left.path < right.path
            }
        var chosen: [BodyObject] = []
        var total: Int64 = 0
        for candidate in candidates {
            let identityKey = manifest.objectKey(for: candidate.path, sha256: candidate.file.sha256)
            var objects = [
                BodyObject(
                    cacheKey: BodyCache.key(objectKey: identityKey), objectKey: identityKey,
                    size: candidate.file.size, isCacheable: true)
            ]
            for (_, variant) in candidate.file.variants.sorted(by: { $0.key < $1.key })
            where variant.size <= Int64(maxEntryBytes) {
                let variantKey = manifest.objectKey(for: variant.path, sha256: variant.sha256)
                objects.append(
                    BodyObject(
                        cacheKey: BodyCache.key(objectKey: variantKey), objectKey: variantKey, size: variant.size,
                        isCacheable: true))
            }
            let cost = objects.reduce(Int64(0)) { $0 + $1.size }
            guard total + cost <= Int64(maxBytes) else { continue }
            total += cost
            chosen += objects
        }
        return chosen
    }
}
