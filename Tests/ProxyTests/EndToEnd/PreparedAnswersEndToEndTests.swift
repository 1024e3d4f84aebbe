import Foundation
import MetricsTestKit
import Model
import SlipwayTestSupport
import Storage
import Testing

@testable import Proxy

extension EndToEnd {
    /// Prepared answers (`PreparedAnswers`) over real sockets: the same bytes
    /// the whole pipeline sends, a deploy seen at once, and only for the
    /// requests they can answer.
    @Suite struct PreparedAnswersEndToEndTests {
        static let slug = "prepared"
        static let host = "\(slug).\(TestProxy.domain)"
        /// A clock that stands still, so that two answers' `Date` agree.
        static let clock = HTTPDateClock { 1_780_000_000 }

        static func get(_ target: String, _ extra: String = "", version: String = "HTTP/1.1") -> String {
            "GET \(target) \(version)\r\nHost: \(host)\r\n\(extra)\r\n"
        }

        static func prepared(_ metrics: TestMetrics) -> Int64 {
            (try? metrics.expectCounter("slipway_proxy_prepared_answers_total").totalValue) ?? 0
        }

        func withProxy(_ body: (TestProxy, TestMetrics, RawConnection) async throws -> Void) async throws {
            let metrics = TestMetrics()
            try await withTestProxy(metricsFactory: metrics, dateClock: Self.clock) { proxy in
                _ = try await proxy.deploy("release-1", as: Self.slug)
                let connection = try await RawConnection.connect(port: proxy.port)
                defer { connection.close() }
                try await body(proxy, metrics, connection)
            }
        }

        /// Sends `request` alone and reads its answer.
        static func exchange(_ connection: RawConnection, _ request: String) async throws -> RawResponse {
            try await connection.send(request)
            return try #require(try await connection.readResponses(1).first)
        }

        /// The first GET loads the body, the second is a cache hit through the
        /// whole pipeline and prepares the answer, the third is the prepared
        /// answer: the same status, fields in the same order, and body. (A
        /// deep link of the SPA finds `index.html` already cached: its first
        /// GET prepares.)
        @Test func aPreparedAnswerIsWhatThePipelineSends() async throws {
            try await withProxy { proxy, metrics, connection in
                for target in ["/about", "/", "/data.json", "/deep/link/of/the/spa"] {
                    let before = Self.prepared(metrics)
                    var answers: [RawResponse] = []
                    for _ in 0..<3 { answers.append(try await Self.exchange(connection, Self.get(target))) }
                    #expect(answers.map(\.status) == [200, 200, 200], "\(target)")
                    #expect(answers[1] == answers[2], "\(target)")
                    #expect(answers[2].header("X-Cache") == "HIT", "\(target)")
                    let firstWasAHit = answers[0].header("X-Cache") == "HIT"
                    #expect(firstWasAHit == (target == "/deep/link/of/the/spa"), "\(target)")
                    #expect(Self.prepared(metrics) == before + (firstWasAHit ? 2 : 1), "\(target)")
                }
            }
        }

        /// Requests that arrive while another is being answered wait their
        /// turn, in order, and are answered by the whole pipeline.
        @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
            try await withProxy { proxy, metrics, connection in
                try await connection.send(Self.get("/about") + Self.get("/") + Self.get("/about"))
                let first = try await connection.readResponses(3)
                try await connection.send(Self.get("/about") + Self.get("/") + Self.get("/about"))
                let second = try await connection.readResponses(3)
                #expect(second.map(\.status) == [200, 200, 200])
                #expect(second.map(\.body) == first.map(\.body))
                #expect(second[0] == second[2])
                #expect(Self.prepared(metrics) >= 1)
            }
        }

