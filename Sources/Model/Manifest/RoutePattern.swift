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
        var parts = path.split(separator: "/", omittingEmptySubsequences: true)
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
            parts.removeFirst(segments.count)
            var splat = parts.joined(separator: "/")
            if path.hasSuffix("/") && !parts.isEmpty { splat += "/" }
            values["splat"] = splat
        }
        return values
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
