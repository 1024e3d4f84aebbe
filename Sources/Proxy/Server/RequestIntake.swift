import Model
import NIOCore
import NIOHTTP1

/// A request as the serving pipeline sees it once it has been received whole.
struct IncomingRequest: Sendable {
    var method: HTTPMethod
    /// The origin-form target (`/path?query`), still percent-encoded.
    var target: String
    /// The `Host` header value, as sent.
    var host: String
    var headers: HTTPHeaders
    var version: HTTPVersion
    var isKeepAlive: Bool
    /// The key its answer is kept under once prepared (``PreparedAnswers``),
    /// when a prepared answer may answer such a request.
    var answerKey: PreparedAnswerKey? = nil
    /// The client's address for this request (`203.0.113.7`, `-` when
    /// unknown): the connection's (the peer's, or a trusted balancer's PROXY
    /// header's), or from `X-Forwarded-For` when the connection comes from a
    /// trusted proxy (``EdgeClients``). What the access log, the rate limit
    /// and anything else per client use.
    var clientAddress = "-"
    /// Whether the client reached Slipway over HTTPS, as the client sees it:
    /// the connection is TLS, or a trusted proxy said `X-Forwarded-Proto:
    /// https`. Decides the HTTPS redirect, `Strict-Transport-Security` and
    /// `Secure` cookies.
    var isSecure = false
    /// The body of the one request whose body the edge reads: the sign-in
    /// form of a protected site (``ReservedPaths/signIn``), at most
    /// ``RequestIntake/Limits/maxFormBodyBytes``. Nil for every other request.
    var body: ByteBuffer? = nil
}

/// Receiving one request, as a value-type state machine: a head the
/// parser accepted (``HTTP1RequestParser`` already applied the framing,
/// size and Host checks of `docs/hardening.md`), then its body counted
/// against the limit. The request handler acts on what it returns.
struct RequestIntake {
    struct Limits: Sendable, Hashable {
        var maxRequestLineBytes: Int
        var maxHeaderBytes: Int
        var maxHeaderCount: Int
        var maxRequestBodyBytes: Int
        /// The sign-in form's body (`POST /.slipway/auth`), the one body the
        /// edge reads; every other request keeps `maxRequestBodyBytes`.
        var maxFormBodyBytes = ReservedPaths.maxFormBytes

        /// The parser's limits for these: the larger body limit, since the
        /// head decides which applies (``bodyLimit(method:target:)``).
        var parser: HTTP1RequestParser.Limits {
            HTTP1RequestParser.Limits(
                maxRequestLineBytes: maxRequestLineBytes, maxHeaderBytes: maxHeaderBytes,
                maxHeaderCount: maxHeaderCount, maxBodyBytes: max(maxRequestBodyBytes, maxFormBodyBytes))
        }

        /// The body limit of a request, and whether its body is kept: only
        /// the sign-in form's is.
        func bodyLimit(method: HTTPMethod, target: String) -> (limit: Int, keeps: Bool) {
            if method == .POST && ReservedPaths.rawPath(target) == ReservedPaths.signIn {
                return (max(maxRequestBodyBytes, maxFormBodyBytes), true)
            }
            return (maxRequestBodyBytes, false)
        }
    }

    enum Action: Sendable {
        /// Wait for more parts.
        case none
        /// Answer now with this page and close the connection afterwards;
        /// ignore the rest of the request.
        case reject(SlipwayPages.Kind)
        /// The request is complete: serve it.
        case serve(IncomingRequest)
        /// Serve this request now, before its body, and close the connection
        /// after the answer; ignore the rest of the request. For a request
        /// that waits for `100 Continue` before sending a body the edge does
        /// not take (RFC 9110 §10.1.1: a final status instead of 100).
        case serveAndClose(IncomingRequest)
    }

    private enum State {
        case idle
        case receiving(IncomingRequest, bodyBytes: Int, limit: Int, keeps: Bool)
        /// Answered early; the rest of the request is ignored.
        case rejected
    }

    let limits: Limits
    private var state = State.idle

    init(limits: Limits) {
        self.limits = limits
    }

