import Logging
import MetricsTestKit
import Model
import NIOCore
import NIOHPACK
import SlipwayTestSupport
import Testing

@testable import Proxy

extension EndToEnd {
    /// The per-client limits and the client's address per request, over
    /// real sockets: the rate limit's 429 after the burst (counted against
    /// an injected clock, never timed) per client address, on HTTP/1.1 and
    /// on HTTP/2 streams; `X-Forwarded-For` and `X-Forwarded-Proto` believed
    /// from a trusted proxy only; the per-client connection limit.
    @Suite struct ClientLimitsEndToEndTests {
        static func request(_ path: String = "/about", headers: [String] = []) -> String {
            "GET \(path) HTTP/1.1\r\nHost: manual.apps.test\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
        }

        func withProxy(
            _ transport: EdgeTransport = .plain, trusted: String? = nil, proxyProtocol: Bool = false,
            rate: Double? = nil, burst: Int? = nil, connectionsPerClient: Int = 0, clock: ManualNanosecondClock,
            metrics: TestMetrics? = nil, configure: (inout ProxyConfiguration) -> Void = { _ in },
            _ body: (TestProxy, CapturedLogs) async throws -> Void
        ) async throws {
            let lines = CapturedLogs()
            let logger = Logger(label: "slipway.tests.client-limits") { _ in CapturingLogHandler(lines) }
            let proxies = try trusted.map { try TrustedProxies(parsing: $0) } ?? .none
            try await withTestProxy(
                transport: transport, metricsFactory: metrics, logger: logger, rateLimitClock: clock.read,
                configure: {
                    $0.accessLog = true
                    $0.clientAddresses = .init(trustedProxies: proxies, proxyProtocol: proxyProtocol)
                    $0.clientLimits = .init(
                        requestsPerSecond: rate, burst: burst, maxConnectionsPerClient: connectionsPerClient)
                    configure(&$0)
                }
            ) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                try await body(proxy, lines)
            }
        }

