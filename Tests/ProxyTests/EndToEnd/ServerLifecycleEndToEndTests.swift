import Foundation
import Logging
import MetricsTestKit
import Model
import SlipwayTestSupport
import Storage
import Synchronization
import Testing

@testable import Proxy

extension EndToEnd {
    /// Graceful shutdown, metrics and the access log.
    @Suite struct ServerLifecycleEndToEndTests {
        @Test func shutdownStopsAcceptingClosesIdleConnectionsAndFinishesResponsesInFlight() async throws {
            try await withFaultyStore { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual")
                _ = try await proxy.get("/style.8e1f5c3a.css", slug: "manual")
                let aboutKey = site.fixture.manifest.objectKey(for: "about.html")
                store.setBehavior(.delayHead(.milliseconds(800)), for: aboutKey)

                let idle = try await RawConnection.connect(port: proxy.port)
                defer { idle.close() }
                try await idle.send("GET / HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                #expect(try await idle.readResponses(1).first?.status == 200)

                let inFlight = try await RawConnection.connect(port: proxy.port)
                defer { inFlight.close() }
                try await inFlight.send("GET /about HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                try await proxy.waitUntil("the request reached the store") { store.gets(aboutKey) == 1 }

                let shutdown = Task { await proxy.server.shutdown(gracePeriod: .seconds(10)) }
                // The idle connection is closed at once, without a response.
                let (idleBytes, idleClosed) = try await idle.readUntilClosed(timeout: .seconds(5))
                #expect(idleClosed && idleBytes.isEmpty)
                // The response in flight is finished, marked as the connection's last.
                let (bytes, closed) = try await inFlight.readUntilClosed(timeout: .seconds(10))
                let responses = RawResponse.parseAll(bytes)
                #expect(closed)
                #expect(responses.first?.status == 200)
                #expect(responses.first?.body == Array(site.fixture.data("about.html")))
                #expect(responses.first?.header("Connection") == "close")
                await shutdown.value
                // Nothing is accepted any more.
                let refused: Bool
                do {
                    let late = try await RawConnection.connect(port: proxy.port)
                    try? await late.send("GET / HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                    refused = try await late.readUntilClosed(timeout: .seconds(5)) == ([], true)
                    late.close()
                } catch {
                    refused = true
                }
                #expect(refused)
            }
        }

        @Test func shutdownClosesWhatIsStillOpenAtItsDeadline() async throws {
            try await withFaultyStore { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual")
                _ = try await proxy.get("/style.8e1f5c3a.css", slug: "manual")
                let aboutKey = site.fixture.manifest.objectKey(for: "about.html")
                store.setBehavior(.stallHead, for: aboutKey)
                let stuck = try await RawConnection.connect(port: proxy.port)
                defer { stuck.close() }
                try await stuck.send("GET /about HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                try await proxy.waitUntil("the request reached the store") { store.gets(aboutKey) == 1 }
                let clock = ContinuousClock()
                let started = clock.now
                await proxy.server.shutdown(gracePeriod: .milliseconds(500))
                #expect(clock.now - started < .seconds(5))
                #expect(try await stuck.readUntilClosed(timeout: .seconds(5)).closed)
            }
        }

        @Test func everyResponseIsCountedByStatusClassAndCache() async throws {
            let metrics = TestMetrics()
            try await withTestProxy(
                metricsFactory: metrics,
                configure: {
                    $0.timeouts.headerRead = .seconds(1)
                    $0.timeouts.idle = .seconds(1)
                    $0.limits.maxConnections = 2
                }
            ) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                _ = try await proxy.get("/about", slug: "manual") // 2xx miss
                _ = try await proxy.get("/about", slug: "manual") // 2xx hit
                _ = try await proxy.get("/missing", slug: "manual") // 4xx miss (404.html)
                _ = try await proxy.request("/", host: "nosuch.apps.test") // 4xx miss (Slipway's page)
                _ = try await proxy.get("/docs", slug: "manual") // 3xx miss
                let rejected = try await RawConnection.connect(port: proxy.port)
                try await rejected.send("POST / HTTP/1.1\r\nHost: manual.apps.test\r\nContent-Length: 99999\r\n\r\n")
                _ = try await rejected.readUntilClosed()
                rejected.close()

                @Sendable func requests(_ statusClass: String, _ cache: String) -> Int64 {
                    (try? metrics.expectCounter(
                        "slipway_proxy_requests_total", [("status_class", statusClass), ("cache", cache)]
                    ).totalValue) ?? 0
                }
                try await proxy.waitUntil("the responses are counted") {
                    requests("2xx", "miss") == 1 && requests("2xx", "hit") == 1 && requests("4xx", "miss") == 3
                        && requests("3xx", "miss") == 1
                }
                #expect(requests("4xx", "miss") == 3) // nothing counted twice
                #expect(requests("5xx", "miss") == 0 && requests("4xx", "hit") == 0)
                let bytes = try metrics.expectCounter("slipway_proxy_response_bytes_total").totalValue
                #expect(bytes > 0)
                let timer = try metrics.expectTimer("slipway_proxy_request_duration_seconds")
                #expect(timer.values.count == 6)
                #expect(
                    try metrics.expectCounter("slipway_proxy_rejected_requests_total", [("reason", "413")]).totalValue
                        == 1)

                // A connection that sends nothing is closed and counted.
                let silent = try await RawConnection.connect(port: proxy.port)
                _ = try await silent.readUntilClosed()
                silent.close()
                try await proxy.waitUntil("the timeout is counted") {
                    (try? metrics.expectCounter(
                        "slipway_proxy_connections_closed_total", [("reason", "header_timeout")]
                    ).totalValue) == 1
                }
                // One over the connection limit is refused and counted (once
                // the test client's pooled connections have idled out).
                try await proxy.waitUntil("no connection is held") { proxy.server.connectionCount == 0 }
                let first = try await RawConnection.connect(port: proxy.port)
                let second = try await RawConnection.connect(port: proxy.port)
                try await first.send("GET / HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                try await second.send("GET / HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                _ = try await first.readResponses(1)
                _ = try await second.readResponses(1)
                let third = try await RawConnection.connect(port: proxy.port)
                _ = try await third.readUntilClosed()
                try await proxy.waitUntil("the refusal is counted") {
                    (try? metrics.expectCounter(
                        "slipway_proxy_connections_closed_total", [("reason", "connection_limit")]
                    ).totalValue) == 1
                }
                for connection in [first, second, third] { connection.close() }
            }
        }

        @Test func theAccessLogRecordsOneLinePerResponseWithoutTheQuery() async throws {
            let lines = CapturedLogs()
            let logger = Logger(label: "slipway.tests.access") { _ in CapturingLogHandler(lines) }
            try await withTestProxy(logger: logger, configure: { $0.accessLog = true }) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                _ = try await proxy.get("/about?token=secret-value", slug: "manual")
                _ = try await proxy.get("/about", slug: "manual")
                try await proxy.waitUntil("two lines are logged") { lines.access.count == 2 }
                let first = lines.access[0]
                #expect(first["path"] == "/about")
                #expect(first["status"] == "200")
                #expect(first["method"] == "GET")
                #expect(first["host"] == "manual.apps.test")
                #expect(first["client"] == "127.0.0.1")
                #expect(first["cache"] == "MISS")
                #expect(lines.access[1]["cache"] == "HIT")
                #expect(!lines.all.contains { $0.values.contains { $0.contains("secret-value") } })
            }
            let quiet = CapturedLogs()
            let quietLogger = Logger(label: "slipway.tests.access") { _ in CapturingLogHandler(quiet) }
            try await withTestProxy(logger: quietLogger) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                _ = try await proxy.get("/about", slug: "manual")
                #expect(quiet.access.isEmpty)
            }
        }
    }
}
