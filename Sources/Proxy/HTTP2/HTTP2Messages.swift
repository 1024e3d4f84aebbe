import NIOCore
import NIOHPACK
import NIOHTTP1

/// An HTTP/2 request head (RFC 9113 §8.3) as the serving pipeline sees it.
///
/// swift-nio-http2 has already checked the header block (its validation is
/// on): the pseudo-fields and their order, lower-case names, no
/// connection-specific fields, and the header list within
/// `SETTINGS_MAX_HEADER_LIST_SIZE`. What is left is what HTTP/1.1's parser
/// checks of a head (`docs/hardening.md`): the host, the target's form and
/// length, and the number of fields.
enum HTTP2Request {
    struct Refusal: Error, Equatable {
        var kind: SlipwayPages.Kind
        /// The request's method, when it had one (a HEAD gets no page body).
        var method: HTTPMethod
    }

    static func make(_ headers: HPACKHeaders, limits: RequestIntake.Limits) -> Result<IncomingRequest, Refusal> {
        var method: HTTPMethod?
        var path: String?
        var authority: String?
        var hosts: [String] = []
        var fields = HTTPHeaders()
        var count = 0
        for (name, value, _) in headers {
            count += 1
            switch name {
            case ":method": method = HTTPMethod(rawValue: value)
            case ":path": path = value
            case ":authority": authority = value
            case "host": hosts.append(value)
            case "if-none-match", "if-modified-since", "range", "if-range", "accept-encoding", "x-forwarded-for",
                "x-forwarded-proto",
                // What a protected site's sign-in reads; HTTP/2 may split `cookie` (RFC 9113 §8.2.3).
                "cookie", "authorization", "content-type":
                fields.add(name: name, value: value)
            default: break
            }
        }
        let refusedMethod = method ?? .GET
        func refuse(_ kind: SlipwayPages.Kind) -> Result<IncomingRequest, Refusal> {
            .failure(Refusal(kind: kind, method: refusedMethod))
        }
        guard let method else { return refuse(.badRequest) }
        if count > limits.maxHeaderCount { return refuse(.headersTooLarge) }
        // The authority: `:authority`, or one `Host` field; both must agree.
        if hosts.count > 1 { return refuse(.badRequest) }
        if let authority, let host = hosts.first, host != authority { return refuse(.badRequest) }
        guard let host = authority ?? hosts.first, !host.isEmpty else { return refuse(.badRequest) }
        // The target: origin form only (`CONNECT` has none and is refused by the pipeline's method check).
        let target: String
        if method == .CONNECT {
            target = "/"
        } else {
            guard let path, path.utf8.first == UInt8(ascii: "/") else { return refuse(.badRequest) }
            if path.utf8.count > limits.maxRequestLineBytes { return refuse(.uriTooLong) }
            target = path
        }
        return .success(
            IncomingRequest(
                method: method, target: target, host: host, headers: fields, version: HTTP2StreamHandler.version,
                isKeepAlive: true))
    }
}

/// An HTTP/2 response head: `:status`, the reply's fields (checked as
/// HTTP/1.1 checks them, names in lower case, without the fields HTTP/2
/// forbids), `content-length` of a file body, `x-cache`, `date`, and
/// `strict-transport-security` when configured.
enum HTTP2ResponseHead {
    /// - Returns: the head, and how many fields were left out as not valid HTTP.
    static func make(
        status: HTTPResponseStatus, headers: HTTPHeaders, contentLength: Int?, cacheHit: Bool, date: String,
        strictTransportSecurity: String? = nil
    ) -> (HPACKHeaders, dropped: Int) {
        var head = HPACKHeaders()
        head.reserveCapacity(headers.count + 4)
        head.add(name: ":status", value: String(status.code))
        var dropped = 0
        for (name, value) in headers {
            guard ResponseHeadWriter.isToken(name), ResponseHeadWriter.isFieldValue(value) else {
                dropped += 1
                continue
            }
            let lower = name.lowercased()
            if isConnectionSpecific(lower) || (strictTransportSecurity != nil && lower == "strict-transport-security") {
                continue
            }
            head.add(name: lower, value: value)
        }
        if let contentLength { head.add(name: "content-length", value: String(contentLength)) }
        head.add(name: "x-cache", value: cacheHit ? "HIT" : "MISS")
        head.add(name: "date", value: date)
        if let strictTransportSecurity { head.add(name: "strict-transport-security", value: strictTransportSecurity) }
        return (head, dropped)
    }

    /// Fields that only mean something on one HTTP/1.1 connection and that
    /// an HTTP/2 message must not carry (RFC 9113 §8.2.2).
    static func isConnectionSpecific(_ lowercasedName: String) -> Bool {
        switch lowercasedName {
        case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade": true
        default: false
        }
    }
}
