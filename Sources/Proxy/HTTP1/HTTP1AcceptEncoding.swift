/// The precompressed codings a request accepts (RFC 9110 §12.5.3), as the
/// proxy needs them: `identity` is always possible and so not tracked.
struct HTTP1AcceptedEncodings: OptionSet, Sendable, Hashable {
    let rawValue: UInt8

    static let gzip = HTTP1AcceptedEncodings(rawValue: 1 << 0)
    static let br = HTTP1AcceptedEncodings(rawValue: 1 << 1)
    static let zstd = HTTP1AcceptedEncodings(rawValue: 1 << 2)
}

/// `Accept-Encoding` folded over all of a request's fields, as Slipway's
/// `Precompression.acceptedCodings` reads them today: elements split at `,`,
/// parameters at `;` (empty pieces skipped), `x-gzip` is `gzip`, a `q` that is
/// not a number above zero refuses the coding, a later mention of a coding
/// replaces an earlier one, and `*` covers the codings not mentioned.
struct HTTP1AcceptEncodingState: Sendable, Hashable {
    /// Per coding: 0 not mentioned, 1 accepted, 2 refused.
    private var gzip: UInt8 = 0
    private var br: UInt8 = 0
    private var zstd: UInt8 = 0
    private var wildcard: UInt8 = 0

    var accepted: HTTP1AcceptedEncodings {
        var result = HTTP1AcceptedEncodings()
        if Self.accepts(gzip, wildcard) { result.insert(.gzip) }
        if Self.accepts(br, wildcard) { result.insert(.br) }
        if Self.accepts(zstd, wildcard) { result.insert(.zstd) }
        return result
    }

    /// Mentioned and accepted, or not mentioned and covered by an accepted `*`.
    private static func accepts(_ own: UInt8, _ wildcard: UInt8) -> Bool {
        own == 1 || (own == 0 && wildcard == 1)
    }

    /// Folds in one field value, `bytes[range]`.
    mutating func add(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        var elementStart = range.lowerBound
        while elementStart < range.upperBound {
            let elementEnd = HTTP1Bytes.firstIndex(of: HTTP1Bytes.comma, in: bytes, elementStart..<range.upperBound)
            if elementEnd > elementStart { addElement(bytes, elementStart..<elementEnd) }
            elementStart = elementEnd + 1
        }
    }

    private mutating func addElement(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
        var coding: Range<Int>?
        var acceptable = true
        var partStart = range.lowerBound
        while partStart < range.upperBound {
            let partEnd = HTTP1Bytes.firstIndex(of: HTTP1Bytes.semicolon, in: bytes, partStart..<range.upperBound)
            defer { partStart = partEnd + 1 }
            if partEnd == partStart { continue } // an empty piece, skipped like `split` does
            guard coding != nil else {
                coding = HTTP1Bytes.trimmed(bytes, partStart..<partEnd)
                continue
            }
            // A parameter: only `q` matters.
            let equals = HTTP1Bytes.firstIndex(of: HTTP1Bytes.equals, in: bytes, partStart..<partEnd)
            guard equals > partStart, equals + 1 < partEnd else { continue }
            guard HTTP1Bytes.equalsIgnoringCase(bytes, HTTP1Bytes.trimmed(bytes, partStart..<equals), "q") else {
                continue
            }
            acceptable = Self.isPositiveNumber(bytes, HTTP1Bytes.trimmed(bytes, (equals + 1)..<partEnd))
        }
        guard let coding, !coding.isEmpty else { return }
        let state: UInt8 = acceptable ? 1 : 2
        if HTTP1Bytes.equalsIgnoringCase(bytes, coding, "gzip")
            || HTTP1Bytes.equalsIgnoringCase(bytes, coding, "x-gzip")
        {
            gzip = state
        } else if HTTP1Bytes.equalsIgnoringCase(bytes, coding, "br") {
            br = state
        } else if HTTP1Bytes.equalsIgnoringCase(bytes, coding, "zstd") {
            zstd = state
        } else if coding.count == 1 && bytes[coding.lowerBound] == UInt8(ascii: "*") {
            wildcard = state
        }
    }

    /// Whether `bytes[range]` is a decimal number above zero (`1`, `0.5`, `.5`,
    /// `1e3`, `inf`), like `(Double(text) ?? 0) > 0`: anything malformed counts
    /// as zero. Hexadecimal floats, which `Double` would also read, count as zero.
    static func isPositiveNumber(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        let end = range.upperBound
        var negative = false
        if index < end && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        let rest = index..<end
        if HTTP1Bytes.equalsIgnoringCase(bytes, rest, "inf") || HTTP1Bytes.equalsIgnoringCase(bytes, rest, "infinity") {
            return !negative
        }
        var digits = 0
        var nonZero = false
        var sawDot = false
        while index < end {
            let byte = bytes[index]
            if HTTP1Bytes.isDigit(byte) {
                digits += 1
                if byte != UInt8(ascii: "0") { nonZero = true }
            } else if byte == UInt8(ascii: ".") && !sawDot {
                sawDot = true
            } else {
                break
            }
            index += 1
        }
        guard digits > 0 else { return false }
        if index < end {
            guard bytes[index] | 0x20 == UInt8(ascii: "e") else { return false }
            index += 1
            if index < end && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard index < end else { return false }
            while index < end {
                guard HTTP1Bytes.isDigit(bytes[index]) else { return false }
                index += 1
            }
        }
        return nonZero && !negative
    }
}
