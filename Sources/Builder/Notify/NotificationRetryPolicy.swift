import Foundation

/// When a notification that did not get through is tried again, and when
/// Slipway gives up on it.
///
/// The wait after failed attempt `n` is `firstDelay × multiplier^(n−1)`, at
/// most `maxDelay`, moved at random by up to `jitter` either way so that
/// senders do not come back to a recovering receiver in lock step. With the
/// defaults: about 10 s, 30 s, 1.5 min, 4.5 min, 13.5 min, 40.5 min and 1 h,
/// so the 8th and last attempt comes about 2 h after the first. A
/// `Retry-After` from the receiver replaces the computed wait, up to
/// `maxRetryAfter`.
public struct NotificationRetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The wait after the first failed attempt…
    public var firstDelay: Duration
    /// …multiplied by this for each further one…
    public var multiplier: Double
    /// …up to this.
    public var maxDelay: Duration
    /// The fraction (0…1) by which each wait may move either way.
    public var jitter: Double
    /// Longest `Retry-After` honoured; a longer one is cut to this.
    public var maxRetryAfter: Duration

    public init(
        maxAttempts: Int = 8,
        firstDelay: Duration = .seconds(10),
        multiplier: Double = 3,
        maxDelay: Duration = .seconds(3_600),
        jitter: Double = 0.2,
        maxRetryAfter: Duration = .seconds(3_600)
    ) {
        self.maxAttempts = maxAttempts
        self.firstDelay = firstDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.maxRetryAfter = maxRetryAfter
    }

    /// The wait after failed attempt `attempt` (1-based), before jitter.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        let seconds = DurationText.seconds(firstDelay) * pow(multiplier, Double(max(0, attempt - 1)))
        return seconds.isFinite && seconds < DurationText.seconds(maxDelay) ? .seconds(seconds) : maxDelay
    }

    /// The wait before the attempt after `attempt`: `retryAfter` (at most
    /// ``maxRetryAfter``) when the receiver sent one, else the backoff with jitter.
    public func delay(
        afterAttempt attempt: Int, retryAfter: Duration?, using generator: inout some RandomNumberGenerator
    ) -> Duration {
        if let retryAfter { return min(max(retryAfter, .zero), maxRetryAfter) }
        let base = DurationText.seconds(backoff(afterAttempt: attempt))
        let factor = jitter > 0 ? Double.random(in: (1 - jitter)...(1 + jitter), using: &generator) : 1
        return min(.seconds(base * factor), maxDelay)
    }

    func validate() throws(NotificationConfigurationError) {
        func invalid(_ message: String) -> NotificationConfigurationError {
            NotificationConfigurationError(message: "invalid notification retry setting: \(message)")
        }
        if maxAttempts < 1 { throw invalid("SLIPWAY_NOTIFY_MAX_ATTEMPTS is \(maxAttempts); give 1 or more") }
        if firstDelay < .zero || maxDelay < firstDelay { throw invalid("it needs 0 <= firstDelay <= maxDelay") }
        if !(multiplier >= 1) { throw invalid("the multiplier must be 1 or more") }
        if !(0...1).contains(jitter) { throw invalid("the jitter must be a fraction from 0 to 1") }
        if maxRetryAfter < .zero { throw invalid("maxRetryAfter must be 0 or more") }
    }
}
