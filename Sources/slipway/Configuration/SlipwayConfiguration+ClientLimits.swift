import Proxy

extension SlipwayConfiguration {
    /// `SLIPWAY_RATE_LIMIT` (requests a second per client address, or `off`),
    /// `SLIPWAY_RATE_LIMIT_BURST` and `SLIPWAY_MAX_CONNECTIONS_PER_CLIENT`
    /// (`off` or 0: no limit).
    static func clientLimits(_ parser: SettingParser) throws(ConfigurationError) -> ProxyConfiguration.ClientLimits {
        var limits = ProxyConfiguration.ClientLimits()
        if let text = parser.text(.rateLimit), !["off", "0", "none"].contains(text.lowercased()) {
            guard let rate = try parser.double(.rateLimit, in: 0.001...1_000_000) else { return limits }
            limits.requestsPerSecond = rate
        }
        if let burst = try parser.int(.rateLimitBurst, in: 1...1_000_000) {
            guard limits.requestsPerSecond != nil else {
                throw ConfigurationError(
                    "\(Setting.rateLimitBurst.label) is set but \(Setting.rateLimit.label) is off; set the rate (requests a second per client, e.g. 20) as well"
                )
            }
            limits.burst = burst
        }
        if let text = parser.text(.maxConnectionsPerClient), text.lowercased() != "off" {
            limits.maxConnectionsPerClient = try parser.int(.maxConnectionsPerClient, in: 0...1_000_000) ?? 0
        }
        return limits
    }
}
