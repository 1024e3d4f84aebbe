/// A request target reduced to a safe site path, per `docs/hardening.md`:
/// percent-decoded exactly once, `.` segments and repeated slashes dropped,
/// and anything that could address outside the build — `..`, encoded `/` or
/// `\`, NUL and other controls, bad escapes, invalid or overlong UTF-8 —
/// refused. Every accepted path maps to an object key under
/// `sites/<siteId>/<buildId>/` with no empty, `.` or `..` segment.
public struct RequestPath: Sendable, Hashable {
    /// The decoded path: starts with `/`; ends with `/` when the request's did.
    public let path: String
    /// The raw query string (without `?`), passed on to redirects unchanged.
    public let query: String?

    /// Most segments a path may have. Real sites nest a few levels; a path
    /// of thousands of segments only makes every lookup more expensive, so
    /// it is refused (414) before anything else looks at it.
    public static let maxSegments = 256

    /// Why a target was refused. The text is fixed (never echoes the request).
    public enum Rejection: Error, Sendable, Hashable {
        case notOriginForm
        case badEscape
        case forbiddenByte
        case dotDotSegment
        case invalidUTF8
        /// More than ``RequestPath/maxSegments`` segments.
        case tooManySegments
    }

    /// Sanitises an origin-form request target (`/path?query`).
    public init(target: String) throws(Rejection) {
        var bytes = Substring(target).utf8[...]
        guard bytes.first == UInt8(ascii: "/") else { throw .notOriginForm }
        var query: String?
        if let mark = bytes.firstIndex(of: UInt8(ascii: "?")) {
            query = String(Substring(bytes[bytes.index(after: mark)...]))
            bytes = bytes[..<mark]
        }
        if let plain = Self.plainPath(bytes) {
            self.path = plain
            self.query = query
            return
        }
        if bytes.contains(UInt8(ascii: "#")) { throw .forbiddenByte }

        var segments: [[UInt8]] = []
        var segment: [UInt8] = []
        func closeSegment() throws(Rejection) {
            defer { segment.removeAll(keepingCapacity: true) }
            if segment.isEmpty { return }
            if segment == [UInt8(ascii: ".")] { return }
            if segment == [UInt8(ascii: "."), UInt8(ascii: ".")] { throw .dotDotSegment }
            if segments.count == Self.maxSegments { throw .tooManySegments }
            segments.append(segment)
        }
        var index = bytes.startIndex
        while index < bytes.endIndex {
            var byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                guard first < bytes.endIndex, bytes.index(after: first) < bytes.endIndex,
                    let high = hexValue(bytes[first]), let low = hexValue(bytes[bytes.index(after: first)])
                else { throw .badEscape }
                byte = high << 4 | low
                index = bytes.index(first, offsetBy: 2)
                // An encoded separator would let one segment act as two.
                if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") { throw .forbiddenByte }
            } else {
                index = bytes.index(after: index)
                if byte == UInt8(ascii: "/") {
                    try closeSegment()
                    continue
                }
            }
            if byte < 0x20 || byte == 0x7f || byte == UInt8(ascii: "\\") { throw .forbiddenByte }
            segment.append(byte)
        }
        let endsWithSlash = bytes.last == UInt8(ascii: "/")
        try closeSegment()

        var decoded: [UInt8] = [UInt8(ascii: "/")]
        for (position, part) in segments.enumerated() {
            if position > 0 { decoded.append(UInt8(ascii: "/")) }
            decoded.append(contentsOf: part)
        }
        if endsWithSlash && !segments.isEmpty { decoded.append(UInt8(ascii: "/")) }
        // Swift's UTF-8 validation rejects overlong forms and surrogates.
        guard let path = String(validating: decoded, as: UTF8.self) else { throw .invalidUTF8 }
        self.path = path
        self.query = query
    }

    /// The path itself when it needs no decoding and no normalising (most
    /// requests): printable ASCII without `%`, `\` or `#`, and no empty,
    /// `.` or `..` segment except an empty last one (a trailing `/`), and no
    /// more than ``maxSegments`` segments. Nil for anything else, which the
    /// general rules above then decide.
    private static func plainPath(_ bytes: Substring.UTF8View) -> String? {
        var segmentLength = 0
        var dots = 0
        var separators = 0
        func isDotSegment() -> Bool { segmentLength > 0 && segmentLength <= 2 && dots == segmentLength }
        for byte in bytes.dropFirst() {
            if byte == UInt8(ascii: "/") {
                if segmentLength == 0 || isDotSegment() { return nil }
                separators += 1
                if separators >= maxSegments { return nil }
                segmentLength = 0
                dots = 0
                continue
            }
            guard byte > 0x20, byte < 0x7f, byte != UInt8(ascii: "%"), byte != UInt8(ascii: "\\"),
                byte != UInt8(ascii: "#")
            else {
                return nil
            }
            segmentLength += 1
            if byte == UInt8(ascii: ".") { dots += 1 }
        }
        if isDotSegment() { return nil }
        return String(Substring(bytes))
    }

    /// The path as a manifest key: without the leading `/`.
    public var manifestPath: String { Self.manifestKey(path) }

    /// `path` without its leading `/` byte. Never `dropFirst()` on the
    /// String: a combining mark after the `/` joins it into one Character,
    /// and dropping that Character would drop the mark too.
    static func manifestKey(_ path: String) -> String {
        guard path.utf8.first == UInt8(ascii: "/") else { return path }
        // The usual case keeps the String's fast (ASCII, normalized) form,
        // which its hashing into the manifest's dictionary relies on.
        let rest = path.dropFirst()
        if rest.utf8.count == path.utf8.count - 1 { return String(rest) }
        return String(Substring(path.utf8.dropFirst()))
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}

/// Percent-encodes a decoded site path for a `Location` header: keeps
/// unreserved characters, sub-delimiters, `:`, `@` and `/`; encodes the rest.
func encodePathForLocation(_ path: String) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(path.utf8.count)
    let hex = Array("0123456789ABCDEF".utf8)
    for byte in path.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: "/"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "@"):
            out.append(byte)
        default:
            out.append(UInt8(ascii: "%"))
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0f)])
        }
    }
    return String(decoding: out, as: UTF8.self)
}
