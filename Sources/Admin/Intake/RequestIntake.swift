import Foundation
import HTTPTypes

/// The checks every admin request passes before it is routed: exactly one
/// well-formed `Host`, and a body framed by `Content-Length` or by
/// `chunked` alone. Hummingbird's HTTP/1 server (through NIO's parser)
/// accepts a request without `Host`, and hands on the head of a request
/// whose `Transfer-Encoding` it cannot decode before failing on its body.
enum RequestIntake {
    /// Why `request` is refused before routing; nil when it may be routed.
    /// Framing comes first: a request whose body cannot be delimited must
    /// end the connection whatever else is wrong with it.
    static func problem(with request: HTTPRequest) -> AdminError? {
        framingProblem(with: request) ?? hostProblem(with: request)
    }

    /// RFC 9112 section 6.3: a request whose `Transfer-Encoding` does not end
    /// in `chunked` has no reliable length, and the server "MUST respond
    /// with the 400 (Bad Request) status code and then close the
    /// connection". The admin API decodes no other coding (section 6.1 lets
    /// it refuse them), so anything but `chunked` alone is refused the same
    /// way, and so is `Transfer-Encoding` beside `Content-Length` (section
    /// 6.1: such a request "ought to be handled as an error").
    static func framingProblem(with request: HTTPRequest) -> AdminError? {
        let fields = request.headerFields[values: .transferEncoding]
        guard !fields.isEmpty else { return nil }
        let codings = fields.flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: [" ", "\t"]).lowercased() }
            .filter { !$0.isEmpty }
        let shown = fields.joined(separator: ", ").prefix(100)
        guard codings == ["chunked"] else {
            return .badFraming(
                "the request's Transfer-Encoding '\(shown)' is not supported: send a body with Content-Length, or with Transfer-Encoding: chunked alone"
            )
        }
        if request.headerFields[.contentLength] != nil {
            return .badFraming(
                "the request has both Transfer-Encoding and Content-Length; send only one of them")
        }
        return nil
    }

    /// RFC 9112 section 3.2: a server "MUST respond with a 400 (Bad Request)
    /// status code to any HTTP/1.1 request message that lacks a Host header
    /// field and to any request message that contains more than one Host
    /// header field line or a Host header field with an invalid field
    /// value". HTTP/1.0 requests are held to the same rule: the converted
    /// request does not say which version it was, and every client of the
    /// API sends `Host`.
    static func hostProblem(with request: HTTPRequest) -> AdminError? {
        // The conversion from NIO's head takes the first Host field as the
        // authority and leaves any other among the fields.
        guard let host = request.authority else {
            return .badHost("the request has no Host header; send exactly one, such as Host: 127.0.0.1:8081")
        }
        let extra = request.headerFields[values: .host].count
        guard extra == 0 else {
            return .badHost("the request has \(extra + 1) Host headers; send exactly one")
        }
        guard !host.isEmpty else {
            return .badHost("the request's Host header is empty; send the admin API's host, such as 127.0.0.1:8081")
        }
        guard host.utf8.allSatisfy(isHostByte) else {
            return .badHost(
                "the request's Host header is not a host name with an optional port; send one such as 127.0.0.1:8081"
            )
        }
        return nil
    }

    /// The bytes of `uri-host [ ":" port ]` (RFC 3986 section 3.2.2): a
    /// registered name's unreserved characters, percent-encodings and
    /// sub-delimiters, and the brackets and colons of an IP literal.
    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("-._~%!$&'()*+,;=:[]".utf8).contains(byte)
        }
    }
}

extension HTTPField.Name {
    static let host = HTTPField.Name("Host")!
}

extension AdminError {
    /// 400 `bad_framing`: the request's body cannot be delimited; the
    /// connection is closed after the answer.
    static func badFraming(_ message: String) -> AdminError {
        AdminError(status: .badRequest, code: "bad_framing", message: message + "; the connection is closed")
    }

    /// 400 `bad_host`: no, several or a malformed `Host` header.
    static func badHost(_ message: String) -> AdminError {
        AdminError(status: .badRequest, code: "bad_host", message: message)
    }

    /// 400 `bad_request`: not an HTTP/1.1 request the server can parse.
    static func badHTTP(_ detail: String) -> AdminError {
        AdminError(
            status: .badRequest, code: "bad_request",
            message: "the request is not valid HTTP/1.1 (\(detail)); the connection is closed")
    }
}
