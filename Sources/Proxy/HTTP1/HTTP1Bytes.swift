/// Byte classes and small byte-level helpers of the HTTP/1.1 grammar (RFC 9110
/// §5.6, RFC 9112), written as plain comparisons on `UInt8` so that the scanning
/// loops stay free of generics, tables behind lazy globals and allocation.
enum HTTP1Bytes {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let semicolon: UInt8 = 0x3B
    static let equals: UInt8 = 0x3D
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let slash: UInt8 = 0x2F

    /// tchar (RFC 9110 §5.6.2) as a bitmap: bit `b` of `tcharLow` for bytes
    /// 0x00–0x3F, bit `b - 64` of `tcharHigh` for 0x40–0x7F; nothing above.
    private static let tcharLow: UInt64 = 0x03FF_6CFA_0000_0000
    private static let tcharHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// Whether `byte` may appear in a token (method, field name, coding).
    @inline(__always)
    static func isTchar(_ byte: UInt8) -> Bool {
        if byte < 64 { return (tcharLow >> UInt64(byte)) & 1 == 1 }
        if byte < 128 { return (tcharHigh >> UInt64(byte - 64)) & 1 == 1 }
        return false
    }

    /// SP or HTAB: optional whitespace (OWS).
    @inline(__always)
    static func isOWS(_ byte: UInt8) -> Bool { byte == sp || byte == htab }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// The value of a hexadecimal digit, or nil.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt64? {
        switch byte {
        case 0x30...0x39: UInt64(byte - 0x30)
        case 0x41...0x46: UInt64(byte - 0x41 + 10)
        case 0x61...0x66: UInt64(byte - 0x61 + 10)
        default: nil
        }
    }

    /// ASCII lower case of a letter; other bytes unchanged.
    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    /// Whether `bytes[range]` equals `lowercase` (lower-case ASCII), ignoring ASCII case.
    @inline(__always)
    static func equalsIgnoringCase(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString
    ) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard range.count == count else { return false }
        let expected = lowercase.utf8Start
        var index = 0
        while index < count {
            if lower(bytes[range.lowerBound + index]) != expected[index] { return false }
            index += 1
        }
        return true
    }

    /// `range` without leading and trailing SP and HTAB.
    @inline(__always)
    static func trimmed(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var start = range.lowerBound
        var end = range.upperBound
        while start < end && isOWS(bytes[start]) { start += 1 }
        while end > start && isOWS(bytes[end - 1]) { end -= 1 }
        return start..<end
    }

    /// The first index of `byte` in `bytes[range]`, or `range.upperBound`.
    @inline(__always)
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int {
        var index = range.lowerBound
        while index < range.upperBound && bytes[index] != byte { index += 1 }
        return index
    }
}

// MARK: - Host comparison

/// Host names compared the way Slipway's `HostRoute.normalizedHost` does (lower
/// case, port and one trailing dot stripped, only `[A-Za-z0-9._-]`; every IPv6
/// literal normalises to the same value), on bytes and without allocating.
enum HTTP1HostName {
    enum Normalized {
        /// An IPv6 literal (`[...]` with an optional port).
        case ipv6
        /// A host name: these bytes, compared ignoring ASCII case.
        case name(Range<Int>)
    }

    /// The normalised form of `bytes[range]`, or nil when it is not a valid host.
    /// - Parameter strictLiteral: an IPv6 literal may hold only the bytes
    ///   llhttp (today's edge) takes in a URL's authority: letters, digits and
    ///   ``-_.!~*'()%;:&=+$,[``. For a request target's authority; `Host`
    ///   values are taken as `HostRoute` takes them.
    static func normalize(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, strictLiteral: Bool = false
    ) -> Normalized? {
        guard !range.isEmpty, range.count <= 255 else { return nil }
        if bytes[range.lowerBound] == UInt8(ascii: "[") {
            let close = HTTP1Bytes.firstIndex(of: UInt8(ascii: "]"), in: bytes, range)
            guard close < range.upperBound else { return nil }
            if strictLiteral {
                for index in (range.lowerBound + 1)..<close {
                    let byte = bytes[index]
                    switch byte {
                    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"):
                        continue
                    case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"),
                        UInt8(ascii: "~"), UInt8(ascii: "*"), UInt8(ascii: "'"), UInt8(ascii: "("),
                        UInt8(ascii: ")"), UInt8(ascii: "%"), UInt8(ascii: ";"), UInt8(ascii: ":"),
                        UInt8(ascii: "&"), UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "$"),
                        UInt8(ascii: ","), UInt8(ascii: "["):
                        continue
                    default:
                        return nil
                    }
                }
            }
            var index = close + 1
            if index == range.upperBound { return .ipv6 }
            guard bytes[index] == HTTP1Bytes.colon else { return nil }
            index += 1
            while index < range.upperBound {
                guard HTTP1Bytes.isDigit(bytes[index]) else { return nil }
                index += 1
            }
            return .ipv6
        }
        var end = range.upperBound
        let colon = HTTP1Bytes.firstIndex(of: HTTP1Bytes.colon, in: bytes, range)
        if colon < end {
            let port = (colon + 1)..<end
            guard !port.isEmpty, port.count <= 5 else { return nil }
            for index in port where !HTTP1Bytes.isDigit(bytes[index]) { return nil }
            end = colon
        }
        if end > range.lowerBound && bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }
        guard end > range.lowerBound else { return nil }
        for index in range.lowerBound..<end {
            switch bytes[index] {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                continue
            default:
                return nil
            }
        }
        return .name(range.lowerBound..<end)
    }

    /// Whether a target's authority and a `Host` value are valid hosts that
    /// normalise to the same value.
    static func sameHost(_ bytes: UnsafeRawBufferPointer, authority: Range<Int>, host: Range<Int>) -> Bool {
        switch (normalize(bytes, authority, strictLiteral: true), normalize(bytes, host)) {
        case (.ipv6, .ipv6):
            return true
        case (.name(let first), .name(let second)):
            guard first.count == second.count else { return false }
            var offset = 0
            while offset < first.count {
                let a = HTTP1Bytes.lower(bytes[first.lowerBound + offset])
                if a != HTTP1Bytes.lower(bytes[second.lowerBound + offset]) {
                    return false
                }
                offset += 1
            }
            return true
        default:
            return false
        }
    }
}
