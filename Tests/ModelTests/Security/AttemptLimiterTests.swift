import Foundation
import Model
import Synchronization
import Testing

@Suite struct AttemptLimiterTests {
    final class ManualClock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_000_000))
        func advance(_ seconds: TimeInterval) { now.withLock { $0 += seconds } }
        var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
    }

    @Test func aKeyIsRefusedAfterItsFailuresUntilTheOldestLeavesTheWindow() {
        let clock = ManualClock()
        let limiter = AttemptLimiter(maxFailures: 3, window: .seconds(60), clock: clock.read)
        for _ in 0..<2 {
            #expect(limiter.retryAfter("a") == nil)
            limiter.recordFailure("a")
            clock.advance(10)
        }
        limiter.recordFailure("a")
        // Failures at 0, 10 and 20 s; now is 20 s: the first leaves at 60 s.
        #expect(limiter.retryAfter("a") == .seconds(40))
        #expect(limiter.retryAfter("b") == nil)
        #expect(RetryAfter.header(for: .seconds(40)) == "40")
        clock.advance(39)
        #expect(limiter.retryAfter("a") != nil)
        clock.advance(1)
        #expect(limiter.retryAfter("a") == nil)
    }

    @Test func aSuccessForgetsTheFailures() {
        let limiter = AttemptLimiter(maxFailures: 2, window: .seconds(60))
        limiter.recordFailure("a")
        limiter.recordSuccess("a")
        limiter.recordFailure("a")
        #expect(limiter.retryAfter("a") == nil)
        limiter.recordFailure("a")
        #expect(limiter.retryAfter("a") != nil)
    }

    @Test func theTableStaysWithinItsCapacity() {
        let clock = ManualClock()
        let limiter = AttemptLimiter(maxFailures: 1, window: .seconds(60), capacity: 3, clock: clock.read)
        for key in ["a", "b", "c", "d"] {
            limiter.recordFailure(key)
            clock.advance(1)
        }
        #expect(limiter.trackedKeys == 3)
        // The stalest key went.
        #expect(limiter.retryAfter("a") == nil && limiter.retryAfter("d") != nil)
    }

    @Test func retryAfterHeadersAreWholeSecondsOfAtLeastOne() {
        #expect(RetryAfter.header(for: .milliseconds(1)) == "1")
        #expect(RetryAfter.header(for: .milliseconds(1500)) == "2")
        #expect(RetryAfter.header(for: .zero) == "1")
    }
}
