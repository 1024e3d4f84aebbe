#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The addresses of the load balancers in front of Slipway
/// (`SLIPWAY_TRUSTED_PROXIES`): only a connection from one of them may say
/// which client it carries — in a PROXY protocol header on the edge, or in
/// `X-Forwarded-For` / `X-Forwarded-Proto` on the edge and the admin API.
/// Addresses and CIDR ranges, IPv4 and IPv6.
public struct TrustedProxies: Sendable, Hashable {
    struct Range: Sendable, Hashable {
        var network: [UInt8]
        var prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == network.count else { return false }
            var remaining = prefixLength
            for index in network.indices where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if address[index] & mask != network[index] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    let ranges: [Range]

    /// None: no connection is trusted.
    public static let none = TrustedProxies(ranges: [])

    init(ranges: [Range]) {
        self.ranges = ranges
    }

    /// Parses a comma-separated list such as `10.0.0.0/8, 192.0.2.7, fd00::/8`.
    /// - Throws: a message naming the entry that is not an address or a range.
    public init(parsing list: String) throws(TrustedProxiesError) {
        var ranges: [Range] = []
        for entry in list.split(separator: ",").map({ Self.trimmed($0) }) where !entry.isEmpty {
            let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let bytes = Self.bytes(String(parts[0])) else {
                throw TrustedProxiesError("'\(entry.prefix(100))' is not an IP address or a CIDR range")
            }
            var prefix = bytes.count * 8
            if parts.count == 2 {
                guard let length = Int(parts[1]), (0...bytes.count * 8).contains(length) else {
                    throw TrustedProxiesError("'\(entry.prefix(100))' has a prefix length outside 0–\(bytes.count * 8)")
                }
                prefix = length
            }
            ranges.append(Range(network: bytes, prefixLength: prefix))
        }
        self.init(ranges: ranges)
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Whether a connection from `address` (text such as `10.0.0.7` or
    /// `fd00::1`) comes from a trusted proxy.
    public func contains(ipAddress address: String?) -> Bool {
        guard !ranges.isEmpty, let address, let bytes = Self.bytes(address) else { return false }
        return ranges.contains { $0.contains(bytes) }
    }

    /// The client behind a connection from `peer`, given the values of its
    /// `X-Forwarded-For` headers in order: the peer itself unless it is
    /// trusted; otherwise the list is read from its end (the entry the
    /// nearest proxy appended) and the first address that is not a trusted
    /// proxy is the client. Entries a client wrote itself sit to the left of
    /// that one and are never believed. A trusted peer that sent no (or no
    /// readable) header leaves the peer as the client.
    public func client(peer: String, forwardedFor values: [String]) -> String {
        guard contains(ipAddress: peer), !values.isEmpty else { return peer }
        var entries: [String] = []
        for value in values {
            entries += value.split(separator: ",").map { Self.trimmed($0) }
        }
        var client = peer
        for entry in entries.reversed() {
            guard let address = Self.forwardedAddress(entry) else { return client }
            client = address
            if !contains(ipAddress: address) { return address }
        }
        return client
    }

    /// Whether the request came over TLS as far as the client is concerned:
    /// `X-Forwarded-Proto` counts only from a trusted `peer` (the last value
    /// when several proxies appended one); otherwise what the connection itself is.
    public func isSecure(peer: String, connectionIsSecure: Bool, forwardedProto values: [String]) -> Bool {
        guard contains(ipAddress: peer),
            let last = values.last?.split(separator: ",").last.map({ Self.trimmed($0).lowercased() })
        else { return connectionIsSecure }
        switch last {
        case "https": return true
        case "http": return false
        default: return connectionIsSecure
        }
    }

    /// An `X-Forwarded-For` entry as an address: `203.0.113.7`,
    /// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443` or
    /// `203.0.113.7:443`; nil for anything else (`unknown`, a name).
    static func forwardedAddress(_ entry: String) -> String? {
        var text = Substring(entry)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            text = text[text.index(after: text.startIndex)..<close]
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            text = text[..<colon]
        }
        let address = String(text)
        return bytes(address) == nil ? nil : address
    }

    /// An address's bytes (4 for IPv4, 16 for IPv6; an IPv4-mapped IPv6
    /// address counts as its IPv4 address); nil when `text` is not one.
    static func bytes(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count <= 64, !text.contains("%") else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return Array(bytes.suffix(4))
        }
        return bytes
    }

    private static func trimmed(_ text: Substring) -> String {
        String(
            text.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()
        )
    }
}

/// A list of trusted proxies that cannot be read.
public struct TrustedProxiesError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
