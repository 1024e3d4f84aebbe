import NIOCore

/// The PROXY protocol header a load balancer sends before a connection's
/// own bytes (HAProxy's specification, versions 1 and 2), saying which
/// client the connection is for. Parsed as a value, from the bytes received
/// so far, without a channel.
///
/// - Version 1 is one text line of at most 107 bytes:
///   `PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n` (`TCP6` for IPv6, or
///   `PROXY UNKNOWN…\r\n` when the balancer does not know the client).
/// - Version 2 is binary: a 12-byte signature, the version and command, the
///   address family, a length, the addresses and ports, then optional TLVs
///   (skipped). A `LOCAL` command (the balancer's own health check) names no
///   client.
enum ProxyProtocolHeader {
    enum Result: Equatable {
        /// The header is not complete yet.
        case needMore
        /// A header of `length` bytes; `client` is the client's address, nil
        /// when the header names none (`UNKNOWN`, `LOCAL`, an unspecified family).
        case header(client: String?, length: Int)
        /// Not a PROXY protocol header, or a malformed one.
        case invalid(String)
    }

    /// Version 2's signature.
    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    static let version1Prefix = Array("PROXY ".utf8)
    /// Version 1's longest line, CRLF included.
    static let maxVersion1Length = 107
    /// The longest version 2 header taken (addresses and TLVs); balancers send far less.
    static let maxVersion2Length = 16 + 1024

    static func parse(_ buffer: ByteBuffer) -> Result {
        let bytes = buffer.readableBytesView
        guard let first = bytes.first else { return .needMore }
        if first == signature[0] {
            return parseVersion2(buffer)
        }
        if first == version1Prefix[0] {
            return parseVersion1(buffer)
        }
        return .invalid("the connection does not start with a PROXY protocol header")
    }

    // MARK: Version 1

    private static func parseVersion1(_ buffer: ByteBuffer) -> Result {
        let bytes = Array(buffer.readableBytesView.prefix(maxVersion1Length))
        let prefixLength = min(bytes.count, version1Prefix.count)
        guard Array(bytes[..<prefixLength]) == Array(version1Prefix[..<prefixLength]) else {
            return .invalid("the connection does not start with a PROXY protocol header")
        }
        guard let lineFeed = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            return bytes.count >= maxVersion1Length
                ? .invalid("the PROXY protocol v1 line is longer than \(maxVersion1Length) bytes") : .needMore
        }
        guard lineFeed > 0, bytes[lineFeed - 1] == UInt8(ascii: "\r") else {
            return .invalid("the PROXY protocol v1 line does not end with CRLF")
        }
        let line = String(decoding: bytes[version1Prefix.count..<(lineFeed - 1)], as: UTF8.self)
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        let length = lineFeed + 1
        if fields.first == "UNKNOWN" { return .header(client: nil, length: length) }
        guard fields.count == 5, fields[0] == "TCP4" || fields[0] == "TCP6" else {
            return .invalid("the PROXY protocol v1 line is not 'PROXY TCP4|TCP6 source destination sport dport'")
        }
        let isIPv6 = fields[0] == "TCP6"
        guard let source = address(String(fields[1]), isIPv6: isIPv6),
            address(String(fields[2]), isIPv6: isIPv6) != nil, port(fields[3]), port(fields[4])
        else {
            return .invalid("the PROXY protocol v1 line has a malformed address or port")
        }
        return .header(client: source, length: length)
    }

    /// The address in its canonical text form, when `text` is one of the family.
    private static func address(_ text: String, isIPv6: Bool) -> String? {
        guard text.utf8.count <= 45, (text.contains(":")) == isIPv6,
            let parsed = try? SocketAddress(ipAddress: text, port: 0)
        else { return nil }
        return parsed.ipAddress
    }

    /// A port: 0–65535 in decimal, without a leading zero.
    private static func port(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            text == "0" || text.first != "0", let value = Int(text)
        else { return false }
        return value <= 65_535
    }

    // MARK: Version 2

    private static func parseVersion2(_ buffer: ByteBuffer) -> Result {
        let bytes = buffer.readableBytesView
        let available = min(bytes.count, signature.count)
        guard bytes.prefix(available).elementsEqual(signature.prefix(available)) else {
            return .invalid("the connection does not start with a PROXY protocol header")
        }
        guard bytes.count >= 16 else { return .needMore }
        let start = bytes.startIndex
        let versionAndCommand = bytes[start + 12]
        let familyAndProtocol = bytes[start + 13]
        let length = Int(bytes[start + 14]) << 8 | Int(bytes[start + 15])
        guard versionAndCommand >> 4 == 2 else { return .invalid("the PROXY protocol v2 header has another version") }
        guard 16 + length <= maxVersion2Length else {
            return .invalid("the PROXY protocol v2 header is longer than \(maxVersion2Length) bytes")
        }
        guard bytes.count >= 16 + length else { return .needMore }
        let total = 16 + length
        switch versionAndCommand & 0x0F {
        case 0x0:
            // LOCAL: the balancer's own connection (a health check).
            return .header(client: nil, length: total)
        case 0x1:
            break
        default:
            return .invalid("the PROXY protocol v2 header has an unknown command")
        }
        switch familyAndProtocol >> 4 {
        case 0x1:
            guard length >= 12 else { return .invalid("the PROXY protocol v2 IPv4 addresses are cut short") }
            return .header(client: packed(buffer, at: 16, count: 4), length: total)
        case 0x2:
            guard length >= 36 else { return .invalid("the PROXY protocol v2 IPv6 addresses are cut short") }
            return .header(client: packed(buffer, at: 16, count: 16), length: total)
        case 0x0, 0x3:
            // Unspecified or a UNIX socket: no client address to use.
            return .header(client: nil, length: total)
        default:
            return .invalid("the PROXY protocol v2 header has an unknown address family")
        }
    }

    /// The packed address of `count` bytes `offset` bytes into the readable bytes, as text.
    private static func packed(_ buffer: ByteBuffer, at offset: Int, count: Int) -> String? {
        guard let bytes = buffer.getSlice(at: buffer.readerIndex + offset, length: count),
            let address = try? SocketAddress(packedIPAddress: bytes, port: 0)
        else { return nil }
        return address.ipAddress
    }
}