    mutating func headReceived(_ head: HTTP1RequestHead) -> Action {
        let request = Self.request(head)
        let (limit, keeps) = limits.bodyLimit(method: request.method, target: request.target)
        // The parser allows the larger of the two body limits; this
        // request's own applies from here (a declared length over it is a
        // 413 before any of the body is read, as the parser does).
        if let length = head.contentLength, length > limit {
            state = .rejected
            return .reject(.payloadTooLarge)
        }
        // A client that sent `Expect` waits for `100 Continue` before its
        // body; the edge takes no bodies, so it gets its final answer now.
        // The sign-in form is the exception: a client that waits for 100
        // sends its small body after a moment anyway.
        if head.expectation != .none && head.hasBody && !(keeps && head.expectation == .continue) {
            state = .rejected
            return .serveAndClose(request)
        }
        state = .receiving(request, bodyBytes: 0, limit: limit, keeps: keeps)
        return .none
    }

    mutating func bodyReceived(bytes: Int) -> Action {
        guard case .receiving(let request, let received, let limit, let keeps) = state else { return .none }
        let total = received + bytes
        if total > limit {
            state = .rejected
            return .reject(.payloadTooLarge)
        }
        state = .receiving(request, bodyBytes: total, limit: limit, keeps: keeps)
        return .none
    }

    /// Body bytes received: counted against the request's limit, and kept
    /// when the request is the sign-in form.
    mutating func bodyReceived(_ bytes: ByteBuffer) -> Action {
        guard case .receiving(var request, let received, let limit, true) = state else {
            return bodyReceived(bytes: bytes.readableBytes)
        }
        let total = received + bytes.readableBytes
        if total > limit {
            state = .rejected
            return .reject(.payloadTooLarge)
        }
        var body = request.body ?? ByteBuffer()
        var copy = bytes
        body.writeBuffer(&copy)
        request.body = body
        state = .receiving(request, bodyBytes: total, limit: limit, keeps: true)
        return .none
    }

    mutating func endReceived() -> Action {
        defer { state = .idle }
        guard case .receiving(let request, _, _, _) = state else { return .none }
        return .serve(request)
    }

    /// The request the serving pipeline sees for a parsed head: its
    /// origin-form target and Host as text, and the fields the pipeline
    /// reads (validators, ranges, codings); the head's other fields do not
    /// change an answer.
    static func request(_ head: HTTP1RequestHead) -> IncomingRequest {
        var headers = HTTPHeaders()
        func copy(_ slot: HTTP1FieldSlot, _ name: String) {
            guard slot.isPresent else { return }
            if slot.count == 1 {
                headers.add(name: name, value: head.string(slot.value))
            } else {
                for value in head.values(named: name) { headers.add(name: name, value: value) }
            }
        }
        copy(head.ifNoneMatch, "if-none-match")
        copy(head.ifModifiedSince, "if-modified-since")
        copy(head.range, "range")
        copy(head.ifRange, "if-range")
        copy(head.acceptEncoding, "accept-encoding")
        // What a protected site's sign-in reads (absent from most requests).
        copy(head.cookie, "cookie")
        copy(head.authorization, "authorization")
        copy(head.contentType, "content-type")
        return IncomingRequest(
            method: head.httpMethod, target: head.originTarget, host: head.hostString, headers: headers,
            version: head.version == .http10 ? .http1_0 : .http1_1, isKeepAlive: head.isKeepAlive,
            answerKey: PreparedAnswerKey(head))
    }
}

extension HTTP1RequestHead {
    /// The method as the serving pipeline names it.
    var httpMethod: HTTPMethod {
        switch method {
        case .get: .GET
        case .head: .HEAD
        case .post: .POST
        case .options: .OPTIONS
        case .put: .PUT
        case .delete: .DELETE
        case .patch: .PATCH
        case .connect: .CONNECT
        case .trace: .TRACE
        case .other: .RAW(value: methodString)
        }
    }
}

extension SlipwayPages.Kind {
    /// The page that answers a request the parser refused.
    init(_ error: HTTP1ParseError) {
        switch error {
        case .badRequest: self = .badRequest
        case .uriTooLong: self = .uriTooLong
        case .headersTooLarge: self = .headersTooLarge
        case .payloadTooLarge: self = .payloadTooLarge
        }
    }
}

extension String {
    /// Whether the text equals `lowercase` (lower-case ASCII), ignoring ASCII
    /// case: a field-name comparison that allocates nothing.
    func equalsIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        guard utf8.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            zip(utf8, expected).allSatisfy { byte, lower in
                byte == lower || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") && byte + 32 == lower)
            }
        }
    }
}
