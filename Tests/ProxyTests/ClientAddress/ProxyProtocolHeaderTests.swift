import Model
import NIOCore
import Testing

@testable import Proxy

/// The PROXY protocol header, versions 1 and 2, from bytes: whole, cut
/// anywhere, and malformed.
@Suite struct ProxyProtocolHeaderTests {
    typealias Header = ProxyProtocolHeader

    static func version2(command: UInt8 = 0x1, family: UInt8, addresses: [UInt8], tlvs: [UInt8] = []) -> [UInt8] {
        let body = addresses + tlvs
        return Header.signature + [0x20 | command, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    static let ipv4: [UInt8] = [203, 0, 113, 7, 10, 0, 0, 1, 0xC8, 0x22, 0x01, 0xBB]
    static let ipv6: [UInt8] =
        [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1] + [0xFD] + [UInt8](repeating: 0, count: 14)
        + [2] + [0xC8, 0x22, 0x01, 0xBB]

    static let valid: [(bytes: [UInt8], client: String?)] = [
        (Array("PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n".utf8), "203.0.113.7"),
        (Array("PROXY TCP6 2001:db8::1 fd00::2 51234 443\r\n".utf8), "2001:db8::1"),
        (Array("PROXY UNKNOWN\r\n".utf8), nil),
        (Array("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n".utf8), nil),
        (version2(family: 0x11, addresses: ipv4), "203.0.113.7"),
        (version2(family: 0x21, addresses: ipv6), "2001:db8::1"),
        (version2(family: 0x11, addresses: ipv4, tlvs: [0x04, 0x00, 0x03, 1, 2, 3]), "203.0.113.7"),
        (version2(command: 0x0, family: 0x00, addresses: []), nil),
    ]

    @Test func validHeadersNameTheClientAndTheirLengthWhetherWholeOrCutAnywhere() {
        for (bytes, client) in Self.valid {
            let trailing = Array("GET / HTTP/1.1\r\n".utf8)
            #expect(
                Header.parse(ByteBuffer(bytes: bytes + trailing)) == .header(client: client, length: bytes.count),
                "\(bytes)")
            for cut in 1..<bytes.count {
                #expect(Header.parse(ByteBuffer(bytes: bytes.prefix(cut))) == .needMore, "\(bytes) cut at \(cut)")
            }
        }
    }

    @Test func malformedHeadersAreRefused() {
        let refused: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\n\r\n".utf8),
            Array("PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\n".utf8),
            Array("PROXY TCP4 203.0.113.7 10.0.0.1 51234\r\n".utf8),
            Array("PROXY TCP4 2001:db8::1 10.0.0.1 51234 443\r\n".utf8),
            Array("PROXY TCP6 203.0.113.7 fd00::2 51234 443\r\n".utf8),
            Array("PROXY TCP4 203.0.113.999 10.0.0.1 51234 443\r\n".utf8),
            Array("PROXY TCP4 203.0.113.7 10.0.0.1 65536 443\r\n".utf8),
            Array("PROXY TCP4 203.0.113.7 10.0.0.1 0443 443\r\n".utf8),
            Array("PROXY UDP4 203.0.113.7 10.0.0.1 51234 443\r\n".utf8),
            Array(("PROXY TCP4 " + String(repeating: "1", count: 120)).utf8),
            Array("PROXX TCP4".utf8),
            Self.version2(family: 0x11, addresses: [1, 2, 3]),
            Self.version2(family: 0x21, addresses: Self.ipv4),
            Self.version2(command: 0x2, family: 0x11, addresses: Self.ipv4),
            Self.version2(family: 0x41, addresses: Self.ipv4),
            Array(Header.signature.prefix(11)) + [0x00],
            Header.signature + [0x31, 0x11, 0, 12] + Self.ipv4,
            Header.signature + [0x21, 0x11, 0xFF, 0xFF],
        ]
        for bytes in refused {
            guard case .invalid = Header.parse(ByteBuffer(bytes: bytes)) else {
                Issue.record("not refused: \(String(decoding: bytes, as: UTF8.self).debugDescription) \(bytes)")
                continue
            }
        }
    }

    @Test func trustedProxiesMatchAddressesAndRanges() throws {
        let trusted = try TrustedProxies(parsing: "10.0.0.0/8, 192.0.2.7 ,fd00::/8")
        func from(_ address: String) throws -> Bool { trusted.contains(try SocketAddress(ipAddress: address, port: 1)) }
        #expect(try from("10.1.2.3") && from("192.0.2.7") && from("fd12::1") && from("::ffff:10.0.0.9"))
        #expect(try !from("11.0.0.1") && !from("192.0.2.8") && !from("fe80::1") && !from("127.0.0.1"))
        #expect(!TrustedProxies.none.contains(try SocketAddress(ipAddress: "10.0.0.1", port: 1)))
        #expect(try TrustedProxies(parsing: "0.0.0.0/0").contains(try SocketAddress(ipAddress: "8.8.8.8", port: 1)))
        for bad in ["10.0.0.0/33", "example.com", "10.0.0.0/x", "::/129", "1.2.3"] {
            #expect(throws: TrustedProxiesError.self, "\(bad)") { _ = try TrustedProxies(parsing: bad) }
        }
    }
}
