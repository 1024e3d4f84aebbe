import Model
import NIOHTTP1
import Storage

/// Step 8 of the serving pipeline: the headers of a reply
/// (`docs/site-rules.md`, Cache-Control defaults and Always).
///
/// What every answer carries whatever produced it — `Date`, `X-Cache`,
/// `Connection` and a file body's `Content-Length` — is written in one place
/// by ``ResponseHeadWriter`` from ``ResponseHeadWriter/ExtraFields``, never
/// here.
enum SlipwayResponseHeaders {
    static let htmlContentType = "text/html; charset=utf-8"

    /// Headers a site's `_headers` can neither set nor remove: framing, the
    /// validators and `Vary` the proxy's own caching logic depends on, and
    /// what Slipway always sends.
    static let protectedFromRules: Set<String> = HeaderRules.forbidden.union([
        "x-content-type-options", "x-cache", "etag", "last-modified", "vary", "accept-ranges", "date", "content-range",
    ])

    /// Headers of one of Slipway's own pages.
    static func addPageHeaders(to headers: inout HTTPHeaders, bodyLength: Int) {
        headers.add(name: "Content-Type", value: htmlContentType)
        headers.add(name: "Content-Length", value: String(bodyLength))
        headers.add(name: "Cache-Control", value: CacheControl.noStore)
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
    }

    /// The representation headers of a build's file, before the status-specific
    /// ones (`Content-Length`, `Content-Range`) are added.
    /// - Parameters:
    ///   - coding: the content coding of the variant served, nil for identity.
    ///   - etag: the served body's entity tag, without quotes.
    ///   - custom: the `_headers` rules matching the request path.
    static func fileHeaders(
        _ file: ManifestFile, coding: String?, etag: String, lastModified: String, custom: CustomHeaders,
        isPreview: Bool
    ) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(12 + custom.headers.count)
        headers.add(name: "Content-Type", value: file.contentType)
        headers.add(name: "Cache-Control", value: file.cacheControl)
        headers.add(name: "ETag", value: "\"\(etag)\"")
        headers.add(name: "Last-Modified", value: lastModified)
        if let coding { headers.add(name: "Content-Encoding", value: coding) }
        if !file.variants.isEmpty { headers.add(name: "Vary", value: "Accept-Encoding") }
        headers.add(name: "Accept-Ranges", value: "bytes")
        apply(custom, to: &headers)
        finish(&headers, isPreview: isPreview)
        return headers
    }

    /// Headers of a redirect from `_redirects` or the directory rule.
    static func redirectHeaders(location: String, isPreview: Bool) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: location)
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "Cache-Control", value: CacheControl.revalidate)
        finish(&headers, isPreview: isPreview)
        return headers
    }

    /// Applies `_headers` results, except to protected names.
    static func apply(_ custom: CustomHeaders, to headers: inout HTTPHeaders) {
        guard !custom.isEmpty else { return }
        for name in custom.removed where !protectedFromRules.contains(name) {
            headers.remove(name: name)
        }
        for (name, value) in custom.headers where !protectedFromRules.contains(name.lowercased()) {
            headers.replaceOrAdd(name: name, value: value)
        }
    }

    /// What every site response carries whatever the rules said.
    static func finish(_ headers: inout HTTPHeaders, isPreview: Bool) {
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        if isPreview { headers.replaceOrAdd(name: "X-Robots-Tag", value: "noindex") }
    }

    /// The headers a 304 keeps from the 200 it stands for (RFC 9110 §15.4.5):
    /// no content metadata, the validators and caching headers intact.
    static func notModified(from headers: HTTPHeaders) -> HTTPHeaders {
        var result = HTTPHeaders()
        result.reserveCapacity(headers.count)
        for (name, value) in headers
        where
            !(name.equalsIgnoringASCIICase("content-type") || name.equalsIgnoringASCIICase("content-encoding")
            || name.equalsIgnoringASCIICase("content-length") || name.equalsIgnoringASCIICase("accept-ranges")
            || name.equalsIgnoringASCIICase("content-language"))
        {
            result.add(name: name, value: value)
        }
        return result
    }
}
