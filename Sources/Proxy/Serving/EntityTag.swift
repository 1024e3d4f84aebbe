/// An entity tag as it appears in `ETag`, `If-None-Match` and `If-Range`
/// (RFC 9110 §8.8.3): an opaque quoted string, optionally marked weak.
struct EntityTag: Sendable, Hashable {
    var opaque: Substring
    var isWeak: Bool

    /// Parses a comma-separated list of entity tags. Commas may appear inside
    /// the quotes, so the list is scanned rather than split. Nil when the
    /// list is malformed.
    static func parseList(_ text: Substring) -> [EntityTag]? {
        var tags: [EntityTag] = []
        var rest = text.utf8[...]
        while true {
            while let first = rest.first,
                first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") || first == UInt8(ascii: ",")
            {
                rest = rest.dropFirst()
            }
            guard !rest.isEmpty else { return tags }
            var isWeak = false
            if rest.starts(with: "W/".utf8) {
                isWeak = true
                rest = rest.dropFirst(2)
            }
            guard rest.first == UInt8(ascii: "\"") else { return nil }
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: UInt8(ascii: "\"")) else { return nil }
            tags.append(EntityTag(opaque: Substring(rest[..<close]), isWeak: isWeak))
            rest = rest[rest.index(after: close)...]
            while let first = rest.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                rest = rest.dropFirst()
            }
            guard rest.isEmpty || rest.first == UInt8(ascii: ",") else { return nil }
        }
    }
}
