// The edge before Slipway's own HTTP/1.1 parser, kept as the differential
// tests' reference: `RequestIntake`, whose head checks ran on what NIO's
// `HTTPRequestDecoder` parsed. Today's intake is in
// Sources/Proxy/Server/RequestIntake.swift.

import NIOHTTP1

@testable import Proxy

extension ReferenceEdge {
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
    }

    /// Receiving one request, as a value-type state machine: the framing and
    /// size checks of `docs/hardening.md` applied to a parsed head, then the body
    /// counted against its limit. The request handler acts on what it returns.
    ///
    /// The HTTP parser has already refused what it cannot frame (bare CR,
    /// obs-fold, NUL, invalid `Content-Length`); the checks here are the ones it
    /// leaves to the server, and a defence in depth for the others.
    struct RequestIntake {
        struct Limits: Sendable, Hashable {
            var maxRequestLineBytes: Int
            var maxHeaderBytes: Int
            var maxHeaderCount: Int
            var maxRequestBodyBytes: Int
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
            case receiving(IncomingRequest, bodyBytes: Int)
            /// Answered early; the rest of the request is ignored.
            case rejected
        }

        let limits: Limits
        private var state = State.idle

        init(limits: Limits) {
            self.limits = limits
        }

        mutating func headReceived(_ head: HTTPRequestHead) -> Action {
            switch Self.check(head, limits: limits) {
            case .accepted(let request):
                state = .receiving(request, bodyBytes: 0)
                return .none
            case .acceptedBeforeBody(let request):
                state = .rejected
                return .serveAndClose(request)
            case .rejected(let kind):
                state = .rejected
                return .reject(kind)
            }
        }

        mutating func bodyReceived(bytes: Int) -> Action {
            guard case .receiving(let request, let received) = state else { return .none }
            let total = received + bytes
            if total > limits.maxRequestBodyBytes {
                state = .rejected
                return .reject(.payloadTooLarge)
            }
            state = .receiving(request, bodyBytes: total)
            return .none
        }

        mutating func endReceived() -> Action {
            defer { state = .idle }
            guard case .receiving(let request, _) = state else { return .none }
            return .serve(request)
        }

        enum Checked: Sendable {
            case accepted(IncomingRequest)
            /// To be answered at once: the client waits for `100 Continue`.
            case acceptedBeforeBody(IncomingRequest)
            case rejected(SlipwayPages.Kind)
        }

        /// The head's checks, in order: sizes (414, 431), framing (400), Host
        /// (400), target form (400), declared body size (413).
        static func check(_ head: HTTPRequestHead, limits: Limits) -> Checked {
            // "GET /x HTTP/1.1": method, spaces and version around the target.
            let requestLine = head.method.rawValue.utf8.count + head.uri.utf8.count + 10
            if requestLine > limits.maxRequestLineBytes { return .rejected(.uriTooLong) }
            if head.headers.count > limits.maxHeaderCount { return .rejected(.headersTooLarge) }
            // One pass over the fields: their size, and the framing and Host fields.
            var headerBytes = 0
            var contentLengths = 0
            var contentLength: String?
            var transferEncodings = 0
            var transferEncoding: String?
            var hosts = 0
            var hostValue: String?
            var expects = false
            for (name, value) in head.headers {
                headerBytes += name.utf8.count + value.utf8.count + 4
                if name.equalsIgnoringASCIICase("host") {
                    hosts += 1
                    hostValue = value
                } else if name.equalsIgnoringASCIICase("content-length") {
                    contentLengths += 1
                    contentLength = value
                } else if name.equalsIgnoringASCIICase("transfer-encoding") {
                    transferEncodings += 1
                    transferEncoding = value
                } else if name.equalsIgnoringASCIICase("expect") {
                    expects = true
                }
            }
            if headerBytes > limits.maxHeaderBytes { return .rejected(.headersTooLarge) }

            // Framing: exactly one way to know where the body ends. HTTP/1.0 has
            // no chunked coding: a Transfer-Encoding there is faulty framing
            // (RFC 9112 §6.1), and the connection is closed after the 400.
            if contentLengths > 1 || (contentLengths > 0 && transferEncodings > 0) {
                return .rejected(.badRequest)
            }
            if transferEncodings > 0 && head.version.major == 1 && head.version.minor == 0 {
                return .rejected(.badRequest)
            }
            if transferEncodings > 1
                || (transferEncodings == 1 && transferEncoding?.trimmingSpaces().lowercased() != "chunked")
            {
                return .rejected(.badRequest)
            }
            var declaredLength = 0
            if let text = contentLength {
                guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                    let length = Int(text)
                else { return .rejected(.badRequest) }
                declaredLength = length
            }

            // Host: exactly one, not empty (HTTP/1.0 requests must send one too:
            // without it there is no site to answer for).
            guard hosts == 1, let host = hostValue, !host.isEmpty else { return .rejected(.badRequest) }

            let target: String
            do {
                target = try RequestTarget.originForm(head.uri, host: host)
            } catch {
                return .rejected(.badRequest)
            }

            if declaredLength > limits.maxRequestBodyBytes { return .rejected(.payloadTooLarge) }

            let request = IncomingRequest(
                method: head.method, target: target, host: host, headers: head.headers, version: head.version,
                isKeepAlive: head.isKeepAlive)
            // A client that sent `Expect` waits for `100 Continue` before its
            // body; the edge takes no bodies, so it gets its final answer now.
            if expects && (declaredLength > 0 || transferEncodings > 0) { return .acceptedBeforeBody(request) }
            return .accepted(request)
        }
    }
}