        /// Sends `count` requests one after the other on `connection` and returns their statuses.
        func statuses(_ connection: RawConnection, _ count: Int, headers: [String] = []) async throws -> [Int] {
            var statuses: [Int] = []
            for _ in 0..<count {
                try await connection.send(Self.request(headers: headers))
                statuses.append(try #require(try await connection.readResponses(1).first).status)
            }
            return statuses
        }

        @Test func overTheBurstAClientGets429WithRetryAfterAndItsConnectionStaysUsable() async throws {
            let clock = ManualNanosecondClock()
            let metrics = TestMetrics()
            try await withProxy(rate: 1, burst: 3, clock: clock, metrics: metrics) { proxy, _ in
                let connection = try await RawConnection.connect(port: proxy.port)
                defer { connection.close() }
                // The same request answered from its prepared form after the
                // first: the limit applies to prepared answers too.
                #expect(try await statuses(connection, 3) == [200, 200, 200])
                try await connection.send(Self.request())
                let refused = try #require(try await connection.readResponses(1).first)
                #expect(refused.status == 429)
                #expect(refused.header("Retry-After") == "1")
                #expect(refused.header("Cache-Control") == "no-store")
                #expect(refused.header("Connection") == nil)
                #expect(refused.text.contains("Too many requests") && refused.text.contains("Try again in 1 second"))
                // A second later the bucket holds one token again: one more request, on the same connection.
                clock.advance(by: .seconds(1))
                #expect(try await statuses(connection, 2) == [200, 429])
                // Pipelined: each request takes a token, answers keep their order.
                clock.advance(by: .seconds(2))
                try await connection.send(String(repeating: Self.request(), count: 4))
                #expect(try await connection.readResponses(4).map(\.status) == [200, 200, 429, 429])
                #expect(try metrics.expectCounter("slipway_proxy_requests_rate_limited_total").totalValue == 4)
            }
        }

        /// Two clients behind the same trusted balancer, told apart by
        /// PROXY protocol headers (v1 and v2), have buckets of their own.
        @Test func clientsNamedByPROXYHeadersHaveBucketsOfTheirOwn() async throws {
            let clock = ManualNanosecondClock()
            try await withProxy(trusted: "127.0.0.1", proxyProtocol: true, rate: 1, burst: 2, clock: clock) {
                proxy, lines in
                let first = try await RawConnection.connect(port: proxy.port)
                defer { first.close() }
                try await first.send(ProxyProtocolEndToEndTests.version1)
                #expect(try await statuses(first, 3) == [200, 200, 429])
                let second = try await RawConnection.connect(port: proxy.port)
                defer { second.close() }
                try await second.send(ProxyProtocolEndToEndTests.version2)
                #expect(try await statuses(second, 3) == [200, 200, 429])
                // The first client's bucket is still empty, on a new connection too.
                let again = try await RawConnection.connect(port: proxy.port)
                defer { again.close() }
                try await again.send(ProxyProtocolEndToEndTests.version1)
                #expect(try await statuses(again, 1) == [429])
                try await proxy.waitUntil("the answers are logged") { lines.access.count >= 7 }
                #expect(Set(lines.access.compactMap { $0["client"] }) == ["203.0.113.7", "2001:db8::1"])
            }
        }

        /// From a trusted proxy, `X-Forwarded-For` names the client: the
        /// access log's `client` and the rate limit's key.
        @Test func forwardedForFromATrustedProxyNamesTheClient() async throws {
            let clock = ManualNanosecondClock()
            try await withProxy(trusted: "127.0.0.1, 10.0.0.0/8", rate: 1, burst: 2, clock: clock) { proxy, lines in
                let connection = try await RawConnection.connect(port: proxy.port)
                defer { connection.close() }
                // What the client wrote itself (left of the balancer's entry) is never believed.
                let one = ["X-Forwarded-For: 198.51.100.9, 203.0.113.1, 10.0.0.2"]
                let two = ["X-Forwarded-For: 203.0.113.2"]
                #expect(try await statuses(connection, 3, headers: one) == [200, 200, 429])
                #expect(try await statuses(connection, 3, headers: two) == [200, 200, 429])
                try await proxy.waitUntil("the answers are logged") { lines.access.count >= 6 }
                #expect(
                    lines.access.map { $0["client"] ?? "" } == [String](repeating: "203.0.113.1", count: 3)
                        + [String](repeating: "203.0.113.2", count: 3))
                // A trusted proxy naming no client is not one: it is not limited.
                #expect(try await statuses(connection, 4) == [200, 200, 200, 200])
            }
        }

        /// From a peer that is not a trusted proxy, `X-Forwarded-For` and
        /// `X-Forwarded-Proto` are ignored: the client is the peer, whatever
        /// the header says, and one bucket counts every request.
        @Test func forwardedHeadersFromAnUntrustedPeerAreIgnored() async throws {
            let clock = ManualNanosecondClock()
            try await withProxy(trusted: "10.0.0.0/8", rate: 1, burst: 2, clock: clock) { proxy, lines in
                let connection = try await RawConnection.connect(port: proxy.port)
                defer { connection.close() }
                var statuses: [Int] = []
                for index in 1...3 {
                    statuses += try await self.statuses(connection, 1, headers: ["X-Forwarded-For: 203.0.113.\(index)"])
                }
                #expect(statuses == [200, 200, 429])
                try await proxy.waitUntil("the answers are logged") { lines.access.count >= 3 }
                #expect(lines.access.allSatisfy { $0["client"] == "127.0.0.1" })
            }
        }

        /// Each HTTP/2 stream is a request and takes a token; the connection
        /// serves its other streams on.
        @Test func http2StreamsAreCountedOneByOne() async throws {
            let clock = ManualNanosecondClock()
            let metrics = TestMetrics()
            try await withProxy(.h2, rate: 1, burst: 2, clock: clock, metrics: metrics) { proxy, _ in
                let client = try await HTTP2Wire.Client.connect(proxy)
                defer { client.close() }
                #expect(try await client.get(1, "/about").status == 200)
                #expect(try await client.get(3, "/about").status == 200)
                let refused = try await client.get(5, "/about")
                #expect(refused.status == 429)
                #expect(refused.headers?.first(name: "retry-after") == "1")
                #expect(refused.headers?.first(name: "cache-control") == "no-store")
                clock.advance(by: .seconds(1))
                #expect(try await client.get(7, "/about").status == 200)
                #expect(try await client.get(9, "/about").status == 429)
                #expect(try metrics.expectCounter("slipway_proxy_requests_rate_limited_total").totalValue == 2)
            }
        }

