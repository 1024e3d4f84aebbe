import Crypto
import Foundation
import Logging
import MetricsTestKit
import Model
import NIOHTTP1
import SlipwayTestSupport
import Storage
import Testing

@testable import Builder

/// A notification dispatcher on real parts: a SQLite catalog in a temporary
/// directory, the in-process bus, and a scripted HTTP receiver on 127.0.0.1.
/// Builds are ended by hand, as a worker would end them.
final class NotifyHarness: Sendable {
    let root: String
    let bus = InProcessEventBus()
    let catalog: SQLiteCatalog
    let receiver: ScriptedHTTPServer
    let metrics = TestMetrics()
    let urls = SiteURLs(scheme: "http", appsDomain: "apps.test", port: 8080)

    static let logger: Logger = {
        var logger = Logger(label: "slipway.tests.notify")
        logger.logLevel = ProcessInfo.processInfo.environment["SLIPWAY_TEST_LOG"] == "debug" ? .debug : .critical
        return logger
    }()

    /// Quick timings: retries after 50, 100, 200 ms; no jitter, so the
    /// schedule is the one the test reads.
    static let quickRetry = NotificationRetryPolicy(
        maxAttempts: 3, firstDelay: .milliseconds(50), multiplier: 2, maxDelay: .milliseconds(200), jitter: 0,
        maxRetryAfter: .seconds(2))

    init(replies: [ScriptedHTTPServer.Reply] = [], fallback: ScriptedHTTPServer.Reply = .respond(status: .ok))
        async throws
    {
        root = NSTemporaryDirectory() + "slipway-notify-tests/" + UUID().uuidString
        catalog = try SQLiteCatalog(dataDirectory: root, bus: bus)
        receiver = try await ScriptedHTTPServer.start(replies: replies, fallback: fallback)
    }

    /// Runs `body` with a started harness, then stops everything and removes its files.
    static func run(
        replies: [ScriptedHTTPServer.Reply] = [], fallback: ScriptedHTTPServer.Reply = .respond(status: .ok),
        _ body: (NotifyHarness) async throws -> Void
    ) async throws {
        let harness = try await NotifyHarness(replies: replies, fallback: fallback)
        do {
            try await body(harness)
        } catch {
            await harness.tearDown()
            throw error
        }
        await harness.tearDown()
    }

    func tearDown() async {
        try? await receiver.shutdown()
        try? await catalog.close()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The receiver's address for `path` (`/hooks/slipway?token=abc` by default).
    func receiverURL(_ path: String = "/hooks/slipway?token=abc", userinfo: String = "") -> String {
        "http://\(userinfo)127.0.0.1:\(receiver.port)\(path)"
    }

    func configuration(
        concurrency: Int = 2, timeout: Duration = .seconds(5), retry: NotificationRetryPolicy = NotifyHarness.quickRetry
    ) -> NotificationConfiguration {
        NotificationConfiguration(
            siteURLs: urls, concurrency: concurrency, requestTimeout: timeout, retry: retry,
            pollInterval: .milliseconds(100),
            leaseDuration: timeout + .seconds(5), userAgent: "Slipway/test")
    }

    /// A started dispatcher on `catalog` (this harness's unless given).
    func dispatcher(_ configuration: NotificationConfiguration? = nil, catalog: (any Catalog)? = nil) throws
        -> NotificationDispatcher
    {
        let dispatcher = NotificationDispatcher(
            configuration: configuration ?? self.configuration(), catalog: catalog ?? self.catalog, bus: bus,
            logger: Self.logger, metricsFactory: metrics)
        try dispatcher.start()
        return dispatcher
    }

    func makeSite(_ slug: String, notifyURL: String?, env: [BuildVariable] = []) async throws -> Site {
        try await catalog.createSite(
            SiteDraft(slug: slug, repoURL: "https://github.com/acme/\(slug).git", env: env, notifyURL: notifyURL))
    }

    /// Queues a build of `site` and ends it as a worker would: a final failure,
    /// or a success that is then activated.
    func endBuild(of site: Site, succeeding: Bool = false) async throws -> Build {
        let build = try await catalog.createBuild(
            siteID: site.id, BuildRequest(commitSHA: "3f9a1b2c", commitMessage: "Fix the header"))
        let claimed = try #require(try await catalog.claimNextBuild(workerID: "worker-1"))
        try #require(claimed.id == build.id)
        let result: BuildResult =
            succeeding
            ? .success(fileCount: 3, bytes: 1234)
            : .failure(message: "the build command exited with status 1", retryable: false)
        let finished = try await catalog.finishBuild(buildID: build.id, workerID: "worker-1", result: result)
        if succeeding { _ = try await catalog.activate(siteID: site.id, buildID: build.id, allowOlder: false) }
        return finished
    }

    /// The build's notification once it is delivered or given up (or as it
    /// is after `timeout`).
    func settledNotification(of build: Build, timeout: Duration = .seconds(120)) async throws -> NotificationDelivery {
        let deadline = ContinuousClock.now + timeout
        while true {
            let notification = try #require(try await catalog.notifications(buildID: build.id).first)
            if notification.state != .pending || ContinuousClock.now >= deadline { return notification }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Starts a dispatcher, waits until the build's notification is delivered
    /// or given up, and stops the dispatcher.
    func deliver(_ build: Build, with configuration: NotificationConfiguration? = nil) async throws
        -> NotificationDelivery
    {
        let dispatcher = try self.dispatcher(configuration)
        let settled = try await settledNotification(of: build)
        await dispatcher.shutdown()
        return settled
    }

    /// `sha256=<hex>` of `body` keyed with `secret`, computed here independently.
    static func signature(_ body: [UInt8], secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }

    func counter(_ result: String) throws -> Int64 {
        try metrics.expectCounter("slipway_notifications_total", [("result", result)]).totalValue
    }
}

extension ScriptedHTTPServer.Recorded {
    var json: [String: Any] {
        get throws {
            try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        }
    }

    func header(_ name: String) -> String? { headers.first(name: name) }
}
