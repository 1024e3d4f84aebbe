/// Domain names as Slipway asks for them: checked, lowercased, without the
/// trailing dot, and written in the wire format of RFC 1035 §3.1.
///
/// Callers pass A-labels: an internationalized name must already be in its
/// `xn--` form (IDNA conversion is not done here). Letters, digits, hyphens
/// and underscores are accepted (underscores for names such as
/// `_slipway-challenge.example.com`), and `*` as a whole label.
enum DNSName {
    /// RFC 1035 §2.3.4: a label is at most 63 bytes, a name at most 255 on the wire.
    static let maximumLabelLength = 63
    static let maximumWireLength = 255

    /// `name` lowercased and without its trailing dot.
    /// - Throws: ``DNSError`` `invalid_name` saying what is wrong with it.
    static func normalize(_ name: String) throws -> String {
        var text = Substring(name)
        if text.hasSuffix(".") { text = text.dropLast() }
        guard !text.isEmpty else { throw DNSError.invalidName(name, "it is empty") }
        var wireLength = 1
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else {
                throw DNSError.invalidName(name, "it has an empty label (a leading dot or two dots in a row)")
            }
            guard label.utf8.count <= maximumLabelLength else {
                throw DNSError.invalidName(name, "the label \"\(label)\" is longer than \(maximumLabelLength) bytes")
            }
            if label != "*" {
                for scalar in label.unicodeScalars where !isAllowed(scalar) {
                    throw DNSError.invalidName(
                        name,
                        scalar.isASCII
                            ? "it contains \"\(scalar.escaped(asASCII: true))\""
                            : "it contains non-ASCII characters")
                }
            }
            wireLength += label.utf8.count + 1
        }
        guard wireLength <= maximumWireLength else {
            throw DNSError.invalidName(name, "it is longer than \(maximumWireLength) bytes")
        }
        return text.lowercased()
    }

    /// Appends a normalized name (or the root, for "") in wire format,
    /// uncompressed.
    static func encode(_ name: String, into bytes: inout [UInt8]) {
        if !name.isEmpty {
            for label in name.split(separator: ".") {
                bytes.append(UInt8(label.utf8.count))
                bytes.append(contentsOf: label.utf8)
            }
        }
        bytes.append(0)
    }

    /// The names to look at, from `name` up to its top-level domain:
    /// `a.b.example.com`, `b.example.com`, `example.com`, `com`.
    static func selfAndParents(_ name: String) -> [String] {
        let labels = name.split(separator: ".")
        return labels.indices.map { labels[$0...].joined(separator: ".") }
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_": true
        default: false
        }
    }
}
