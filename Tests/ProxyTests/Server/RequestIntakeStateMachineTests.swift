import NIOCore
import NIOHTTP1
import SlipwayTestSupport
import Testing

@testable import Proxy

/// What the intake adds to a head the parser accepted: the request the
/// serving pipeline sees, the early answer to `Expect`, and the body limit.
/// The head's own checks (framing, sizes, Host, target form) are the
/// parser's: `Tests/ProxyTests/HTTP1/`.
@Suite struct RequestIntakeStateMachineTests {
    let limits = RequestIntake.Limits(
        maxRequestLineBytes: 8192, maxHeaderBytes: 16384, maxHeaderCount: 100, maxRequestBodyBytes: 1024)

    /// The head the parser makes of `lines` (CRLF added) and an empty line.
    func head(_ lines: String...) throws -> HTTP1RequestHead {
        var parser = HTTP1RequestParser(limits: limits.parser)
        parser.feed(ByteBuffer(string: lines.joined(separator: "\r\n") + "\r\n\r\n"))
        let event = parser.next()
        guard case .head(let head) = event else { throw TestFailure("no head: \(event)") }
        return head
    }

    @Test func aPlainRequestIsServedAtItsEnd() throws {
        var intake = RequestIntake(limits: limits)
        guard case .none = intake.headReceived(try head("GET /a?b=1 HTTP/1.1", "Host: docs.apps.test")) else {
            Issue.record("head")
            return
        }
        guard case .serve(let request) = intake.endReceived() else {
            Issue.record("end")
            return
        }
        #expect(request.target == "/a?b=1" && request.host == "docs.apps.test" && request.isKeepAlive)
        #expect(request.method == .GET && request.version == .http1_1)
    }

    @Test func theRequestCarriesTheFieldsThePipelineReadsRepeatedOnesIncluded() throws {
        let request = RequestIntake.request(
            try head(
                "GET / HTTP/1.1", "Host: docs.apps.test", "If-None-Match: \"a\"", "Accept-Encoding: gzip",
                "If-None-Match: \"b\", W/\"c\"", "Range: bytes=0-9", "If-Range: \"a\"",
                "If-Modified-Since: Tue, 01 Dec 2026 10:00:00 GMT", "User-Agent: not kept", "Cookie: a=b",
                "Authorization: Basic dTpw", "Connection: close"))
        #expect(request.headers["if-none-match"] == ["\"a\"", "\"b\", W/\"c\""])
        #expect(request.headers["accept-encoding"] == ["gzip"])
        #expect(request.headers["range"] == ["bytes=0-9"] && request.headers["if-range"] == ["\"a\""])
        #expect(request.headers["if-modified-since"] == ["Tue, 01 Dec 2026 10:00:00 GMT"])
        #expect(request.headers["user-agent"].isEmpty)
        // What a protected site's sign-in reads.
        #expect(request.headers["cookie"] == ["a=b"] && request.headers["authorization"] == ["Basic dTpw"])
        #expect(!request.isKeepAlive)
    }

    @Test func anAbsoluteFormTargetBecomesItsOriginForm() throws {
        let request = RequestIntake.request(
            try head("GET http://DOCS.apps.test:8080/a?q HTTP/1.1", "Host: docs.apps.test"))
        #expect(request.target == "/a?q")
        let bare = RequestIntake.request(try head("GET http://docs.apps.test?x=1 HTTP/1.1", "Host: docs.apps.test"))
        #expect(bare.target == "/?x=1")
    }

    @Test func http10ClosesUnlessItAsksForKeepAlive() throws {
        #expect(!RequestIntake.request(try head("GET / HTTP/1.0", "Host: a.apps.test")).isKeepAlive)
        let kept = RequestIntake.request(try head("GET / HTTP/1.0", "Host: a.apps.test", "Connection: keep-alive"))
        #expect(kept.isKeepAlive && kept.version == .http1_0)
    }

