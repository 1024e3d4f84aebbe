/// How often, and how patiently, a failed request is repeated.
///
/// Only transient failures are retried: connection errors, timeouts, 5xx and
/// S3's `SlowDown`. Before retry `n` the caller waits a random time between 0
/// and `min(maxDelay, baseDelay * 2^(n-1))` ("full jitter", which spreads
/// clients out instead of having them retry in lock step; see
/// <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>).
public struct RetryPolicy: Sendable, Hashable, CustomStringConvertible {
    /// Total attempts, the first one included (1 = never retry).
    public var maxAttempts: Int
    /// Ceiling of the wait before the first retry; doubles for each further retry.
    public var baseDelay: Duration
    /// The ceiling never grows past this.
    public var maxDelay: Duration

    /// - Parameters:
    ///   - maxAttempts: total attempts including the first (default 4).
    ///   - baseDelay: wait ceiling before the first retry (default 100 ms).
    ///   - maxDelay: cap of the wait ceiling (default 5 s).
    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(5)) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// One attempt, no retries.
    public static let none = RetryPolicy(maxAttempts: 1, baseDelay: .zero, maxDelay: .zero)

    /// The policy's settings, for logs.
    public var description: String {
        "RetryPolicy(maxAttempts: \(maxAttempts), baseDelay: \(baseDelay), maxDelay: \(maxDelay))"
    }

    /// The longest wait before retry number `retry` (1 for the first retry).
    public func delayCeiling(beforeRetry retry: Int) -> Duration {
        precondition(retry >= 1, "retries are numbered from 1")
        // 2^20 already exceeds any sensible cap; stopping there keeps the
        // multiplication far from overflow.
        let ceiling = baseDelay * (1 << min(retry - 1, 20))
        return min(ceiling, maxDelay)
    }

    /// A random wait in `0...delayCeiling(beforeRetry:)`.
    public func delay(beforeRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = delayCeiling(beforeRetry: retry)
        let (seconds, attoseconds) = ceiling.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanoseconds, using: &generator))
    }

    /// A random wait in `0...delayCeiling(beforeRetry:)`, from the system generator.
    public func delay(beforeRetry retry: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(beforeRetry: retry, using: &generator)
    }
}
