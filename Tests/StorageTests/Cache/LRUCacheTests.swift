import Dispatch
import Metrics
import MetricsTestKit
import Synchronization
import Testing

@testable import Storage

@Suite struct LRUCacheTests {
    @Test func leastRecentlyUsedEntryIsEvictedFirst() {
        let cache = LRUCache<String, Int>(capacityBytes: 30, maxEntryBytes: 30, shardCount: 1)
        cache.put("a", 1, cost: 10)
        cache.put("b", 2, cost: 10)
        cache.put("c", 3, cost: 10)
        #expect(cache.get("a") == 1) // a is now the most recent
        cache.put("d", 4, cost: 10) // evicts b, the least recent
        #expect(!cache.contains("b"))
        #expect(cache.contains("a") && cache.contains("c") && cache.contains("d"))
        #expect(cache.shards[0].withLock { $0.keysByRecency() } == ["d", "a", "c"])
    }

    @Test func oneLargeInsertEvictsAsManyAsNeeded() {
        let cache = LRUCache<String, Int>(capacityBytes: 100, maxEntryBytes: 100, shardCount: 1)
        for index in 0..<10 { cache.put("k\(index)", index, cost: 10) }
        cache.put("big", 99, cost: 55)
        #expect(cache.totalBytes <= 100)
        #expect(cache.contains("big"))
        #expect(cache.count == 5) // big + the four most recent small ones
        #expect(cache.contains("k9") && !cache.contains("k5"))
    }

    @Test func replacingAValueAdjustsTheByteCount() {
        let cache = LRUCache<String, Int>(capacityBytes: 100, maxEntryBytes: 100, shardCount: 1)
        cache.put("a", 1, cost: 40)
        cache.put("a", 2, cost: 10)
        #expect(cache.totalBytes == 10)
        #expect(cache.get("a") == 2)
        #expect(cache.remove("a"))
        #expect(cache.totalBytes == 0 && cache.count == 0)
    }

    @Test func oversizeEntriesAreRefusedAndDropStaleValues() {
        let cache = LRUCache<String, Int>(capacityBytes: 1000, maxEntryBytes: 10, shardCount: 1)
        #expect(cache.put("a", 1, cost: 10))
        #expect(!cache.put("a", 2, cost: 11))
        #expect(cache.get("a") == nil)
        #expect(cache.totalBytes == 0)
    }

    @Test func entryLimitNeverExceedsOneShardsBudget() {
        let cache = LRUCache<String, Int>(capacityBytes: 1600, maxEntryBytes: 1000, shardCount: 16)
        #expect(cache.maxEntryBytes == 100)
        #expect(!cache.put("x", 1, cost: 101))
    }

    @Test func byteBudgetHoldsUnderRandomOperations() {
        let cache = LRUCache<Int, Int>(capacityBytes: 4096, maxEntryBytes: 512, shardCount: 4)
        var generator = SystemRandomNumberGenerator()
        for step in 0..<20_000 {
            let key = Int.random(in: 0..<500, using: &generator)
            switch step % 4 {
            case 0, 1: cache.put(key, step, cost: Int.random(in: 0...600, using: &generator))
            case 2: _ = cache.get(key)
            default: cache.remove(key)
            }
            #expect(cache.totalBytes <= cache.capacityBytes)
        }
        let sumOfCosts = cache.shards.reduce(0) { total, shard in
            total + shard.withLock { state in state.index.values.reduce(0) { $0 + state.nodes[$1].cost } }
        }
        #expect(sumOfCosts == cache.totalBytes)
    }

