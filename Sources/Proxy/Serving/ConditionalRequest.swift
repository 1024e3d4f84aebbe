import NIOHTTP1

/// Step 6 of the serving pipeline: conditional GET/HEAD (RFC 9110 §13.1.2,
/// §13.1.3, §13.2.2). A representation the client already holds is answered
/// with 304 and no body.
enum ConditionalRequest {
    /// Whether the request's validators say the client's copy is current.
    ///
    /// `If-None-Match` (exact, a list, `*`, weak tags compared weakly) decides
    /// when present, and `If-Modified-Since` is then ignored; otherwise
    /// `If-Modified-Since` matches when the representation has not changed
    /// since that date. A malformed header never matches.
    /// - Parameters:
    ///   - etag: the selected representation's entity tag, without quotes.
    ///   - lastModified: its modification time in seconds since the epoch.
    static func isNotModified(_ headers: HTTPHeaders, etag: String, lastModified: Int64) -> Bool {
        // Raw values: an entity tag may itself contain a comma.
        let ifNoneMatch = headers["if-none-match"]
        if !ifNoneMatch.isEmpty {
            for value in ifNoneMatch {
                if value.trimmingSpaces() == "*" { return true }
                guard let tags = EntityTag.parseList(value[...]) else { continue }
                // Weak comparison: the opaque tags match, whatever the W/ marks.
                if tags.contains(where: { $0.opaque == etag }) { return true }
            }
            return false
        }
        let ifModifiedSince = headers["if-modified-since"]
        guard ifModifiedSince.count == 1, let since = HTTPDate.parse(ifModifiedSince[0]) else { return false }
        return lastModified <= since
    }

    /// Whether `If-Range` (RFC 9110 §13.1.5) allows serving a range: absent,
    /// or naming exactly the current representation by strong entity tag or
    /// by its `Last-Modified` date. Otherwise the whole body is sent with 200.
    static func ifRangeAllowsPartial(_ headers: HTTPHeaders, etag: String, lastModified: Int64) -> Bool {
        let values = headers["if-range"]
        guard !values.isEmpty else { return true }
        guard values.count == 1 else { return false }
        let value = values[0].trimmingSpaces()
        if value.hasPrefix("\"") || value.hasPrefix("W/") {
            // Strong comparison: a weak tag never matches.
            guard let tags = EntityTag.parseList(value), tags.count == 1 else { return false }
            return !tags[0].isWeak && tags[0].opaque == etag
        }
        return HTTPDate.parse(String(value)) == lastModified
    }
}

extension Substring {
    /// The text without leading and trailing spaces and tabs.
    func trimmingSpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}

extension String {
    /// The text without leading and trailing spaces and tabs.
    func trimmingSpaces() -> Substring { self[...].trimmingSpaces() }
}
