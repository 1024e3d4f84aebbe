extension ProxyConfiguration {
    /// What one client may do on the public listeners (`docs/hardening.md`,
    /// "Per-client limits"). The client is the connection's address (the
    /// peer, or a trusted balancer's PROXY header's) for connections, and
    /// the request's (`X-Forwarded-For` from a trusted proxy) for requests.
    /// Both limits are off by default.
    public struct ClientLimits: Sendable, Hashable {
        /// Requests a second one client address may make in the long run
        /// (`SLIPWAY_RATE_LIMIT`); nil: no rate limit. Over it: 429 with `Retry-After`.
        public var requestsPerSecond: Double?
        /// Requests one client may make at once before the rate applies
        /// (`SLIPWAY_RATE_LIMIT_BURST`); nil: twice the rate, at least 1.
        public var burst: Int?
        /// Connections one client address may hold at once
        /// (`SLIPWAY_MAX_CONNECTIONS_PER_CLIENT`); 0: no limit.
        public var maxConnectionsPerClient: Int
        /// Addresses the rate limit tracks at most (about 100 bytes each);
        /// idle ones go first when it is full.
        public var maxTrackedClients: Int

        public init(
            requestsPerSecond: Double? = nil, burst: Int? = nil, maxConnectionsPerClient: Int = 0,
            maxTrackedClients: Int = 100_000
        ) {
            self.requestsPerSecond = requestsPerSecond
            self.burst = burst
            self.maxConnectionsPerClient = maxConnectionsPerClient
            self.maxTrackedClients = maxTrackedClients
        }

        /// The burst in use: the one set, or twice the rate (at least 1).
        public var effectiveBurst: Int {
            if let burst { return burst }
            guard let rate = requestsPerSecond else { return 1 }
            return max(1, Int(min(rate * 2, 1_000_000).rounded(.up)))
        }

        func validate() throws(ProxyError) {
            if let rate = requestsPerSecond, !(rate > 0 && rate <= 1_000_000) {
                throw .invalidConfiguration(
                    "the rate limit must be above 0 and at most 1000000 requests a second; leave it unset to turn it off"
                )
            }
            if let burst, !(1...1_000_000).contains(burst) {
                throw .invalidConfiguration("the rate limit burst must be between 1 and 1000000 requests")
            }
            if !(0...1_000_000).contains(maxConnectionsPerClient) {
                throw .invalidConfiguration(
                    "connections per client must be between 0 (no limit) and 1000000")
            }
            if maxTrackedClients < ClientRateLimiter.stripeCount {
                throw .invalidConfiguration(
                    "the rate limit must track at least \(ClientRateLimiter.stripeCount) client addresses")
            }
        }
    }
}
