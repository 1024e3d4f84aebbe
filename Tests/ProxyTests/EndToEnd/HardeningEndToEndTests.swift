import Foundation
import MetricsTestKit
import SlipwayTestSupport
import Storage
import Testing

@testable import Proxy

extension EndToEnd {
    /// `docs/hardening.md`, Proxy sections, over raw TCP and over TLS (ALPN
    /// `http/1.1`): what no well-behaved HTTP client would send. HTTP/2's
    /// own hardening is `HTTP2EndToEndTests`.
    @Suite struct HardeningEndToEndTests {
        static let host = "manual.apps.test"

        /// Sends `request`, reads until the server closes, and returns the responses.
        func exchange(_ proxy: TestProxy, _ request: String, timeout: Duration = .seconds(10)) async throws -> (
            responses: [RawResponse], closed: Bool
        ) {
            let connection = try await proxy.rawHTTP1Connection()
            defer { connection.close() }
            try await connection.send(request)
            let (bytes, closed) = try await connection.readUntilClosed(timeout: timeout)
            return (RawResponse.parseAll(bytes), closed)
        }

        func get(_ target: String, host: String = HardeningEndToEndTests.host, extra: String = "") -> String {
            "GET \(target) HTTP/1.1\r\nHost: \(host)\r\n\(extra)\r\n"
        }

        @Test(arguments: [EdgeTransport.plain, .tls])
        func ambiguousFramingAndBadHeaderBytesAre400AndCloseWithNothingSmuggled(_ transport: EdgeTransport) async throws
        {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let smuggled = "GET /about HTTP/1.1\r\nHost: \(Self.host)\r\n\r\n"
                let cases: [(String, String)] = [
                    (
                        "CL and TE",
                        "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                    ),
                    (
                        "duplicate CL",
                        "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n"
                    ),
                    ("listed CL", "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nContent-Length: 0, 5\r\n\r\n"),
                    (
                        "obfuscated TE",
                        "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"
                    ),
                    (
                        "TE list",
                        "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
                    ),
                    (
                        "space before colon",
                        "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"
                    ),
                    ("bare CR", "GET / HTTP/1.1\rHost: \(Self.host)\r\n\r\n"),
                    ("bare CR in value", "GET / HTTP/1.1\r\nHost: \(Self.host)\r\nX-A: a\rb\r\n\r\n"),
                    ("obs-fold", "GET / HTTP/1.1\r\nHost: \(Self.host)\r\nX-A: a\r\n b\r\n\r\n"),
                    ("NUL", "GET / HTTP/1.1\r\nHost: \(Self.host)\r\nX-A: a\u{0}b\r\n\r\n"),
                    ("control byte", "GET / HTTP/1.1\r\nHost: \(Self.host)\r\nX-A: a\u{1}b\r\n\r\n"),
                    ("bad version", "GET / HTTP/9.9\r\nHost: \(Self.host)\r\n\r\n"),
                    ("space in target", "GET /a b HTTP/1.1\r\nHost: \(Self.host)\r\n\r\n"),
                ]
                for (name, request) in cases {
                    let (responses, closed) = try await exchange(proxy, request + smuggled)
                    #expect(responses.count == 1, "\(name): \(responses.map(\.status))")
                    #expect(responses.first?.status == 400, "\(name)")
                    #expect(closed, "\(name)")
                }
            }
        }

        /// RFC 9112 §6.1: HTTP/1.0 has no chunked coding; a Transfer-Encoding
        /// there is faulty framing, whatever follows is never a request.
        @Test(arguments: [EdgeTransport.plain, .tls]) func http10WithTransferEncodingIs400AndCloseWithNothingSmuggled(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let smuggled = "GET /about HTTP/1.1\r\nHost: \(Self.host)\r\n\r\n"
                for coding in ["chunked", "gzip, chunked", "identity"] {
                    let request =
                        "GET /about HTTP/1.0\r\nHost: \(Self.host)\r\nConnection: keep-alive\r\n"
                        + "Transfer-Encoding: \(coding)\r\n\r\n0\r\n\r\n"
                    let (responses, closed) = try await exchange(proxy, request + smuggled)
                    #expect(responses.map(\.status) == [400], "\(coding)")
                    #expect(closed, "\(coding)")
                }
            }
        }