        /// A 304 for the tag a browser sends back, the same as the pipeline's;
        /// other validators are still decided by the pipeline.
        @Test func notModifiedIsPreparedTooAndOtherValidatorsTakeThePipeline() async throws {
            try await withProxy { proxy, metrics, connection in
                _ = try await Self.exchange(connection, Self.get("/about"))
                let full = try await Self.exchange(connection, Self.get("/about"))
                let etag = try #require(full.header("ETag"))
                // A weak tag matches weakly: the pipeline answers 304.
                try await connection.send(Self.get("/about", "If-None-Match: W/\(etag)\r\n"))
                let fromPipeline = try await connection.readResponses(1)[0]
                let before = Self.prepared(metrics)
                try await connection.send(Self.get("/about", "If-None-Match: \(etag)\r\n"))
                let prepared = try await connection.readResponses(1)[0]
                #expect(Self.prepared(metrics) == before + 1)
                #expect(prepared.status == 304)
                #expect(prepared == fromPipeline)
                #expect(prepared.body.isEmpty)
                // If-Modified-Since beside the tag is ignored (the tag decides).
                try await connection.send(
                    Self.get("/about", "If-None-Match: \(etag)\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n")
                )
                #expect(try await connection.readResponses(1)[0] == prepared)
                #expect(Self.prepared(metrics) == before + 2)
                // A stale tag, a list, a range, HEAD and If-Modified-Since alone
                // take the pipeline, and get what they always got.
                let others: [(String, Int)] = [
                    (Self.get("/about", "If-None-Match: \"stale\"\r\n"), 200),
                    (Self.get("/about", "If-None-Match: \"stale\", \(etag)\r\n"), 304),
                    (Self.get("/about", "Range: bytes=0-0\r\n"), 206),
                    ("HEAD /about HTTP/1.1\r\nHost: \(Self.host)\r\n\r\n", 200),
                    (Self.get("/about", "If-Modified-Since: Thu, 01 Jan 2099 00:00:00 GMT\r\n"), 304),
                ]
                for (request, status) in others {
                    try await connection.send(request)
                    let answer = try await connection.readResponses(1, headRequests: request.hasPrefix("HEAD") ? 1 : 0)
                    #expect(answer.map(\.status) == [status], "\(request)")
                }
                #expect(Self.prepared(metrics) == before + 2)
            }
        }

        /// A deploy changes the site table: the next request gets the new
        /// build, never a prepared answer of the old one.
        @Test func aDeployIsServedAtOnce() async throws {
            try await withProxy { proxy, metrics, connection in
                var old: RawResponse?
                for _ in 0..<3 { old = try await Self.exchange(connection, Self.get("/about")) }
                #expect(Self.prepared(metrics) == 1)
                let site = try await proxy.catalog.site(slug: Self.slug)
                let build = try await proxy.startBuild(of: site)
                let release2 = try proxy.fixture("release-2", site: site, build: build)
                _ = try await proxy.succeed(build, with: release2)
                _ = try await proxy.catalog.activate(siteID: site.id, buildID: build.id, allowOlder: false)
                try await proxy.waitUntil("build 2 is live") {
                    proxy.server.siteTable.lookup(slug: Self.slug)?.activeBuildID == build.id
                }
                try await connection.send(Self.get("/about"))
                let new = try await connection.readResponses(1)[0]
                #expect(new.status == 200)
                #expect(new.body != old?.body)
                #expect(new.body == Array(try #require(release2.files["about.html"])))
                #expect(Self.prepared(metrics) == 1)
            }
        }

        /// The connection's own needs are said in the ending: HTTP/1.0 keeps
        /// alive when asked, `Connection: close` closes after the answer.
        @Test func theConnectionFieldFollowsTheRequest() async throws {
            try await withProxy { proxy, metrics, connection in
                for _ in 0..<2 { _ = try await Self.exchange(connection, Self.get("/about")) }
                try await connection.send(Self.get("/about", "Connection: keep-alive\r\n", version: "HTTP/1.0"))
                let http10 = try await connection.readResponses(1)[0]
                #expect(http10.header("Connection") == "keep-alive")
                try await connection.send(Self.get("/about", "Connection: close\r\n") + Self.get("/"))
                let (bytes, closed) = try await connection.readUntilClosed()
                let answers = RawResponse.parseAll(bytes)
                #expect(answers.map(\.status) == [200])
                #expect(answers.first?.header("Connection") == "close")
                #expect(closed)
                #expect(Self.prepared(metrics) == 2)
            }
        }
    }
}
