import NIOCore

/// An IPv4 or IPv6 address from an A or AAAA record, in network byte order.
public struct DNSAddress: Hashable, Sendable, CustomStringConvertible {
    /// The 4 (IPv4) or 16 (IPv6) address bytes.
    public let bytes: [UInt8]

    /// An address from its 4 or 16 bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Whether this is an IPv6 address (from an AAAA record).
    public var isIPv6: Bool { bytes.count == 16 }

    /// The usual text form: `192.0.2.1`, `2001:db8::1`.
    public var description: String {
        if !isIPv6 { return bytes.map(String.init).joined(separator: ".") }
        let packed = ByteBuffer(bytes: bytes)
        return (try? SocketAddress(packedIPAddress: packed, port: 0))?.ipAddress
            ?? bytes.map { String($0, radix: 16) }.joined(separator: ":")
    }
}
