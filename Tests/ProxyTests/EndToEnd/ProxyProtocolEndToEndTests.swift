import Logging
import MetricsTestKit
import Model
import NIOCore
import SlipwayTestSupport
import Testing

@testable import Proxy

extension EndToEnd {
    /// The client's address from a trusted load balancer's PROXY protocol
    /// header, over real sockets: versions 1 and 2, before HTTP/1.1 and
    /// before a TLS handshake (HTTP/2), a header from an untrusted address
    /// never read, and a trusted connection without one closed.
    @Suite struct ProxyProtocolEndToEndTests {
        static let request = "GET /about HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n"
        static let version1 = "PROXY TCP4 203.0.113.7 10.0.0.1 51234 8080\r\n"
        static let version2: [UInt8] =
            ProxyProtocolHeaderTests.version2(family: 0x21, addresses: ProxyProtocolHeaderTests.ipv6)

        func withProxy(
            _ transport: EdgeTransport, trusted: String, metrics: TestMetrics? = nil,
            _ body: (TestProxy, CapturedLogs) async throws -> Void
        ) async throws {
            let lines = CapturedLogs()
            let logger = Logger(label: "slipway.tests.proxy-protocol") { _ in CapturingLogHandler(lines) }
            let proxies = try TrustedProxies(parsing: trusted)
            try await withTestProxy(
                transport: transport, metricsFactory: metrics, logger: logger,
                configure: {
                    $0.accessLog = true
                    $0.clientAddresses = .init(trustedProxies: proxies, proxyProtocol: true)
                }
            ) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                try await body(proxy, lines)
            }
        }

        @Test func aTrustedBalancersHeaderNamesTheClientBeforeHTTP1() async throws {
            let metrics = TestMetrics()
            try await withProxy(.plain, trusted: "127.0.0.0/8", metrics: metrics) { proxy, lines in
                for (header, client) in [
                    (Array(Self.version1.utf8), "203.0.113.7"), (Self.version2, "2001:db8::1"),
                    (ProxyProtocolHeaderTests.version2(command: 0, family: 0, addresses: []), "127.0.0.1"),
                ] {
                    let connection = try await RawConnection.connect(port: proxy.port)
                    // The header cut in two, the request right behind it.
                    try await connection.send(Array(header.prefix(5)))
                    try await Task.sleep(for: .milliseconds(20))
                    try await connection.send(Array(header.dropFirst(5)) + Array(Self.request.utf8))
                    #expect(try await connection.readResponses(1).first?.status == 200)
                    connection.close()
                    try await proxy.waitUntil("the answer is logged") { lines.access.count >= 1 }
                    #expect(lines.access.last?["client"] == client)
                    lines.clear()
                }
                // A trusted connection without a header: closed, nothing answered.
                let bare = try await RawConnection.connect(port: proxy.port)
                try await bare.send(Self.request)
                let (bytes, closed) = try await bare.readUntilClosed()
                bare.close()
                #expect(closed && bytes.isEmpty)
                #expect(
                    try metrics.expectCounter("slipway_proxy_connections_closed_total", [("reason", "proxy_protocol")])
                        .totalValue == 1)
            }
        }

        @Test func aTrustedBalancersHeaderComesBeforeTheTLSHandshake() async throws {
            try await withProxy(.h2, trusted: "127.0.0.1") { proxy, lines in
                let client = try await HTTP2Wire.Client.connect(proxy, preamble: Array(Self.version1.utf8))
                defer { client.close() }
                #expect(try await client.get(1, "/about").status == 200)
                try await proxy.waitUntil("the answer is logged") { lines.access.count >= 1 }
                #expect(lines.access.last?["client"] == "203.0.113.7")
            }
        }

        /// From an address that is not a trusted proxy, a PROXY header is not
        /// read: the bytes are a malformed request, and the client is the peer.
        @Test func anUntrustedPeersHeaderIsNeverRead() async throws {
            try await withProxy(.plain, trusted: "10.0.0.0/8") { proxy, lines in
                let spoofed = try await RawConnection.connect(port: proxy.port)
                try await spoofed.send(Self.version1 + Self.request)
                #expect(try await spoofed.readResponses(1).first?.status == 400)
                spoofed.close()
                let plain = try await RawConnection.connect(port: proxy.port)
                try await plain.send(Self.request)
                #expect(try await plain.readResponses(1).first?.status == 200)
                plain.close()
                try await proxy.waitUntil("the answers are logged") { lines.access.count >= 2 }
                #expect(lines.access.allSatisfy { $0["client"] == "127.0.0.1" })
            }
        }
    }
}
