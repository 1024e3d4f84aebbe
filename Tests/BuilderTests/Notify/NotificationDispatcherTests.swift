import Foundation
import MetricsTestKit
import Model
import NIOHTTP1
import SlipwayTestSupport
import Storage
import Testing

@testable import Builder

/// The dispatcher against a real HTTP receiver on 127.0.0.1.
@Suite struct NotificationDispatcherTests {
    /// The Build fields of the admin API (docs/interface.md), and nothing else.
    static let buildFields: Set<String> = [
        "id", "deploymentId", "number", "status", "commitSha", "commitMessage", "error", "attempt", "queuedAt",
        "startedAt",
        "finishedAt", "fileCount", "bytes", "previewUrl",
    ]

    @Test func aFailedBuildIsPostedAsSignedJSONWithItsDeliveryID() async throws {
        try await NotifyHarness.run { h in
            let site = try await h.makeSite(
                "blog", notifyURL: h.receiverURL(userinfo: "ci:pa%24s@"),
                env: [
                    BuildVariable(name: "API_TOKEN", value: "hunter2-secret-value", secret: true),
                    BuildVariable(name: "MODE", value: "prod"),
                ])
            let build = try await h.endBuild(of: site)
            let settled = try await h.deliver(build)

            #expect(settled.state == .delivered && settled.attempts == 1 && settled.lastStatus == 200)
            let requests = h.receiver.requests
            #expect(requests.count == 1)
            let request = try #require(requests.first)
            #expect(request.method == .POST)
            #expect(request.uri == "/hooks/slipway?token=abc")
            #expect(request.header("Content-Type") == "application/json")
            #expect(request.header("User-Agent") == "Slipway/test")
            #expect(request.header("X-Slipway-Event") == "build.finished")
            #expect(request.header("X-Slipway-Delivery") == settled.id)
            // Userinfo travels as Basic credentials, percent-decoded.
            #expect(request.header("Authorization") == "Basic " + Data("ci:pa$s".utf8).base64EncodedString())
            // Verified exactly as a receiver would: HMAC-SHA256 of the raw body with the webhook secret.
            let secret = try #require(try await h.catalog.webhookSecret(siteID: site.id))
            #expect(request.header("X-Slipway-Signature-256") == NotifyHarness.signature(request.body, secret: secret))
            #expect(
                request.header("X-Slipway-Signature-256")
                    != NotifyHarness.signature(request.body, secret: WebhookSecret.generate()))

            let body = try request.json
            #expect(Set(body.keys) == ["event", "deliveryId", "sentAt", "deployment", "build"])
            #expect(body["event"] as? String == "build.finished")
            #expect(body["deliveryId"] as? String == settled.id)
            #expect((body["sentAt"] as? String).flatMap { try? Date($0, strategy: .iso8601) } != nil)
            let deployment = try #require(body["deployment"] as? [String: Any])
            #expect(deployment["id"] as? String == site.id.rawValue)
            #expect(deployment["slug"] as? String == "blog")
            #expect(deployment["url"] as? String == "http://blog.apps.test:8080/")
            #expect(deployment["activeBuildId"] is NSNull)
            let sent = try #require(body["build"] as? [String: Any])
            #expect(Set(sent.keys) == Self.buildFields)
            #expect(sent["id"] as? String == build.id.rawValue)
            #expect(sent["deploymentId"] as? String == site.id.rawValue)
            #expect(sent["status"] as? String == "failed")
            #expect(sent["number"] as? Int == 1)
            #expect(sent["commitSha"] as? String == "3f9a1b2c")
            #expect(sent["error"] as? String == "the build command exited with status 1")
            #expect(sent["previewUrl"] is NSNull)
            // Build variables never leave, secret or not.
            let text = String(decoding: request.body, as: UTF8.self)
            #expect(!text.contains("hunter2") && !text.contains("API_TOKEN") && !text.contains("MODE"))

            #expect(try h.counter("delivered") == 1)
            #expect(try h.metrics.expectTimer("slipway_notification_duration_seconds").values.count == 1)
        }
    }

    @Test func aSuccessfulBuildIsAnnouncedOnceItIsLive() async throws {
        try await NotifyHarness.run { h in
            let site = try await h.makeSite("guide", notifyURL: h.receiverURL())
            let dispatcher = try h.dispatcher()
            let build = try await h.endBuild(of: site, succeeding: true)
            let settled = try await h.settledNotification(of: build)
            await dispatcher.shutdown()
            #expect(settled.state == .delivered)
            let body = try #require(h.receiver.requests.first).json
            let sent = try #require(body["build"] as? [String: Any])
            #expect(sent["status"] as? String == "success")
            #expect(sent["fileCount"] as? Int == 3 && sent["bytes"] as? Int == 1234)
            #expect(sent["previewUrl"] as? String == "http://1--guide.apps.test:8080/")
            #expect((body["deployment"] as? [String: Any])?["activeBuildId"] as? String == build.id.rawValue)
        }
    }

    @Test func a500IsRetriedWithTheSameDeliveryIDUntilItIsDelivered() async throws {
        try await NotifyHarness.run(
            replies: [.respond(status: .internalServerError, body: "database down"), .respond(status: .badGateway)],
            fallback: .respond(status: .noContent)
        ) { h in
            let site = try await h.makeSite("blog", notifyURL: h.receiverURL())
            let build = try await h.endBuild(of: site)
            let settled = try await h.deliver(build)

            #expect(settled.state == .delivered && settled.attempts == 3 && settled.lastStatus == 204)
            let requests = h.receiver.requests
            #expect(requests.count == 3)
            #expect(requests.allSatisfy { $0.header("X-Slipway-Delivery") == settled.id })
            let secret = try #require(try await h.catalog.webhookSecret(siteID: site.id))
            #expect(
                requests.allSatisfy {
                    $0.header("X-Slipway-Signature-256") == NotifyHarness.signature($0.body, secret: secret)
                })
            #expect(try h.counter("retrying") == 2 && h.counter("delivered") == 1)
        }
    }

    @Test func aFailedAttemptIsRecordedWithItsStatusAndTheRetrySchedule() async throws {
        try await NotifyHarness.run(replies: [.respond(status: .serviceUnavailable, body: "maintenance\nback soon")]) {
            h in
            let site = try await h.makeSite("blog", notifyURL: h.receiverURL())
            let build = try await h.endBuild(of: site)
            // A first retry an hour away: the attempt's record can be read at leisure.
            var retry = NotifyHarness.quickRetry
            retry.firstDelay = .seconds(3600)
            retry.maxDelay = .seconds(3600)
            let dispatcher = try h.dispatcher(h.configuration(retry: retry))
            _ = try await h.receiver.requests(atLeast: 1)
            var recorded = try #require(try await h.catalog.notifications(buildID: build.id).first)
            for _ in 0..<500 where recorded.lastStatus == nil {
                try await Task.sleep(for: .milliseconds(20))
                recorded = try #require(try await h.catalog.notifications(buildID: build.id).first)
            }
            await dispatcher.shutdown()
            #expect(recorded.state == .pending && recorded.attempts == 1 && recorded.leaseOwner == nil)
            #expect(recorded.lastStatus == 503)
            #expect(recorded.lastError == "the receiver answered 503 Service Unavailable: maintenance back soon")
            let lastAttempt = try #require(recorded.lastAttemptAt)
            #expect(recorded.nextAttemptAt.timeIntervalSince(lastAttempt) >= 3600)
            #expect(h.receiver.requests.count == 1)
        }
    }

    @Test func retryAfterReplacesTheBackoffUpToItsCap() async throws {
        try await NotifyHarness.run(
            replies: [
                .respond(status: .tooManyRequests, headers: [("Retry-After", "1")]),
                // An hour is cut to the cap (2 s here).
                .respond(status: .serviceUnavailable, headers: [("Retry-After", "3600")]),
            ]
        ) { h in
            let site = try await h.makeSite("blog", notifyURL: h.receiverURL())
            let build = try await h.endBuild(of: site)
            // Without Retry-After the next attempt would come only after an hour.
            var retry = NotifyHarness.quickRetry
            retry.firstDelay = .seconds(3600)
            retry.maxDelay = .seconds(3600)
            let settled = try await h.deliver(build, with: h.configuration(retry: retry))
            #expect(settled.state == .delivered && settled.attempts == 3)
            #expect(h.receiver.requests.count == 3)
        }
    }

    @Test(arguments: [
        (HTTPResponseStatus.notFound, "only 408, 429 and 5xx answers are retried"),
        (.gone, "only 408, 429 and 5xx answers are retried"),
        (.movedPermanently, "redirects are not followed"),
    ])
    func otherAnswersGiveUpAtOnce(_ status: HTTPResponseStatus, _ advice: String) async throws {
        try await NotifyHarness.run(
            replies: [.respond(status: status, headers: [("Location", "/elsewhere")])], fallback: .respond(status: .ok)
        ) { h in
            let site = try await h.makeSite("blog", notifyURL: h.receiverURL())
            let build = try await h.endBuild(of: site)
            let dispatcher = try h.dispatcher()
            let settled = try await h.settledNotification(of: build)
            // Several poll intervals and retry delays: nothing more is sent.
            try await Task.sleep(for: .milliseconds(600))
            await dispatcher.shutdown()
            #expect(settled.state == .gaveUp && settled.attempts == 1)
            #expect(settled.lastStatus == Int(status.code))
            #expect(settled.lastError?.contains("answered \(status.code)") == true)
            #expect(settled.lastError?.contains(advice) == true)
            #expect(h.receiver.requests.map(\.uri) == ["/hooks/slipway?token=abc"])
            #expect(try h.counter("gave_up") == 1)
        }
    }

    @Test func aReceiverThatNeverAnswersTimesOutAndIsGivenUpAfterTheLastAttempt() async throws {
        try await NotifyHarness.run(fallback: .stall) { h in
            let site = try await h.makeSite("blog", notifyURL: h.receiverURL())
            let build = try await h.endBuild(of: site)
            // Long enough for the request to reach the receiver on a busy machine.
            let settled = try await h.deliver(build, with: h.configuration(timeout: .seconds(1)))
            #expect(settled.state == .gaveUp && settled.attempts == 3 && settled.lastStatus == nil)
            #expect(
                settled.lastError?.hasPrefix("gave up after 3 attempts; the last one: no answer from http://127.0.0.1:")
                    == true, "\(settled.lastError ?? "")")
            #expect(settled.lastError?.contains("within 1s") == true, "\(settled.lastError ?? "")")
            // The query string never reaches the record.
            #expect(settled.lastError?.contains("token=abc") == false)
            // The receiver may record the last request a moment after the sender gave up on it.
            for _ in 0..<100 where h.receiver.requests.count < 3 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(h.receiver.requests.count == 3)
            #expect(try h.counter("retrying") == 2 && h.counter("gave_up") == 1)
        }
    }

    @Test func anUnreachableReceiverIsRetriedThenGivenUp() async throws {
        try await NotifyHarness.run { h in
            // A port nothing listens on any more.
            let closed = try await ScriptedHTTPServer.start(replies: [], fallback: .respond(status: .ok))
            let port = closed.port
            try await closed.shutdown()
            let site = try await h.makeSite("blog", notifyURL: "http://127.0.0.1:\(port)/hook?key=s3cr3t")
            let build = try await h.endBuild(of: site)
            let settled = try await h.deliver(build)
            #expect(settled.state == .gaveUp && settled.attempts == 3)
            #expect(settled.lastError?.contains("could not deliver to http://127.0.0.1:\(port)/hook?…") == true)
            #expect(settled.lastError?.contains("s3cr3t") == false)
        }
    }

    @Test func onlyBuildsOfSitesWithANotifyURLArePosted() async throws {
        try await NotifyHarness.run { h in
            let quiet = try await h.makeSite("quiet", notifyURL: nil)
            let loud = try await h.makeSite("loud", notifyURL: h.receiverURL("/loud"))
            let unannounced = try await h.endBuild(of: quiet)
            let announced = try await h.endBuild(of: loud)
            let dispatcher = try h.dispatcher()
            let settled = try await h.settledNotification(of: announced)
            try await Task.sleep(for: .milliseconds(300))
            await dispatcher.shutdown()
            #expect(settled.state == .delivered)
            #expect(try await h.catalog.notifications(buildID: unannounced.id).isEmpty)
            let requests = h.receiver.requests
            #expect(requests.map(\.uri) == ["/loud"])
            #expect(try requests.first?.json["deliveryId"] as? String == settled.id)
        }
    }

    @Test func twoDispatchersOnOneCatalogSendEachNotificationOnce() async throws {
        try await NotifyHarness.run { h in
            var builds: [Build] = []
            for index in 0..<6 {
                let site = try await h.makeSite("site-\(index)", notifyURL: h.receiverURL("/n/\(index)"))
                builds.append(try await h.endBuild(of: site))
            }
            // Another process: its own handle on the same database.
            let other = try SQLiteCatalog(path: h.catalog.path)
            let first = try h.dispatcher(h.configuration(concurrency: 3))
            let second = try h.dispatcher(h.configuration(concurrency: 3), catalog: other)
            var settled: [NotificationDelivery] = []
            for build in builds { settled.append(try await h.settledNotification(of: build)) }
            try await Task.sleep(for: .milliseconds(300))
            await first.shutdown()
            await second.shutdown()
            try await other.close()
            #expect(settled.allSatisfy { $0.state == .delivered && $0.attempts == 1 })
            let ids = h.receiver.requests.compactMap { $0.header("X-Slipway-Delivery") }
            #expect(ids.count == 6)
            #expect(Set(ids) == Set(settled.map(\.id)))
        }
    }

    @Test func shutdownLetsTheAttemptUnderWayFinishAndRecordsIt() async throws {
        try await NotifyHarness.run(fallback: .stall) { h in
            let site = try await h.makeSite("blog", notifyURL: h.receiverURL())
            let build = try await h.endBuild(of: site)
            let dispatcher = try h.dispatcher(h.configuration(timeout: .milliseconds(800)))
            _ = try await h.receiver.requests(atLeast: 1)
            await dispatcher.shutdown()
            let recorded = try #require(try await h.catalog.notifications(buildID: build.id).first)
            #expect(recorded.state == .pending && recorded.leaseOwner == nil && recorded.attempts == 1)
            #expect(recorded.lastError?.contains("no answer") == true, "\(recorded.lastError ?? "")")
        }
    }
}
