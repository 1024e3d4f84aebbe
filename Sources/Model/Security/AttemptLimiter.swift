public import Foundation
import Synchronization

/// Slows down guessing: counts failed attempts per key (a client address, an
/// address and a host) and, once a key failed ``maxFailures`` times within
/// ``window``, refuses it until the oldest of those failures leaves the
/// window. Used for admin-token and site-password attempts; both answer 429
/// with `Retry-After` while a key is refused.
///
/// Memory is bounded: at most ``capacity`` keys are tracked, and when a new
/// key arrives at a full table the one that failed longest ago goes. Times
/// come from an injected clock, so tests count attempts instead of sleeping.
public final class AttemptLimiter: Sendable {
    public let maxFailures: Int
    public let window: Duration
    public let capacity: Int
    private let clock: @Sendable () -> Date
    private let state = Mutex<[String: [Date]]>([:])

    public init(
        maxFailures: Int = 10, window: Duration = .seconds(60), capacity: Int = 10_000,
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        precondition(maxFailures > 0 && capacity > 0 && window > .zero)
        self.maxFailures = maxFailures
        self.window = window
        self.capacity = capacity
        self.clock = clock
    }

    /// How long `key` must wait before its next attempt counts; nil when it
    /// may try now.
    public func retryAfter(_ key: String) -> Duration? {
        let now = clock()
        return state.withLock { table -> Duration? in
            guard let failures = table[key] else { return nil }
            let recent = failures.filter { now.timeIntervalSince($0) < window.seconds }
            table[key] = recent.isEmpty ? nil : recent
            guard recent.count >= maxFailures, let oldest = recent.first else { return nil }
            let wait = window.seconds - now.timeIntervalSince(oldest)
            return .milliseconds(Int64((max(wait, 0.001) * 1000).rounded(.up)))
        }
    }

    /// Counts a failed attempt of `key`.
    public func recordFailure(_ key: String) {
        let now = clock()
        state.withLock { table in
            if table[key] == nil, table.count >= capacity {
                // Forget the key whose last failure is oldest.
                if let stalest = table.min(by: { ($0.value.last ?? .distantPast) < ($1.value.last ?? .distantPast) }) {
                    table[stalest.key] = nil
                }
            }
            var failures = table[key, default: []].filter { now.timeIntervalSince($0) < window.seconds }
            failures.append(now)
            table[key] = Array(failures.suffix(maxFailures))
        }
    }

    /// Forgets `key`'s failures (it got in).
    public func recordSuccess(_ key: String) {
        _ = state.withLock { $0.removeValue(forKey: key) }
    }

    /// How many keys are tracked now.
    public var trackedKeys: Int { state.withLock { $0.count } }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    var seconds: TimeInterval {
        let parts = components
        return TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18
    }
}

extension RetryAfter {
    /// A `Retry-After` value (whole seconds, at least 1) for a wait.
    public static func header(for wait: Duration) -> String {
        let parts = wait.components
        let seconds = parts.seconds + (parts.attoseconds > 0 ? 1 : 0)
        return String(max(1, seconds))
    }
}
