import NIOHTTP1
import Testing

@testable import Proxy

@Suite struct RequestIntakeStateMachineTests {
    let limits = RequestIntake.Limits(
        maxRequestLineBytes: 8192, maxHeaderBytes: 16384, maxHeaderCount: 100, maxRequestBodyBytes: 1024)

    func head(
        _ uri: String = "/", method: HTTPMethod = .GET, headers: [(String, String)] = [("Host", "docs.apps.test")]
    ) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    func rejection(_ head: HTTPRequestHead) -> SlipwayPages.Kind? {
        if case .rejected(let kind) = RequestIntake.check(head, limits: limits) { return kind }
        return nil
    }

    @Test func aPlainRequestIsServedAtItsEnd() {
        var intake = RequestIntake(limits: limits)
        guard case .none = intake.headReceived(head("/a?b=1")) else {
            Issue.record("head")
            return
        }
        guard case .serve(let request) = intake.endReceived() else {
            Issue.record("end")
            return
        }
        #expect(request.target == "/a?b=1" && request.host == "docs.apps.test" && request.isKeepAlive)
    }

    @Test func anOverlongRequestLineIs414() {
        #expect(rejection(head("/" + String(repeating: "a", count: 8200))) == .uriTooLong)
        #expect(rejection(head("/" + String(repeating: "a", count: 8000))) == nil)
    }

    @Test func tooManyOrTooLargeHeadersAre431() {
        var many = [("Host", "docs.apps.test")]
        for index in 0..<100 { many.append(("X-H\(index)", "v")) }
        #expect(rejection(head(headers: many)) == .headersTooLarge)
        #expect(
            rejection(head(headers: [("Host", "docs.apps.test"), ("Cookie", String(repeating: "c", count: 17000))]))
                == .headersTooLarge)
        #expect(rejection(head(headers: Array(many.prefix(100)))) == nil)
    }

    @Test func ambiguousFramingIs400() {
        let host = ("Host", "docs.apps.test")
        #expect(
            rejection(head(headers: [host, ("Content-Length", "3"), ("Transfer-Encoding", "chunked")])) == .badRequest)
        #expect(rejection(head(headers: [host, ("Content-Length", "3"), ("Content-Length", "4")])) == .badRequest)
        #expect(rejection(head(headers: [host, ("Content-Length", "3"), ("Content-Length", "3")])) == .badRequest)
        #expect(rejection(head(headers: [host, ("Transfer-Encoding", "xchunked")])) == .badRequest)
        #expect(rejection(head(headers: [host, ("Transfer-Encoding", "chunked, identity")])) == .badRequest)
        #expect(
            rejection(head(headers: [host, ("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")]))
                == .badRequest)
        #expect(rejection(head(headers: [host, ("Content-Length", "-1")])) == .badRequest)
        #expect(rejection(head(headers: [host, ("Transfer-Encoding", "chunked")])) == nil)
    }

    @Test func aMissingEmptyOrRepeatedHostIs400() {
        #expect(rejection(head(headers: [])) == .badRequest)
        #expect(rejection(head(headers: [("Host", "")])) == .badRequest)
        #expect(rejection(head(headers: [("Host", "a.apps.test"), ("Host", "b.apps.test")])) == .badRequest)
    }

    @Test func absoluteFormTargetsMustNameTheHostHeadersHost() throws {
        #expect(rejection(head("http://evil.example/x", headers: [("Host", "docs.apps.test")])) == .badRequest)
        #expect(rejection(head("http://user@docs.apps.test/x", headers: [("Host", "docs.apps.test")])) == .badRequest)
        #expect(rejection(head("*", method: .OPTIONS)) == .badRequest)
        #expect(rejection(head("docs.apps.test:80", method: .CONNECT)) == .badRequest)
        guard
            case .accepted(let request) = RequestIntake.check(
                head("http://DOCS.apps.test:8080/a?q", headers: [("Host", "docs.apps.test")]), limits: limits)
        else {
            Issue.record("absolute form with the same host")
            return
        }
        #expect(request.target == "/a?q")
        #expect(try RequestTarget.originForm("https://docs.apps.test", host: "docs.apps.test") == "/")
        #expect(try RequestTarget.originForm("http://docs.apps.test?x=1", host: "docs.apps.test") == "/?x=1")
    }

    @Test func aDeclaredBodyOverTheLimitIsRefusedAtOnce() {
        #expect(rejection(head(headers: [("Host", "docs.apps.test"), ("Content-Length", "1025")])) == .payloadTooLarge)
        #expect(rejection(head(headers: [("Host", "docs.apps.test"), ("Content-Length", "1024")])) == nil)
    }

    @Test func aChunkedBodyIsCountedAndRefusedPastTheLimit() {
        var intake = RequestIntake(limits: limits)
        _ = intake.headReceived(
            head(method: .POST, headers: [("Host", "docs.apps.test"), ("Transfer-Encoding", "chunked")]))
        guard case .none = intake.bodyReceived(bytes: 1000) else {
            Issue.record("first chunk")
            return
        }
        guard case .reject(.payloadTooLarge) = intake.bodyReceived(bytes: 25) else {
            Issue.record("second chunk")
            return
        }
        // The rest of a refused request is ignored.
        guard case .none = intake.bodyReceived(bytes: 10) else {
            Issue.record("after refusal")
            return
        }
        guard case .none = intake.endReceived() else {
            Issue.record("end after refusal")
            return
        }
    }

    @Test func otherMethodsPassTheIntakeSoTheyGet405WithAllow() {
        var intake = RequestIntake(limits: limits)
        _ = intake.headReceived(head(method: .DELETE))
        guard case .serve(let request) = intake.endReceived() else {
            Issue.record("end")
            return
        }
        #expect(request.method == .DELETE)
    }
}
