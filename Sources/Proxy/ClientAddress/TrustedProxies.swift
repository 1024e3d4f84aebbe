public import NIOCore

/// The addresses of the load balancers in front of the edge
/// (`SLIPWAY_TRUSTED_PROXIES`): only a connection from one of them may say
/// which client it carries. Addresses and CIDR ranges, IPv4 and IPv6.
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

    /// Whether a connection from `address` comes from a trusted proxy.
    public func contains(_ address: SocketAddress?) -> Bool {
        guard !ranges.isEmpty, let text = address?.ipAddress, let bytes = Self.bytes(text) else { return false }
        return ranges.contains { $0.contains(bytes) }
    }

    /// An address's bytes (4 for IPv4, 16 for IPv6; an IPv4-mapped IPv6
    /// address counts as its IPv4 address).
    static func bytes(_ text: String) -> [UInt8]? {
        guard let address = try? SocketAddress(ipAddress: text, port: 0) else { return nil }
        // The address inside the socket address: `sin_addr` at offset 4 of a
        // `sockaddr_in`, `sin6_addr` at offset 8 of a `sockaddr_in6`.
        let (offset, count): (Int, Int)
        switch address {
        case .v4: (offset, count) = (4, 4)
        case .v6: (offset, count) = (8, 16)
        case .unixDomainSocket: return nil
        }
        let bytes = address.withSockAddr { pointer, size -> [UInt8] in
            guard size >= offset + count else { return [] }
            return Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer) + offset, count: count))
        }
        guard bytes.count == count else { return nil }
        if count == 16 && bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
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