    @Test func hundredConcurrentMissesCauseOneLoad() async throws {
        let cache = LRUCache<String, String>(capacityBytes: 1 << 20, maxEntryBytes: 1 << 16)
        let loads = SharedCounter()
        let gate = AsyncGate()
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    try await cache.value(forKey: "page") {
                        loads.increment()
                        await gate.wait()
                        return ("body", 4)
                    }
                }
            }
            // Let every caller join the flight before the load finishes.
            while cache.waitingCallers(forKey: "page") < 100 { await Task.yield() }
            await gate.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 100 && results.allSatisfy { $0 == "body" })
        #expect(loads.value == 1)
        #expect(cache.get("page") == "body")
    }

    @Test func aFailedLoadReachesEveryWaiterAndCachesNothing() async {
        struct Boom: Error {}
        let cache = LRUCache<String, String>(capacityBytes: 1 << 20, maxEntryBytes: 1 << 16)
        let gate = AsyncGate()
        let failures = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do {
                        _ = try await cache.value(forKey: "k") {
                            await gate.wait()
                            throw Boom()
                        }
                        return false
                    } catch { return error is Boom }
                }
            }
            while cache.waitingCallers(forKey: "k") < 10 { await Task.yield() }
            await gate.open()
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 10)
        #expect(!cache.contains("k"))
    }

    @Test func aCancelledCallerDoesNotFailTheOthers() async throws {
        let cache = LRUCache<String, String>(capacityBytes: 1 << 20, maxEntryBytes: 1 << 16)
        let gate = AsyncGate()
        let quitter = Task {
            try await cache.value(forKey: "k") {
                await gate.wait()
                return ("v", 1)
            }
        }
        // The quitter leads the load; only then does the second caller join it.
        while cache.waitingCallers(forKey: "k") < 1 { await Task.yield() }
        let stayer = Task {
            try await cache.value(forKey: "k") {
                Issue.record("second load")
                return ("x", 1)
            }
        }
        while cache.waitingCallers(forKey: "k") < 2 { await Task.yield() }
        quitter.cancel()
        await #expect(throws: CancellationError.self) { try await quitter.value }
        await gate.open()
        #expect(try await stayer.value == "v")
    }

    /// The only caller of a load leaves, so the load is cancelled; a caller
    /// that joined it just before it ended gets a load of its own, never
    /// the cancellation meant for the one who left.
    @Test func aCallerJoiningALoadCancelledForOthersLoadsAgain() async throws {
        let cache = LRUCache<String, String>(capacityBytes: 1 << 20, maxEntryBytes: 1 << 16)
        let gate = AsyncGate()
        let quitter = Task {
            try await cache.value(forKey: "k") {
                await gate.wait()
                try Task.checkCancellation()
                return ("first", 1)
            }
        }
        while cache.waitingCallers(forKey: "k") < 1 { await Task.yield() }
        quitter.cancel()
        await #expect(throws: CancellationError.self) { try await quitter.value }
        // The cancelled load has not ended yet: a new caller joins it.
        let latecomer = Task { try await cache.value(forKey: "k") { ("second", 1) } }
        while cache.waitingCallers(forKey: "k") < 1 { await Task.yield() }
        await gate.open()
        #expect(try await latecomer.value == "second")
        #expect(cache.get("k") == "second")
    }

    @Test func manyThreadsKeepTheCacheConsistent() {
        let cache = LRUCache<Int, [UInt8]>(capacityBytes: 64 << 10, maxEntryBytes: 4 << 10, shardCount: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            var generator = SystemRandomNumberGenerator()
            for step in 0..<20_000 {
                let key = Int.random(in: 0..<2_000, using: &generator)
                if step % 3 == 0 {
                    let size = Int.random(in: 1...(5 << 10), using: &generator)
                    cache.put(key, [UInt8](repeating: UInt8(truncatingIfNeeded: key), count: size), cost: size)
                } else if let value = cache.get(key) {
                    // A value is never torn or attached to the wrong key.
                    precondition(value.allSatisfy { $0 == UInt8(truncatingIfNeeded: key) })
                }
            }
            _ = thread
        }
        #expect(cache.totalBytes <= cache.capacityBytes)
        let recountedBytes = cache.shards.reduce(0) { total, shard in
            total + shard.withLock { state in state.index.values.reduce(0) { $0 + state.nodes[$1].cost } }
        }
        #expect(recountedBytes == cache.totalBytes)
    }

    @Test func hitsMissesEvictionsEntriesAndBytesAreExported() throws {
        let metrics = TestMetrics()
        let cache = LRUCache<String, Int>(
            capacityBytes: 20, maxEntryBytes: 20, shardCount: 1, name: "test", metricsFactory: metrics)
        cache.put("a", 1, cost: 10)
        cache.put("b", 2, cost: 10)
        _ = cache.get("a")
        _ = cache.get("zzz")
        cache.put("c", 3, cost: 10) // evicts b
        let dimensions = [("cache", "test")]
        #expect(try metrics.expectCounter("slipway_cache_hits_total", dimensions).totalValue == 1)
        #expect(try metrics.expectCounter("slipway_cache_misses_total", dimensions).totalValue == 1)
        #expect(try metrics.expectCounter("slipway_cache_evictions_total", dimensions).totalValue == 1)
        #expect(try metrics.expectGauge("slipway_cache_entries", dimensions).lastValue == 2)
        #expect(try metrics.expectGauge("slipway_cache_bytes", dimensions).lastValue == 20)
        #expect(cache.statistics == LRUCacheStatistics(hits: 1, misses: 1, entries: 2, bytes: 20, capacityBytes: 20))
    }

    /// A prefetch loads without asking on a request's behalf: the cache's
    /// hit and miss figures stay those of requests.
    @Test func uncountedLoadsAreNeitherHitsNorMisses() async throws {
        let cache = LRUCache<String, Int>(capacityBytes: 20, maxEntryBytes: 20, shardCount: 1, name: "test")
        #expect(try await cache.value(forKey: "a", counted: false) { (1, 10) } == 1)
        #expect(try await cache.value(forKey: "a", counted: false) { (2, 10) } == 1)
        #expect(cache.statistics.hits == 0 && cache.statistics.misses == 0)
        #expect(try await cache.value(forKey: "a") { (3, 10) } == 1)
        #expect(try await cache.value(forKey: "b") { (4, 10) } == 4)
        #expect(cache.statistics.hits == 1 && cache.statistics.misses == 1)
    }
}

/// Lets tests hold a load open until every caller has joined it.
actor AsyncGate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}

/// A counter several tasks can bump.
final class SharedCounter: Sendable {
    private let atomic = Atomic<Int>(0)
    func increment() { atomic.add(1, ordering: .relaxed) }
    var value: Int { atomic.load(ordering: .relaxed) }
}