        /// Two clients of a trusted proxy over HTTP/2, named by `X-Forwarded-For`.
        @Test func http2StreamsOfATrustedProxyAreCountedByForwardedFor() async throws {
            let clock = ManualNanosecondClock()
            try await withProxy(.h2, trusted: "127.0.0.1", rate: 1, burst: 1, clock: clock) { proxy, lines in
                let client = try await HTTP2Wire.Client.connect(proxy)
                defer { client.close() }
                var statuses: [Int?] = []
                for (stream, address) in [(1, "203.0.113.1"), (3, "203.0.113.2"), (5, "203.0.113.1")] {
                    try await client.send(
                        HTTP2Wire.request(UInt32(stream), path: "/about", extra: [("x-forwarded-for", address)]))
                    try await client.waitUntil("stream \(stream)") { $0.answers[UInt32(stream)]?.ended == true }
                    statuses.append(client.answers[UInt32(stream)]?.status)
                }
                #expect(statuses == [200, 200, 429])
                try await proxy.waitUntil("the answers are logged") { lines.access.count >= 3 }
                #expect(lines.access.map { $0["client"] ?? "" } == ["203.0.113.1", "203.0.113.2", "203.0.113.1"])
            }
        }

        /// A TLS-terminating balancer says `X-Forwarded-Proto: https` on the
        /// plain listener: believed from a trusted proxy (no redirect, which
        /// would loop; HSTS as over TLS, from the prepared answer too), and
        /// ignored from anyone else (redirected).
        @Test func forwardedProtoFromATrustedProxyStopsTheHTTPSRedirect() async throws {
            let clock = ManualNanosecondClock()
            let hsts: (inout ProxyConfiguration) -> Void = { $0.tls?.hstsMaxAge = 600 }
            try await withProxy(.tls, trusted: "127.0.0.1", clock: clock, configure: hsts) { proxy, _ in
                let connection = try await RawConnection.connect(port: try #require(proxy.server.port))
                defer { connection.close() }
                for _ in 0..<3 {
                    try await connection.send(Self.request(headers: ["X-Forwarded-Proto: https"]))
                    let response = try #require(try await connection.readResponses(1).first)
                    #expect(response.status == 200)
                    #expect(response.header("Strict-Transport-Security") == "max-age=600")
                }
                // The same balancer forwarding plain HTTP: redirected, no HSTS,
                // on the same connection (no prepared answer mixes them up).
                for proto in ["http", nil] {
                    try await connection.send(Self.request(headers: proto.map { ["X-Forwarded-Proto: \($0)"] } ?? []))
                    let response = try #require(try await connection.readResponses(1).first)
                    #expect(response.status == 308)
                    #expect(response.header("Strict-Transport-Security") == nil)
                }
            }
            try await withProxy(.tls, trusted: "10.0.0.0/8", clock: clock, configure: hsts) { proxy, _ in
                let connection = try await RawConnection.connect(port: try #require(proxy.server.port))
                defer { connection.close() }
                for _ in 0..<2 {
                    try await connection.send(Self.request(headers: ["X-Forwarded-Proto: https"]))
                    let response = try #require(try await connection.readResponses(1).first)
                    #expect(response.status == 308)
                    #expect(response.header("Strict-Transport-Security") == nil)
                }
            }
        }

        /// The (N+1)th connection of an address gets a 429 and is closed,
        /// counted under `client_limit`; a connection that closes frees its place.
        @Test func theConnectionLimitClosesTheNextConnectionAndFreesPlacesOnClose() async throws {
            let clock = ManualNanosecondClock()
            let metrics = TestMetrics()
            try await withProxy(connectionsPerClient: 2, clock: clock, metrics: metrics) { proxy, _ in
                let limiter = try #require(proxy.server.clients.connectionLimiter)
                var open: [RawConnection] = []
                for _ in 0..<2 {
                    let connection = try await RawConnection.connect(port: proxy.port)
                    #expect(try await statuses(connection, 1) == [200])
                    open.append(connection)
                }
                let refused = try await RawConnection.connect(port: proxy.port)
                try await refused.send(Self.request())
                let (bytes, closed) = try await refused.readUntilClosed()
                refused.close()
                let answer = try #require(RawResponse.parseAll(bytes).first)
                #expect(closed && answer.status == 429)
                #expect(answer.header("Retry-After") == "1" && answer.header("Connection") == "close")
                #expect(answer.header("Cache-Control") == "no-store")
                #expect(answer.text.contains("Too many connections"))
                #expect(
                    try metrics.expectCounter("slipway_proxy_connections_closed_total", [("reason", "client_limit")])
                        .totalValue == 1)
                // The refused connection held no place; closing one of the two frees one.
                #expect(limiter.connections(of: "127.0.0.1") == 2)
                open.removeFirst().close()
                try await proxy.waitUntil("the place is given back") { limiter.connections(of: "127.0.0.1") == 1 }
                let again = try await RawConnection.connect(port: proxy.port)
                #expect(try await statuses(again, 1) == [200])
                open.append(again)
                // Closed by the server (a request asking for it) frees its place too.
                try await open[0].send("GET /about HTTP/1.1\r\nHost: manual.apps.test\r\nConnection: close\r\n\r\n")
                _ = try await open[0].readUntilClosed()
                try await proxy.waitUntil("the place is given back") { limiter.connections(of: "127.0.0.1") == 1 }
                for connection in open { connection.close() }
                try await proxy.waitUntil("every place is given back") { limiter.trackedClients == 0 }
            }
        }

        /// Behind a trusted balancer speaking the PROXY protocol, connections
        /// are counted by the client its header names, not by the balancer.
        @Test func theConnectionLimitCountsTheClientAPROXYHeaderNames() async throws {
            let clock = ManualNanosecondClock()
            let metrics = TestMetrics()
            try await withProxy(
                trusted: "127.0.0.1", proxyProtocol: true, connectionsPerClient: 1, clock: clock, metrics: metrics
            ) { proxy, _ in
                let first = try await RawConnection.connect(port: proxy.port)
                defer { first.close() }
                try await first.send(ProxyProtocolEndToEndTests.version1)
                #expect(try await statuses(first, 1) == [200])
                let other = try await RawConnection.connect(port: proxy.port)
                defer { other.close() }
                try await other.send(ProxyProtocolEndToEndTests.version2)
                #expect(try await statuses(other, 1) == [200])
                // The first client again: header and request in one write.
                let second = try await RawConnection.connect(port: proxy.port)
                try await second.send(ProxyProtocolEndToEndTests.version1 + Self.request())
                let (bytes, closed) = try await second.readUntilClosed()
                second.close()
                #expect(closed && RawResponse.parseAll(bytes).first?.status == 429)
                #expect(
                    try metrics.expectCounter("slipway_proxy_connections_closed_total", [("reason", "client_limit")])
                        .totalValue == 1)
            }
        }

        /// Over TLS the connection over the limit is closed at once.
        @Test func overTLSTheConnectionOverTheLimitIsClosed() async throws {
            let clock = ManualNanosecondClock()
            let metrics = TestMetrics()
            try await withProxy(.h2, connectionsPerClient: 1, clock: clock, metrics: metrics) { proxy, _ in
                let client = try await HTTP2Wire.Client.connect(proxy)
                defer { client.close() }
                #expect(try await client.get(1, "/about").status == 200)
                await #expect(throws: (any Error).self) {
                    let refused = try await HTTP2Wire.Client.connect(proxy)
                    defer { refused.close() }
                    _ = try await refused.get(1, "/about")
                }
                #expect(
                    try metrics.expectCounter("slipway_proxy_connections_closed_total", [("reason", "client_limit")])
                        .totalValue == 1)
            }
        }
    }
}
