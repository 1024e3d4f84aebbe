public import CoreMetrics
public import Synchronization

/// A byte-bounded, sharded least-recently-used cache of object bodies, shared
/// by the proxy (response bodies) and the builder (manifests).
///
/// - Every operation is O(1): each shard keeps a hash map into an intrusive
///   doubly-linked list stored in an array, so no node is allocated per entry.
/// - The byte budget is split evenly across shards, each behind its own lock,
///   so event-loop threads hitting different keys rarely contend and the
///   total never exceeds `capacityBytes`.
/// - Values costlier than `maxEntryBytes` are never admitted.
/// - `value(forKey:load:)` collapses concurrent misses of one key into one load.
/// - Hits, misses, evictions, entries and bytes are reported through
///   swift-metrics as `slipway_cache_*`.
public final class LRUCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// Total bytes the cache may hold across all shards.
    public let capacityBytes: Int
    /// The largest entry the cache admits.
    public let maxEntryBytes: Int

    @usableFromInline let shards: [Locked<LRUShard<Key, Value>>]
    @usableFromInline let shardMask: Int
    private let flights: [Locked<[Key: LoadFlight<Value>]>]
    @usableFromInline let metrics: LRUCacheMetrics

    /// - Parameters:
    ///   - capacityBytes: total budget (`SLIPWAY_CACHE_BYTES`).
    ///   - maxEntryBytes: per-entry limit (`SLIPWAY_CACHE_MAX_ENTRY_BYTES`);
    ///     also capped at one shard's budget.
    ///   - shardCount: rounded up to a power of two; more shards, less contention.
    ///   - name: the `cache` dimension of the exported metrics.
    ///   - metricsFactory: where metrics go (the global system by default).
    public init(
        capacityBytes: Int, maxEntryBytes: Int, shardCount: Int = 16, name: String = "objects",
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        precondition(capacityBytes >= 0 && maxEntryBytes >= 0, "cache sizes must not be negative")
        var count = 1
        while count < max(1, shardCount) { count <<= 1 }
        let perShard = capacityBytes / count
        self.capacityBytes = perShard * count
        self.maxEntryBytes = min(maxEntryBytes, perShard)
        self.shards = (0..<count).map { _ in Locked(LRUShard<Key, Value>(capacity: perShard)) }
        self.flights = (0..<count).map { _ in Locked([Key: LoadFlight<Value>]()) }
        self.shardMask = count - 1
        self.metrics = LRUCacheMetrics(name: name, factory: metricsFactory)
    }

    @inlinable func shardIndex(_ key: Key) -> Int { key.hashValue & shardMask }

    /// The value under `key`, marking it most recently used; counts a hit or a miss.
    /// Inlinable, so that a caller in another module gets code specialised
    /// for its key and value types (the proxy calls it on every request).
    @inlinable public func get(_ key: Key) -> Value? {
        let value = shards[shardIndex(key)].withLock { $0.get(key) }
        if value != nil { metrics.recordHit() } else { metrics.recordMiss() }
        return value
    }

    /// The value under `key`, marking it most recently used, without
    /// counting a hit or a miss (the caller is not answering a request with it).
    @inlinable public func peek(_ key: Key) -> Value? {
        shards[shardIndex(key)].withLock { $0.get(key) }
    }

    /// Whether `key` is cached, without touching recency or counters.
    @inlinable public func contains(_ key: Key) -> Bool {
        shards[shardIndex(key)].withLock { $0.index[key] != nil }
    }

    /// Stores `value` costing `cost` bytes, evicting least recently used
    /// entries of its shard as needed.
    /// - Returns: false when `cost` is over the entry limit (nothing stored;
    ///   an older value under `key` is removed so no stale value survives).
    @discardableResult
    public func put(_ key: Key, _ value: Value, cost: Int) -> Bool {
        let admitted = cost >= 0 && cost <= maxEntryBytes
        let change = shards[shardIndex(key)].withLock { shard in
            admitted ? shard.put(key, value, cost: cost) : shard.remove(key)
        }
        metrics.record(change)
        return admitted
    }

    /// Removes `key`; returns whether it was cached.
    @discardableResult
    public func remove(_ key: Key) -> Bool {
        let change = shards[shardIndex(key)].withLock { $0.remove(key) }
        metrics.record(change)
        return change.entries != 0
    }

    /// Empties the cache.
    public func removeAll() {
        for shard in shards {
            let change = shard.withLock { $0.removeAll() }
            metrics.record(change)
        }
    }

    /// Hits, misses and size since the cache was made (for stats pages; the
    /// same figures go to swift-metrics).
    public var statistics: LRUCacheStatistics {
        LRUCacheStatistics(
            hits: metrics.hitCount.load(ordering: .relaxed), misses: metrics.missCount.load(ordering: .relaxed),
            entries: metrics.entries.load(ordering: .relaxed), bytes: metrics.bytes.load(ordering: .relaxed),
            capacityBytes: capacityBytes)
    }

    /// Bytes currently held.
    public var totalBytes: Int { shards.reduce(0) { sum, shard in sum + shard.withLock { $0.bytes } } }

    /// Entries currently held.
    public var count: Int { shards.reduce(0) { sum, shard in sum + shard.withLock { $0.index.count } } }

    /// The cached value under `key`, or the result of `load`, with concurrent
    /// misses of the same key collapsed into one call of `load`.
    ///
    /// The load runs in its own task so that one caller going away does not
    /// fail the others: a cancelled caller stops waiting at once, and the load
    /// itself is cancelled only when no caller is left. A caller that joined
    /// such a load just before it was cancelled starts a new one rather than
    /// seeing the cancellation. A loaded value is stored when its cost is
    /// within the entry limit; a failed load stores nothing and every waiter
    /// sees the error.
    ///
    /// - Parameter counted: whether the lookup counts as a hit or a miss;
    ///   false for loads no request asked for (a prefetch), which would
    ///   otherwise read as misses in the cache's figures.
    public func value(
        forKey key: Key, counted: Bool = true, load: @escaping @Sendable () async throws -> (value: Value, cost: Int)
    ) async throws -> Value {
        let shard = shardIndex(key)
        let cached = shards[shard].withLock { $0.get(key) }
        if counted {
            if cached != nil { metrics.recordHit() } else { metrics.recordMiss() }
        }
        if let cached { return cached }
        while true {
            let (flight, isLeader) = flights[shard].withLock { table -> (LoadFlight<Value>, Bool) in
                if let existing = table[key] { return (existing, false) }
                let flight = LoadFlight<Value>()
                table[key] = flight
                return (flight, true)
            }
            if isLeader {
                flight.start { [self] in
                    defer { forget(flight, key: key, shard: shard) }
                    let (value, cost) = try await load()
                    put(key, value, cost: cost)
                    return value
                }
            }
            do {
                return try await flight.wait()
            } catch is CancellationError where !Task.isCancelled {
                // Joined a load its callers had all left, which was cancelled
                // for them: this caller is still here, so it loads again.
                forget(flight, key: key, shard: shard)
                if let cached = shards[shard].withLock({ $0.get(key) }) { return cached }
            }
        }
    }

    /// Removes `flight` from the in-progress loads, unless another has taken its place.
    private func forget(_ flight: LoadFlight<Value>, key: Key, shard: Int) {
        flights[shard].withLock { table in
            if table[key] === flight { table.removeValue(forKey: key) }
        }
    }
}

