public import Foundation
public import Storage

/// What the admin API works on: the catalog, the event bus, the object store
/// and a few hooks into the builder and the proxy's cache.
public struct AdminServices: Sendable {
    public var catalog: any Catalog
    public var bus: any EventBus
    public var store: any ObjectStore
    /// Called after a build was queued, to wake the worker pool
    /// (`BuildWorkerPool.wake()`).
    public var buildsQueued: @Sendable () -> Void
    /// How many builds this process runs now (`BuildWorkerPool.runningBuilds.count`);
    /// nil to report the catalog's count of `building` builds instead.
    public var runningBuilds: (@Sendable () -> Int)?
    /// The body cache's figures; nil when this process has no cache (an
    /// admin-only role), and the stats then report `cache: null`.
    public var cacheFigures: (@Sendable () -> CacheFigures)?
    /// Every metric of the process in the Prometheus text format, for
    /// `GET /metrics`; nil when metrics are not collected.
    public var metricsText: (@Sendable () -> String)?
    /// What else `GET /readyz` asks besides the catalog and the object store
    /// (the event listener, the proxy's site table).
    public var readinessChecks: [ReadinessCheck]
    /// Why builds cannot run where this process queues them (its builder
    /// found no container engine and may not run builds unsandboxed); nil
    /// when they can. Requests that would queue a build are answered 503
    /// `builds_unavailable` with it instead of waiting in the queue.
    public var buildsUnavailable: String?
    /// The time source of token expiry, last-use throttling and audit
    /// retention; tests pass one they move by hand.
    public var clock: @Sendable () -> Date = Date.init
    /// Where uploaded custom-domain certificates are kept (their keys
    /// sealed); nil refuses uploads.
    public var certificateObjects: DomainCertificateObjects?

    public init(
        catalog: any Catalog,
        bus: any EventBus,
        store: any ObjectStore,
        buildsQueued: @escaping @Sendable () -> Void = {},
        runningBuilds: (@Sendable () -> Int)? = nil,
        cacheFigures: (@Sendable () -> CacheFigures)? = nil,
        metricsText: (@Sendable () -> String)? = nil,
        readinessChecks: [ReadinessCheck] = [],
        buildsUnavailable: String? = nil
    ) {
        self.buildsUnavailable = buildsUnavailable
        self.catalog = catalog
        self.bus = bus
        self.store = store
        self.buildsQueued = buildsQueued
        self.runningBuilds = runningBuilds
        self.cacheFigures = cacheFigures
        self.metricsText = metricsText
        self.readinessChecks = readinessChecks
    }
}

/// One thing a process needs to serve, asked by `GET /readyz`.
public struct ReadinessCheck: Sendable {
    /// Nil when ready; otherwise what is wrong, for the answer and the log.
    public var problem: @Sendable () async -> String?

    public init(problem: @escaping @Sendable () async -> String?) {
        self.problem = problem
    }
}

/// The body cache's figures as the stats endpoint reports them.
public struct CacheFigures: Sendable, Hashable {
    /// Lookups answered from the cache since the process started.
    public var hits: Int
    /// Lookups that went to the object store.
    public var misses: Int
    /// Bytes held now.
    public var bytes: Int
    /// Entries held now.
    public var entries: Int
    /// The cache's byte budget.
    public var capacityBytes: Int

    public init(hits: Int, misses: Int, bytes: Int, entries: Int, capacityBytes: Int) {
        self.hits = hits
        self.misses = misses
        self.bytes = bytes
        self.entries = entries
        self.capacityBytes = capacityBytes
    }

    /// Hits over lookups, 0…1; nil before the first lookup.
    public var hitRatio: Double? {
        let lookups = hits + misses
        return lookups > 0 ? Double(hits) / Double(lookups) : nil
    }
}
