package import Model

/// Limits and timings of the durable build queue.
public struct QueueSettings: Sendable, Hashable {
    /// Most builds that may wait in `queued` at once; creating one more fails
    /// with ``CatalogError/Code/queueFull``. Builds put back in the queue
    /// (release, retry, lease expiry) are never refused: they were accepted.
    public var maxQueued: Int
    /// Attempts a build gets before a lease expiry or a retryable failure
    /// fails it for good.
    public var maxAttempts: Int
    /// How long a claim or renewal holds a build when the caller does not say.
    public var leaseDuration: Duration
    /// Delay before the first retry; doubled for each further attempt…
    public var backoffBase: Duration
    /// …up to this.
    public var backoffCap: Duration

    public init(
        maxQueued: Int = 100,
        maxAttempts: Int = 3,
        leaseDuration: Duration = .seconds(30),
        backoffBase: Duration = .seconds(5),
        backoffCap: Duration = .seconds(300)
    ) {
        self.maxQueued = maxQueued
        self.maxAttempts = maxAttempts
        self.leaseDuration = leaseDuration
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
    }

    /// How long a build waits after attempt `attempt` (1-based) failed:
    /// `backoffBase × 2^(attempt−1)`, at most `backoffCap`.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        let doublings = max(0, attempt - 1)
        // Past 2^40 × any positive base the cap has long been reached.
        guard doublings < 40 else { return backoffCap }
        let delay = backoffBase * (1 << doublings)
        return min(delay, backoffCap)
    }

    /// Throws when a setting makes no sense, naming it.
    package func validate() throws(CatalogError) {
        if maxQueued < 1 { throw .invalidInput("queue setting maxQueued is \(maxQueued); it must be at least 1") }
        if maxAttempts < 1 { throw .invalidInput("queue setting maxAttempts is \(maxAttempts); it must be at least 1") }
        if leaseDuration <= .zero { throw .invalidInput("queue setting leaseDuration must be positive") }
        if backoffBase < .zero || backoffCap < backoffBase {
            throw .invalidInput("queue settings need 0 <= backoffBase <= backoffCap")
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    package var wholeMilliseconds: Int64 {
        let parts = components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }
}
