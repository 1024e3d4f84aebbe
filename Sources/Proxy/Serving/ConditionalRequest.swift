import Model
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
        var sawIfNoneMatch = false
        var ifModifiedSince: String?
        var ifModifiedSinceCount = 0
        for (name, value) in headers {
            if name.equalsIgnoringASCIICase("if-none-match") {
                sawIfNoneMatch = true
                if matches(value, etag: etag) { return true }
            } else if name.equalsIgnoringASCIICase("if-modified-since") {
                ifModifiedSinceCount += 1
                ifModifiedSince = value
            }
        }
        if sawIfNoneMatch { return false }
        guard ifModifiedSinceCount == 1, let text = ifModifiedSince, let since = HTTPDate.parse(text) else {
            return false
        }
        return lastModified <= since
    }

    /// Whether one `If-None-Match` value names `etag` (or is `*`).
    private static func matches(_ value: String, etag: String) -> Bool {
        // What a browser sends back: exactly the quoted tag it was given.
        let bytes = value.utf8
        if bytes.count == etag.utf8.count + 2, bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\""),
            bytes.dropFirst().dropLast().elementsEqual(etag.utf8)
        {
            return true
        }
        if value.trimmingSpaces() == "*" { return true }
        // Raw values: an entity tag may itself contain a comma.
        guard let tags = EntityTag.parseList(value[...]) else { return false }
        // Weak comparison: the opaque tags match, whatever the W/ marks.
        return tags.contains(where: { $0.opaque == etag })
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
