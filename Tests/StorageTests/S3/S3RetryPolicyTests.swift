import Testing

@testable import Storage

@Suite struct S3RetryPolicyTests {
    /// A deterministic generator (SplitMix64) so the jitter is reproducible.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func ceilingsDoubleUntilTheCap() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        #expect(policy.delayCeiling(beforeRetry: 1) == .milliseconds(100))
        #expect(policy.delayCeiling(beforeRetry: 2) == .milliseconds(200))
        #expect(policy.delayCeiling(beforeRetry: 4) == .milliseconds(800))
        #expect(policy.delayCeiling(beforeRetry: 5) == .seconds(1))
        #expect(policy.delayCeiling(beforeRetry: 500) == .seconds(1))
    }

    @Test func delaysAreFullJitterBelowTheCeiling() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(2))
        var generator = SeededGenerator(state: 42)
        for retry in 1...8 {
            let delays = (0..<200).map { _ in policy.delay(beforeRetry: retry, using: &generator) }
            #expect(delays.allSatisfy { $0 >= .zero && $0 <= policy.delayCeiling(beforeRetry: retry) })
            // Spread over the whole interval, not bunched at the ceiling.
            #expect(delays.contains { $0 < policy.delayCeiling(beforeRetry: retry) / 2 })
            #expect(delays.contains { $0 > policy.delayCeiling(beforeRetry: retry) / 2 })
        }
        #expect(RetryPolicy.none.delay(beforeRetry: 1, using: &generator) == .zero)
    }
}
