import NIOCore
import Synchronization

/// The per-client request rate limit of the edge (`SLIPWAY_RATE_LIMIT`,
/// `SLIPWAY_RATE_LIMIT_BURST`): a token bucket per client address. A bucket
/// holds at most ``burst`` tokens and gains ``rate`` tokens a second; each
/// request takes one, and a request that finds less than one is refused
/// with the time until the bucket has one again (`429` with `Retry-After`).
///
/// One table serves every event loop (a client's connections land on
/// different loops), split into ``stripeCount`` stripes by the address's
/// hash, each under its own lock, so loops rarely wait for each other; a
/// request holds a lock for one dictionary lookup and a few additions.
///
/// Memory is bounded: at most ``capacity`` addresses are tracked (spread
/// over the stripes). A bucket left alone long enough to be full again
/// (``burst`` / ``rate`` seconds) is the same as no bucket, so when a stripe
/// is full those are dropped first; if none is idle, an arbitrary one goes
/// (its client starts again with a full burst). Times come from an
/// injected clock, so tests count requests instead of sleeping.
final class ClientRateLimiter: Sendable {
    /// Addresses tracked at most, by default: about 100 bytes each.
    static let defaultCapacity = 100_000
    static let stripeCount = 16

    private struct Bucket {
        var tokens: Double
        /// When `tokens` was last worked out, in nanoseconds of the clock.
        var updated: Int64
    }

    private struct Stripe {
        var buckets: [String: Bucket] = [:]
        /// A full stripe looks for idle buckets again no earlier than this.
        var nextSweep = Int64.min
    }

    private final class Lock: Sendable {
        let state = Mutex(Stripe())
    }

    /// Tokens gained per second.
    let rate: Double
    /// Tokens a bucket holds at most: the requests a client may make at once.
    let burst: Double
    /// Addresses tracked at most.
    let capacity: Int
    private let stripeCapacity: Int
    /// Nanoseconds for an empty bucket to fill up again.
    private let refillNanoseconds: Int64
    private let stripes: [Lock]
    private let clock: @Sendable () -> Int64

    /// - Parameters:
    ///   - rate: requests per second a client may make in the long run (above 0).
    ///   - burst: requests a client may make at once (at least 1).
    ///   - capacity: addresses tracked at most (at least ``stripeCount``).
    ///   - clock: a monotonic time in nanoseconds (tests inject one).
    init(
        rate: Double, burst: Int, capacity: Int = ClientRateLimiter.defaultCapacity,
        clock: @escaping @Sendable () -> Int64 = { Int64(NIODeadline.now().uptimeNanoseconds) }
    ) {
        precondition(rate > 0 && burst >= 1 && capacity >= Self.stripeCount)
        self.rate = rate
        self.burst = Double(burst)
        self.capacity = capacity
        self.stripeCapacity = capacity / Self.stripeCount
        self.refillNanoseconds = Int64((Double(burst) / rate * 1e9).rounded(.up))
        self.stripes = (0..<Self.stripeCount).map { _ in Lock() }
        self.clock = clock
    }

    /// Takes a token for a request from `client`.
    /// - Returns: nil when the request may go on; otherwise how long until
    ///   the client's bucket holds a token again.
    func take(_ client: String) -> Duration? {
        let now = clock()
        let stripe = stripes[Int(UInt(bitPattern: client.hashValue) % UInt(Self.stripeCount))]
        let missing: Double? = stripe.state.withLock { stripe in
            if var bucket = stripe.buckets[client] {
                let elapsed = Double(max(0, now - bucket.updated)) / 1e9
                bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
                bucket.updated = now
                if bucket.tokens >= 1 {
                    bucket.tokens -= 1
                    stripe.buckets[client] = bucket
                    return nil
                }
                stripe.buckets[client] = bucket
                return 1 - bucket.tokens
            }
            if stripe.buckets.count >= stripeCapacity { makeRoom(in: &stripe, now: now) }
            stripe.buckets[client] = Bucket(tokens: burst - 1, updated: now)
            return nil
        }
        guard let missing else { return nil }
        return .nanoseconds(Int64((missing / rate * 1e9).rounded(.up)))
    }

    /// Frees at least one place in a full stripe: every idle bucket (full
    /// again by now) when it is time to look, otherwise an arbitrary one.
    private func makeRoom(in stripe: inout Stripe, now: Int64) {
        if now >= stripe.nextSweep {
            let refill = refillNanoseconds
            stripe.buckets = stripe.buckets.filter { now - $0.value.updated < refill }
            // Looking again before buckets could have gone idle would find
            // (next to) nothing: at most once per refill time, so a flood of
            // new addresses costs one pass over the stripe per refill time.
            stripe.nextSweep = now + min(refill, 1_000_000_000)
        }
        while stripe.buckets.count >= stripeCapacity {
            // The dictionary's own order is as good as a random choice.
            stripe.buckets.remove(at: stripe.buckets.startIndex)
        }
    }

    /// Addresses tracked now.
    var trackedClients: Int {
        stripes.reduce(0) { total, stripe in total + stripe.state.withLock { $0.buckets.count } }
    }
}