    @Test func aClientWaitingForContinueIsAnsweredAtOnceAndTheConnectionCloses() throws {
        var intake = RequestIntake(limits: limits)
        let action = intake.headReceived(
            try head("POST /form HTTP/1.1", "Host: docs.apps.test", "Content-Length: 10", "Expect: 100-continue"))
        guard case .serveAndClose(let request) = action else {
            Issue.record("expected an answer before the body: \(action)")
            return
        }
        #expect(request.method == .POST)
        // The body that may follow is ignored.
        guard case .none = intake.bodyReceived(bytes: 10), case .none = intake.endReceived() else {
            Issue.record("the rest of the request is ignored")
            return
        }
        // Without a body there is nothing to wait for.
        var plain = RequestIntake(limits: limits)
        guard case .none = plain.headReceived(try head("GET / HTTP/1.1", "Host: a.apps.test", "Expect: 100-continue"))
        else {
            Issue.record("no body: served at its end")
            return
        }
    }

    @Test func aChunkedBodyIsCountedAndRefusedPastTheLimit() throws {
        var intake = RequestIntake(limits: limits)
        _ = intake.headReceived(try head("POST / HTTP/1.1", "Host: docs.apps.test", "Transfer-Encoding: chunked"))
        guard case .none = intake.bodyReceived(bytes: 1000) else {
            Issue.record("first chunk")
            return
        }
        guard case .reject(.payloadTooLarge) = intake.bodyReceived(bytes: 25) else {
            Issue.record("second chunk")
            return
        }
        // The rest of a refused request is ignored.
        guard case .none = intake.bodyReceived(bytes: 10), case .none = intake.endReceived() else {
            Issue.record("after refusal")
            return
        }
    }

    @Test func otherMethodsPassTheIntakeSoTheyGet405WithAllow() throws {
        var intake = RequestIntake(limits: limits)
        _ = intake.headReceived(try head("DELETE / HTTP/1.1", "Host: docs.apps.test"))
        guard case .serve(let request) = intake.endReceived() else {
            Issue.record("end")
            return
        }
        #expect(request.method == .DELETE)
        let unknown = RequestIntake.request(try head("PURGE / HTTP/1.1", "Host: docs.apps.test"))
        #expect(unknown.method == .RAW(value: "PURGE"))
    }

    @Test func theSignInFormIsTheOneBodyKeptUpTo4KiB() throws {
        var intake = RequestIntake(limits: limits)
        let form = "password=open+sesame&return=%2F"
        _ = intake.headReceived(
            try head(
                "POST /.slipway/auth HTTP/1.1", "Host: docs.apps.test", "Content-Length: \(form.utf8.count)",
                "Content-Type: application/x-www-form-urlencoded"))
        _ = intake.bodyReceived(ByteBuffer(string: String(form.prefix(10))))
        _ = intake.bodyReceived(ByteBuffer(string: String(form.dropFirst(10))))
        guard case .serve(let request) = intake.endReceived() else {
            Issue.record("end")
            return
        }
        #expect(request.body.map { String(buffer: $0) } == form)
        #expect(request.headers["content-type"] == ["application/x-www-form-urlencoded"])

        // Another path keeps its 1 KiB limit and its body is not kept.
        var other = RequestIntake(limits: limits)
        _ = other.headReceived(try head("POST /.slipway/authx HTTP/1.1", "Host: a.apps.test", "Content-Length: 5"))
        _ = other.bodyReceived(ByteBuffer(string: "hello"))
        guard case .serve(let plain) = other.endReceived() else {
            Issue.record("end")
            return
        }
        #expect(plain.body == nil)
        var large = RequestIntake(limits: limits)
        guard
            case .reject(.payloadTooLarge) = large.headReceived(
                try head("POST / HTTP/1.1", "Host: a.apps.test", "Content-Length: 2000"))
        else {
            Issue.record("a declared body over 1 KiB elsewhere is 413")
            return
        }
        // The form itself: 4 KiB at most, declared (the parser's own limit) or received.
        #expect(limits.parser.maxBodyBytes == 4096)
        var chunked = RequestIntake(limits: limits)
        _ = chunked.headReceived(
            try head("POST /.slipway/auth HTTP/1.1", "Host: a.apps.test", "Transfer-Encoding: chunked"))
        guard case .none = chunked.bodyReceived(ByteBuffer(repeating: 0x61, count: 4000)),
            case .reject(.payloadTooLarge) = chunked.bodyReceived(ByteBuffer(repeating: 0x61, count: 100))
        else {
            Issue.record("a chunked form growing past 4 KiB is 413")
            return
        }
    }
}
