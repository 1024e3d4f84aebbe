import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import Proxy

/// A monotonic clock in nanoseconds that moves only when a test says so.
final class ManualNanosecondClock: Sendable {
    private let value = Atomic<Int64>(1_000_000_000)

    var now: Int64 { value.load(ordering: .relaxed) }

    func advance(by duration: Duration) {
        let parts = duration.components
        value.add(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000, ordering: .relaxed)
    }

    var read: @Sendable () -> Int64 { { [self] in now } }
}

/// The token buckets of the per-client rate limit, counted against an
/// injected clock: the burst, the refill, separate clients and the bound
/// on the addresses tracked.
@Suite struct ClientRateLimiterTests {
    @Test func aClientMayMakeItsBurstAtOnceThenWaitsForTheNextToken() {
        let clock = ManualNanosecondClock()
        let limiter = ClientRateLimiter(rate: 2, burst: 3, clock: clock.read)
        for _ in 0..<3 { #expect(limiter.take("203.0.113.7") == nil) }
        // Empty: the next token comes in half a second (2 a second).
        #expect(limiter.take("203.0.113.7") == .milliseconds(500))
        clock.advance(by: .milliseconds(200))
        #expect(limiter.take("203.0.113.7") == .milliseconds(300))
        clock.advance(by: .milliseconds(300))
        #expect(limiter.take("203.0.113.7") == nil)
        #expect(limiter.take("203.0.113.7") != nil)
    }

    @Test func refillStopsAtTheBurst() {
        let clock = ManualNanosecondClock()
        let limiter = ClientRateLimiter(rate: 10, burst: 5, clock: clock.read)
        for _ in 0..<5 { #expect(limiter.take("a") == nil) }
        #expect(limiter.take("a") != nil)
        // An hour idle fills the bucket to its burst, no more.
        clock.advance(by: .seconds(3600))
        for _ in 0..<5 { #expect(limiter.take("a") == nil) }
        #expect(limiter.take("a") != nil)
    }

    @Test func clientsHaveBucketsOfTheirOwn() {
        let clock = ManualNanosecondClock()
        let limiter = ClientRateLimiter(rate: 1, burst: 2, clock: clock.read)
        #expect(limiter.take("203.0.113.1") == nil && limiter.take("203.0.113.1") == nil)
        #expect(limiter.take("203.0.113.1") == .seconds(1))
        #expect(limiter.take("203.0.113.2") == nil && limiter.take("2001:db8::1") == nil)
        #expect(limiter.trackedClients == 3)
    }

    @Test func aSlowRateAsksForALongWait() {
        let clock = ManualNanosecondClock()
        let limiter = ClientRateLimiter(rate: 0.25, burst: 1, clock: clock.read)
        #expect(limiter.take("a") == nil)
        #expect(limiter.take("a") == .seconds(4))
    }

    /// The table never tracks more than its capacity: a flood of new
    /// addresses pushes out others. When a full part of the table needs
    /// room, every idle bucket in it (full again, the same as none) goes at
    /// once, and a client whose bucket is not idle keeps it.
    @Test func theTableIsBoundedAndDropsIdleBucketsFirst() {
        let clock = ManualNanosecondClock()
        let capacity = ClientRateLimiter.stripeCount * 4
        let limiter = ClientRateLimiter(rate: 1, burst: 2, capacity: capacity, clock: clock.read)
        for index in 0..<10_000 {
            _ = limiter.take("10.0.\(index / 256).\(index % 256)")
            #expect(limiter.trackedClients <= capacity)
        }
        // Ten thousand addresses over sixteen parts of four: every part is full.
        #expect(limiter.trackedClients == capacity)
        // Everyone is idle ten seconds later (full again after two): the
        // part a new address lands in drops its four idle buckets at once.
        clock.advance(by: .seconds(10))
        #expect(limiter.take("busy") == nil && limiter.take("busy") == nil)
        #expect(limiter.trackedClients == capacity - 3)
        #expect(limiter.take("busy") == .seconds(1), "its empty bucket was kept")
    }
}

/// The per-client connection counts: a place per connection, given back
/// once when it closes, whichever way.
@Suite struct ClientConnectionLimiterTests {
    @Test func placesAreTakenUpToTheLimitAndGivenBackOnceOnClose() async throws {
        let limiter = ClientConnectionLimiter(limit: 2)
        let channels = (0..<3).map { _ in EmbeddedChannel() }
        #expect(limiter.admit("203.0.113.7", on: channels[0]))
        #expect(limiter.admit("203.0.113.7", on: channels[1]))
        #expect(!limiter.admit("203.0.113.7", on: channels[2]))
        #expect(limiter.admit("203.0.113.8", on: channels[2]))
        #expect(limiter.connections(of: "203.0.113.7") == 2)
        _ = try? channels[0].finish()
        #expect(limiter.connections(of: "203.0.113.7") == 1)
        // Closing again gives nothing more back.
        try? await channels[0].close()
        #expect(limiter.connections(of: "203.0.113.7") == 1)
        let again = EmbeddedChannel()
        #expect(limiter.admit("203.0.113.7", on: again))
        #expect(!limiter.admit("203.0.113.7", on: EmbeddedChannel()))
        for channel in [channels[1], channels[2], again] { _ = try? channel.finish() }
        #expect(limiter.trackedClients == 0)
    }
}