extension LRUCache {
    /// How many callers are waiting on an in-progress load of `key` (diagnostics and tests).
    public func waitingCallers(forKey key: Key) -> Int {
        let flight = flights[shardIndex(key)].withLock { $0[key] }
        return flight?.waiterCount ?? 0
    }
}

/// A snapshot of a cache's counters.
public struct LRUCacheStatistics: Sendable, Hashable {
    public var hits: Int
    public var misses: Int
    public var entries: Int
    public var bytes: Int
    public var capacityBytes: Int
}

/// One in-progress load and the callers waiting for it.
final class LoadFlight<Value: Sendable>: Sendable {
    private struct State {
        var waiters: [UInt64: CheckedContinuation<Value, any Error>] = [:]
        var nextWaiter: UInt64 = 0
        var result: Result<Value, any Error>?
        var task: Task<Void, Never>?
    }

    private let state = Mutex(State())

    func start(_ work: @escaping @Sendable () async throws -> Value) {
        let task = Task {
            let result: Result<Value, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            let waiters = state.withLock { state in
                state.result = result
                defer { state.waiters.removeAll() }
                return state.waiters.values
            }
            for waiter in waiters { waiter.resume(with: result) }
        }
        state.withLock { $0.task = task }
    }

    var waiterCount: Int { state.withLock { $0.waiters.count } }

    func wait() async throws -> Value {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate: Result<Value, any Error>? = state.withLock { state in
                    if let result = state.result { return result }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let (continuation, orphaned) = state.withLock { state in
                let continuation = state.waiters.removeValue(forKey: id)
                let orphaned = continuation != nil && state.waiters.isEmpty && state.result == nil ? state.task : nil
                return (continuation, orphaned)
            }
            continuation?.resume(throwing: CancellationError())
            orphaned?.cancel()
        }
    }
}

/// A value behind its own lock, as a class so that shards can live in an array
/// (`Mutex` itself cannot be copied into one).
@usableFromInline final class Locked<State>: @unchecked Sendable {
    // Every access goes through the mutex.
    @usableFromInline let mutex: Mutex<State>
    init(_ state: sending State) { mutex = Mutex(state) }
    @inlinable func withLock<R>(_ body: (inout sending State) throws -> sending R) rethrows -> sending R {
        try mutex.withLock(body)
    }
}