        /// A client that sends `Expect: 100-continue` waits for `100 Continue`
        /// before its body; the edge takes no bodies, so it answers with the
        /// final status at once (RFC 9110 §10.1.1) and closes, instead of
        /// leaving the client waiting until a timeout.
        @Test(arguments: [EdgeTransport.plain, .tls]) func expectContinueIsAnsweredWithTheFinalStatusAtOnce(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport, configure: { $0.timeouts.headerRead = .seconds(60) }) {
                proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let cases: [(String, String, Int)] = [
                    ("GET with a length", get("/about", extra: "Content-Length: 5\r\nExpect: 100-continue\r\n"), 200),
                    (
                        "POST chunked",
                        "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nTransfer-Encoding: chunked\r\n"
                            + "Expect: 100-continue\r\n\r\n", 405
                    ),
                    ("unknown expectation", get("/about", extra: "Content-Length: 3\r\nExpect: x-later\r\n"), 200),
                ]
                for (name, head, status) in cases {
                    let connection = try await proxy.rawHTTP1Connection()
                    defer { connection.close() }
                    try await connection.send(head) // the head only: the body waits for 100 Continue
                    let (bytes, closed) = try await connection.readUntilClosed(timeout: .seconds(5))
                    #expect(RawResponse.parseAll(bytes).map(\.status) == [status], "\(name)")
                    #expect(closed, "\(name)")
                }
                // Without a body there is nothing to wait for: an ordinary keep-alive answer.
                let connection = try await proxy.rawHTTP1Connection()
                defer { connection.close() }
                try await connection.send(get("/about", extra: "Expect: 100-continue\r\n") + get("/"))
                #expect(try await connection.readResponses(2).map(\.status) == [200, 200])
            }
        }

        @Test(arguments: [EdgeTransport.plain, .tls]) func aPathOfMoreSegmentsThanTheCapIs414(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let connection = try await proxy.rawHTTP1Connection()
                defer { connection.close() }
                let deep = "/" + Array(repeating: "a", count: RequestPath.maxSegments + 1).joined(separator: "/")
                let atCap = "/" + Array(repeating: "a", count: RequestPath.maxSegments).joined(separator: "/")
                try await connection.send(get(deep) + get(atCap))
                #expect(try await connection.readResponses(2).map(\.status) == [414, 404])
            }
        }

        @Test(arguments: [EdgeTransport.plain, .tls]) func overlongRequestLinesAre414AndOversizedHeadersAre431(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                for length in [8_300, 20_000, 200_000] {
                    let (responses, closed) = try await exchange(
                        proxy, get("/" + String(repeating: "a", count: length)))
                    #expect(responses.first?.status == 414, "\(length)")
                    #expect(closed)
                }
                let big = try await exchange(
                    proxy, get("/", extra: "Cookie: \(String(repeating: "c", count: 17_000))\r\n"))
                #expect(big.responses.first?.status == 431 && big.closed)
                let huge = try await exchange(
                    proxy, get("/", extra: "Cookie: \(String(repeating: "c", count: 100_000))\r\n"))
                #expect(huge.responses.first?.status == 431 && huge.closed)
                let many = (0..<101).map { "X-H\($0): v\r\n" }.joined()
                let counted = try await exchange(proxy, get("/", extra: many))
                #expect(counted.responses.first?.status == 431 && counted.closed)
                // Just under the limits is served.
                let connection = try await proxy.rawHTTP1Connection()
                try await connection.send(
                    get("/" + String(repeating: "a", count: 8_000), extra: (0..<90).map { "X-H\($0): v\r\n" }.joined()))
                #expect(try await connection.readResponses(1).first?.status == 404)
                connection.close()
            }
        }

        @Test(arguments: [EdgeTransport.plain, .tls]) func garbageAndTruncatedRequestsCloseTheConnectionWithoutHarm(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport, configure: { $0.timeouts.headerRead = .seconds(1) }) {
                proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                var generator = SystemRandomNumberGenerator()
                for _ in 0..<5 {
                    let garbage = (0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) }
                    let connection = try await proxy.rawHTTP1Connection()
                    try await connection.send(garbage + Array("\r\n\r\n".utf8))
                    let (bytes, closed) = try await connection.readUntilClosed()
                    #expect(closed)
                    #expect(RawResponse.parseAll(bytes).allSatisfy { $0.status == 400 })
                    connection.close()
                }
                // A truncated request is closed at the header timeout.
                let truncated = try await proxy.rawHTTP1Connection()
                try await truncated.send("GET / HTTP/1.1\r\nHost: \(Self.host)\r\nX-Half")
                #expect(try await truncated.readUntilClosed().closed)
                truncated.close()
                // The server is unharmed.
                #expect(try await proxy.get("/", slug: "manual").status == 200)
            }
        }

        @Test func aSlowlorisClientIsClosedAtTheHeaderTimeout() async throws {
            try await withTestProxy(configure: { $0.timeouts.headerRead = .seconds(1) }) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let connection = try await proxy.rawHTTP1Connection()
                defer { connection.close() }
                let clock = ContinuousClock()
                let started = clock.now
                try await connection.send("GET / HTTP/1.1\r\nHost: \(Self.host)\r\n")
                var closed = false
                for index in 0..<100 {
                    // One header byte every 100 ms: never a complete request.
                    do { try await connection.send("X-\(index): y\r\n".prefix(1).description) } catch {
                        closed = true
                        break
                    }
                    if case .closed = try await connection.read(timeout: .milliseconds(100)) {
                        closed = true
                        break
                    }
                }
                #expect(closed)
                #expect(clock.now - started >= .milliseconds(900))
                // A connection that never sends anything is closed too.
                let silent = try await proxy.rawHTTP1Connection()
                #expect(try await silent.readUntilClosed().closed)
                silent.close()
            }
        }

        @Test(arguments: [EdgeTransport.plain, .tls]) func anIdleKeepAliveConnectionIsClosedAtTheIdleTimeout(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport, configure: { $0.timeouts.idle = .seconds(1) }) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let connection = try await proxy.rawHTTP1Connection()
                defer { connection.close() }
                try await connection.send(get("/about"))
                #expect(try await connection.readResponses(1).first?.status == 200)
                let (bytes, closed) = try await connection.readUntilClosed()
                #expect(closed && bytes.isEmpty)
            }
        }

        @Test(arguments: [EdgeTransport.plain, .tls]) func aClientThatStopsReadingIsClosedAtTheWriteIdleTimeout(
            _ transport: EdgeTransport
        ) async throws {
            let large = patternBytes(count: 32 << 20)
            let metrics = TestMetrics()
            try await withTestProxy(
                transport: transport, metricsFactory: metrics, configure: { $0.timeouts.writeIdle = .seconds(1) }
            ) {
                proxy in
                _ = try await proxy.deploy("docs", as: "manual", extraFiles: ["big.bin": large])
                let connection = try await proxy.rawHTTP1Connection(receiveBuffer: 4096)
                defer { connection.close() }
                try await connection.send(get("/big.bin"))
                if let tls = connection as? RawTLSConnection { try await tls.stopReading() }
                try await proxy.waitUntil("the request is being answered") { proxy.server.connectionCount == 1 }
                // The client never reads: the server gives up on it.
                try await proxy.waitUntil("the stalled connection is closed", timeout: .seconds(15)) {
                    proxy.server.connectionCount == 0
                }
                #expect(
                    try metrics.expectCounter("slipway_proxy_connections_closed_total", [("reason", "write_timeout")])
                        .totalValue == 1)
            }
        }

        @Test func connectionsOverTheLimitAreClosedWhileTheOthersAreServed() async throws {
            try await withTestProxy(configure: { $0.limits.maxConnections = 3 }) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                var held: [any HTTP1TestConnection] = []
                for _ in 0..<3 {
                    let connection = try await proxy.rawHTTP1Connection()
                    try await connection.send(get("/about"))
                    #expect(try await connection.readResponses(1).first?.status == 200)
                    held.append(connection)
                }
                let excess = try await proxy.rawHTTP1Connection()
                try? await excess.send(get("/about"))
                let (bytes, closed) = try await excess.readUntilClosed()
                #expect(closed && bytes.isEmpty)
                excess.close()
                for connection in held {
                    try await connection.send(get("/"))
                    #expect(try await connection.readResponses(1).first?.status == 200)
                }
                held[0].close()
                try await proxy.waitUntil("a slot is free") { proxy.server.connectionCount == 2 }
                let next = try await proxy.rawHTTP1Connection()
                try await next.send(get("/about"))
                #expect(try await next.readResponses(1).first?.status == 200)
                next.close()
                for connection in held { connection.close() }
            }
        }

        @Test(arguments: [EdgeTransport.plain, .tls]) func requestBodiesOverTheLimitAre413AndSmallOnesGet405(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                // Refused from the declared length, before the body is sent.
                let declared = try await exchange(
                    proxy, "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nContent-Length: 100000\r\n\r\n")
                #expect(declared.responses.first?.status == 413 && declared.closed)
                let chunk = String(repeating: "x", count: 600)
                let chunked = try await exchange(
                    proxy,
                    "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n"
                )
                #expect(chunked.responses.first?.status == 413 && chunked.closed)
                // A GET with a small body is served; a small POST is 405 and the connection stays usable.
                let connection = try await proxy.rawHTTP1Connection()
                defer { connection.close() }
                try await connection.send(
                    "POST / HTTP/1.1\r\nHost: \(Self.host)\r\nContent-Length: 5\r\n\r\nhello" + get("/about"))
                let responses = try await connection.readResponses(2)
                #expect(responses.map(\.status) == [405, 200])
                #expect(responses.first?.header("Allow") == "GET, HEAD")
            }
        }

        @Test(arguments: [EdgeTransport.plain, .tls]) func hostHeadersThatAreMissingRepeatedOrMalformedAre400(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let requests = [
                    "GET / HTTP/1.1\r\n\r\n",
                    "GET / HTTP/1.0\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost:\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: \(Self.host)\r\nHost: \(Self.host)\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: manual/x.apps.test\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: manual\\x.apps.test\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: manüal.apps.test\r\n\r\n",
                    "GET http://evil.example/ HTTP/1.1\r\nHost: \(Self.host)\r\n\r\n",
                ]
                for request in requests {
                    let connection = try await proxy.rawHTTP1Connection()
                    try await connection.send(request)
                    #expect(try await connection.readResponses(1).first?.status == 400, "\(request.debugDescription)")
                    connection.close()
                }
                let sameHost = try await exchange(
                    proxy, "GET http://\(Self.host)/about HTTP/1.1\r\nHost: \(Self.host)\r\nConnection: close\r\n\r\n")
                #expect(sameHost.responses.first?.status == 200)
            }
        }

        @Test(arguments: [EdgeTransport.plain, .tls]) func pathTricksAre400AndRedirectsStayOnTheHost(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let connection = try await proxy.rawHTTP1Connection()
                defer { connection.close() }
                for target in [
                    "/%2e%2e/secret", "/a/..", "/docs/%2f..%2fabout", "/a%2fb", "/a%5cb", "/a\\b", "/%c0%ae%c0%ae/x",
                    "/a%00", "/a%zz", "/%ff",
                ] {
                    try await connection.send(get(target))
                    let response = try await connection.readResponses(1).first
                    #expect(response?.status == 400, "\(target)")
                    #expect(response.map { !$0.text.contains(target) } ?? true)
                }
                for (target, location) in [
                    ("/docs", "/docs/"), ("//docs", "/docs/"), ("///docs?x=//y", "/docs/?x=//y"),
                ] {
                    try await connection.send(get(target))
                    let response = try await connection.readResponses(1).first
                    #expect(response?.status == 301, "\(target)")
                    #expect(response?.header("Location") == location, "\(target)")
                }
            }
        }

        @Test(arguments: [EdgeTransport.plain, .tls]) func pipelinedRequestsAreAnsweredInOrder(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let site = try await proxy.deploy("docs", as: "manual")
                let connection = try await proxy.rawHTTP1Connection()
                defer { connection.close() }
                let batch =
                    get("/") + "HEAD /about HTTP/1.1\r\nHost: \(Self.host)\r\n\r\n" + get("/missing")
                    + get("/style.8e1f5c3a.css", extra: "Connection: close\r\n")
                try await connection.send(batch)
                let (bytes, closed) = try await connection.readUntilClosed()
                let responses = RawResponse.parseAll(Array(bytes), headRequests: 0)
                // HEAD has no body, so parse the second response's framing by hand.
                #expect(closed)
                #expect(
                    responses.first?.status == 200 && responses.first?.body == Array(site.fixture.data("index.html")))
                let text = String(decoding: bytes, as: UTF8.self)
                let statuses = text.matches(of: #/HTTP/1\.1 (\d{3}) /#).map { String($0.output.1) }
                #expect(statuses == ["200", "200", "404", "200"])
                #expect(text.hasSuffix(String(decoding: site.fixture.data("style.8e1f5c3a.css"), as: UTF8.self)))
            }
        }

        /// The first request is a miss (answered later, off the loop); the
        /// refusal and the parser error behind it are answered in their
        /// place, and nothing after them is served.
        @Test(
            arguments: [EdgeTransport.plain, .tls],
            [
                "GET / HTTP/1.1\r\nHost: manual.apps.test\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "NOT HTTP AT ALL\r\n\r\n",
            ])
        func aBadRequestBehindPipelinedOnesIsAnsweredInOrderThenTheConnectionCloses(
            _ transport: EdgeTransport, bad: String
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let connection = try await proxy.rawHTTP1Connection()
                defer { connection.close() }
                try await connection.send(get("/") + get("/about") + bad + get("/"))
                let (bytes, closed) = try await connection.readUntilClosed()
                #expect(closed)
                let text = String(decoding: bytes, as: UTF8.self)
                let statuses = text.matches(of: #/HTTP/1\.1 (\d{3}) /#).map { String($0.output.1) }
                #expect(statuses == ["200", "200", "400"])
                #expect(text.contains("Connection: close"))
            }
        }
    }
}
