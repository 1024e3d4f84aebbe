import CoreMetrics
import Synchronization

/// The cache's swift-metrics instruments. Entries and bytes are kept in
/// atomics summed over all shards, so the gauges always report the whole
/// cache without taking every shard's lock.
@usableFromInline final class LRUCacheMetrics: Sendable {
    let hits: Counter
    let misses: Counter
    let evictions: Counter
    private let entriesGauge: Gauge
    private let bytesGauge: Gauge
    let entries = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
    let hitCount = Atomic<Int>(0)
    let missCount = Atomic<Int>(0)

    init(name: String, factory: any MetricsFactory) {
        let dimensions = [("cache", name)]
        hits = Counter(label: "slipway_cache_hits_total", dimensions: dimensions, factory: factory)
        misses = Counter(label: "slipway_cache_misses_total", dimensions: dimensions, factory: factory)
        evictions = Counter(label: "slipway_cache_evictions_total", dimensions: dimensions, factory: factory)
        entriesGauge = Gauge(label: "slipway_cache_entries", dimensions: dimensions, factory: factory)
        bytesGauge = Gauge(label: "slipway_cache_bytes", dimensions: dimensions, factory: factory)
    }

    @usableFromInline func recordHit() {
        hitCount.add(1, ordering: .relaxed)
        hits.increment()
    }

    @usableFromInline func recordMiss() {
        missCount.add(1, ordering: .relaxed)
        misses.increment()
    }

    func record(_ change: LRUChange) {
        if change.evictions > 0 { evictions.increment(by: change.evictions) }
        if change.entries != 0 {
            entriesGauge.record(entries.add(change.entries, ordering: .relaxed).newValue)
        }
        if change.bytes != 0 {
            bytesGauge.record(bytes.add(change.bytes, ordering: .relaxed).newValue)
        }
    }
}
