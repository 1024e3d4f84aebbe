/// A path pattern as `_redirects` and `_headers` write them: literal
/// segments, `:name` placeholders that match one segment, and an optional
/// final `*` that matches the rest (available as `:splat`).
///
/// `/news/*` matches `/news`, `/news/` and `/news/a/b`; `/blog/:year/:slug`
/// matches `/blog/2024/hello`. A trailing slash is optional on both sides.
public struct RoutePattern: Codable, Sendable, Hashable, CustomStringConvertible {
    enum Segment: Hashable {
        case literal(String)
        case placeholder(String)
    }

    /// The pattern as written.
    public let source: String
    private let segments: [Segment]
    private let hasSplat: Bool

    /// Parses `source`, which must start with `/`.
    public init(_ source: String) throws(ManifestError) {
        guard source.hasPrefix("/") else {
            throw ManifestError("a path pattern must start with '/': '\(source.prefix(100))'")
        }
        var parts = source.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var splat = false
        if let last = parts.last, last == "*" {
            splat = true
            parts.removeLast()
        }
        var segments: [Segment] = []
        for part in parts {
            if part.contains("*") {
                throw ManifestError("'*' may only stand alone at the end of a pattern: '\(source.prefix(100))'")
            }
            if part.hasPrefix(":") && part.count > 1 {
                segments.append(.placeholder(String(part.dropFirst())))
            } else {
                segments.append(.literal(part))
            }
        }
        self.source = source
        self.segments = segments
        self.hasSplat = splat
    }

    public var description: String { source }

    /// The placeholder values when `path` matches (`splat` for the `*` part), else nil.
    /// `path` is a sanitised site path starting with `/`.
    public func match(_ path: String) -> [String: String]? {
        match(segments: path.split(separator: "/", omittingEmptySubsequences: true), trailingSlash: path.hasSuffix("/"))
    }

    /// ``match(_:)`` for a path already split into its non-empty segments,
    /// so that many patterns can be tried against one split. Costs at most
    /// one comparison per segment of the pattern (plus joining the splat).
    /// - Parameter trailingSlash: the path ended with `/`.
    public func match(segments parts: [Substring], trailingSlash: Bool) -> [String: String]? {
        if hasSplat {
            guard parts.count >= segments.count else { return nil }
        } else {
            guard parts.count == segments.count else { return nil }
        }
        var values: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .literal(let literal): guard parts[index] == literal else { return nil }
            case .placeholder(let name): values[name] = String(parts[index])
            }
        }
        if hasSplat {
            let rest = parts[segments.count...]
            var splat = rest.joined(separator: "/")
            if trailingSlash && !rest.isEmpty { splat += "/" }
            values["splat"] = splat
        }
        return values
    }

    /// How an index can find this pattern without trying it: the literal
    /// key of a pattern made only of literal segments (its segments joined
    /// with `/`; it matches exactly the paths with that key), else the
    /// literal first segment every match starts with, else nothing (a
    /// placeholder first, or a `/*` that matches everything).
    public var indexKey: IndexKey {
        if !hasSplat, segments.allSatisfy({ if case .literal = $0 { true } else { false } }) {
            return .exact(
                segments.map { segment -> String in
                    if case .literal(let literal) = segment { return literal }
                    return ""
                }.joined(separator: "/"))
        }
        if case .literal(let first)? = segments.first { return .firstSegment(first) }
        return .any
    }

    /// See ``indexKey``.
    public enum IndexKey: Sendable, Hashable {
        case exact(String)
        case firstSegment(String)
        case any
    }

    public init(from decoder: any Decoder) throws {
        let source = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(source) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(source)
    }
}
