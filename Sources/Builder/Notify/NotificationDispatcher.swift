import AsyncHTTPClient
public import CoreMetrics
import Foundation
public import Logging
import Model
import NIOCore
import NIOPosix
public import Storage
import Synchronization

/// Sends the `build.finished` notifications the catalog's outbox holds to
/// deployments' notify URLs.
///
/// - ``NotificationConfiguration/concurrency`` senders each claim one due
///   notification at a time with a lease, so across every process sharing
///   the catalog exactly one sends it; they wake on build events from the
///   bus and otherwise look every ``NotificationConfiguration/pollInterval``
///   (sooner when a retry falls due).
/// - Each attempt is a JSON POST signed like a GitHub webhook
///   (`X-Slipway-Signature-256: sha256=<HMAC-SHA256 of the body>`, keyed with
///   the deployment's webhook secret), identified by `X-Slipway-Delivery`
///   (the same on every retry), bounded by
///   ``NotificationConfiguration/requestTimeout``, never following a redirect.
/// - 2xx delivers; 408, 429, 5xx and no answer are retried as
///   ``NotificationRetryPolicy`` says; anything else gives up at once.
/// - Delivered and given-up notifications are pruned after their retention.
/// - ``shutdown()`` stops claiming and lets the attempts under way finish.
public final class NotificationDispatcher: Sendable {
    public let configuration: NotificationConfiguration
    /// Prefix of this dispatcher's sender ids (`<host>-<pid>-<random>`).
    public let dispatcherID: String

    private let catalog: any Catalog
    private let bus: (any EventBus)?
    private let logger: Logger
    private let metrics: NotificationMetrics
    private let wakeSignal = WakeSignal()

    private struct State {
        var started = false
        var stopping = false
        /// The senders: awaited at shutdown.
        var senders: [Task<Void, Never>] = []
        /// Waiting on the bus or a timer: cancelled at shutdown.
        var helpers: [Task<Void, Never>] = []
        /// Made at start, closed at shutdown.
        var client: HTTPClient?
    }

    private let state = Mutex(State())

    /// - Parameters:
    ///   - bus: build events wake idle senders; without one they poll.
    ///   - metricsFactory: where `slipway_notifications_total` and
    ///     `slipway_notification_duration_seconds` go.
    public init(
        configuration: NotificationConfiguration, catalog: any Catalog, bus: (any EventBus)? = nil,
        logger: Logger = Logger(label: "slipway.notify"), metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.configuration = configuration
        self.catalog = catalog
        self.bus = bus
        self.logger = logger
        self.metrics = NotificationMetrics(factory: metricsFactory)
        self.dispatcherID = InstanceID.make()
    }

    /// Starts the senders, the wake-ups and the retention. Calling it again does nothing.
    /// - Throws: ``NotificationConfigurationError`` for an invalid configuration.
    public func start() throws(NotificationConfigurationError) {
        try configuration.validate()
        let started = state.withLock { state -> Bool in
            guard !state.started, !state.stopping else { return false }
            state.started = true
            // Everything in one step, so a shutdown sees all of it.
            let client = makeClient()
            state.client = client
            state.senders = (1...configuration.concurrency).map { index in
                Task { [self] in await senderLoop(senderID: "\(dispatcherID)-n\(index)", client: client) }
            }
            state.helpers = [Task { [self] in await pruneLoop() }]
            if let bus { state.helpers.append(Task { [self] in await listen(to: bus) }) }
            return true
        }
        guard started else { return }
        logger.info("notification senders started: \(configuration.concurrency) (dispatcher \(dispatcherID))")
    }

    /// Stops claiming, lets the attempts under way finish (each is bounded
    /// by the request timeout), then closes the HTTP client. A notification
    /// that was due stays due for the next start or another process.
    public func shutdown() async {
        let (senders, helpers, client) = state.withLock { state in
            state.stopping = true
            defer { state.client = nil }
            return (state.senders, state.helpers, state.client)
        }
        for helper in helpers { helper.cancel() }
        wakeSignal.wake()
        for task in senders + helpers { await task.value }
        do {
            try await client?.shutdown()
        } catch {
            logger.warning("closing the notification HTTP client failed: \(error)")
        }
        logger.info("notification senders stopped (dispatcher \(dispatcherID))")
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    /// This dispatcher's own client: no redirects, no decompression, every
    /// phase bounded by the request timeout, no retry of a failed connection
    /// (the retry policy decides about the next attempt).
    private func makeClient() -> HTTPClient {
        var http = HTTPClient.Configuration()
        http.redirectConfiguration = .disallow
        http.decompression = .disabled
        let limit = TimeAmount(configuration.requestTimeout)
        http.timeout = HTTPClient.Configuration.Timeout(connect: limit, read: limit, write: limit)
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(30))
        pool.retryConnectionEstablishment = false
        http.connectionPool = pool
        return HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: http, backgroundActivityLogger: logger
        )
    }

    // MARK: Senders

    private func senderLoop(senderID: String, client: HTTPClient) async {
        while !isStopping {
            let generation = wakeSignal.generation
            let claimed: ClaimedNotification?
            do {
                claimed = try await catalog.claimNotification(
                    owner: senderID, leaseDuration: configuration.leaseDuration)
            } catch {
                if isStopping { break }
                logger.warning("sender \(senderID) could not claim a notification: \(error)")
                await wakeSignal.wait(after: wakeSignal.generation, timeout: configuration.pollInterval)
                continue
            }
            guard let claimed else {
                await wakeSignal.wait(after: generation, timeout: await idleWait())
                continue
            }
            await deliver(claimed, senderID: senderID, client: client)
        }
    }

    /// Until the next notification falls due, at most the poll interval.
    private func idleWait() async -> Duration {
        guard let due = try? await catalog.nextNotificationDue() else { return configuration.pollInterval }
        let wait = Duration.milliseconds(Int64((due.timeIntervalSinceNow * 1000).rounded(.up)))
        return min(configuration.pollInterval, max(.milliseconds(20), wait))
    }

    /// One attempt at a claimed notification, recorded in the catalog.
    private func deliver(_ claimed: ClaimedNotification, senderID: String, client: HTTPClient) async {
        let delivery = claimed.delivery
        var metadata: Logger.Metadata = [
            "delivery": "\(delivery.id)", "build": "\(delivery.buildID)", "slug": "\(claimed.site.slug)",
            "url": "\(NotifyURL.redact(delivery.url))", "attempt": "\(delivery.attempts)",
        ]
        let result: NotificationAttemptResult
        do {
            let url = try NotifyURL(delivery.url)
            let maxAttempts = configuration.retry.maxAttempts
            if delivery.attempts > maxAttempts {
                // Senders died mid-attempt until no attempt was left.
                result = .gaveUp(
                    status: delivery.lastStatus,
                    error:
                        "gave up after \(maxAttempts) attempts; the last one: \(delivery.lastError ?? "no result was recorded")"
                )
            } else {
                result = await attempt(claimed, to: url, client: client)
            }
        } catch {
            result = .gaveUp(status: nil, error: "the notify URL cannot be used: \(error.message)")
        }
        metrics.count(result)
        switch result {
        case .delivered(let status):
            metadata["status"] = "\(status)"
            logger.info("notification delivered", metadata: metadata)
        case .retry(let delay, let status, let error):
            metadata["status"] = "\(status.map(String.init) ?? "none")"
            metadata["retry_in"] = "\(DurationText.format(delay))"
            metadata["error"] = "\(error)"
            logger.warning("notification not delivered; retrying", metadata: metadata)
        case .gaveUp(let status, let error):
            metadata["status"] = "\(status.map(String.init) ?? "none")"
            metadata["error"] = "\(error)"
            logger.error("notification given up", metadata: metadata)
        }
        do {
            _ = try await catalog.completeNotification(id: delivery.id, owner: senderID, result: result)
        } catch {
            // The lease lapses and the notification is tried again; a
            // receiver that already got it drops the repeat by its delivery id.
            metadata["error"] = "\(error)"
            logger.warning("the result of a notification attempt could not be recorded", metadata: metadata)
        }
    }

    /// Signs and sends the body; how it went, as the catalog records it.
    private func attempt(_ claimed: ClaimedNotification, to url: NotifyURL, client: HTTPClient) async
        -> NotificationAttemptResult
    {
        let delivery = claimed.delivery
        let secret: String
        let body: Data
        do {
            guard let stored = try await catalog.webhookSecret(siteID: delivery.siteID) else {
                return .gaveUp(
                    status: nil,
                    error:
                        "the deployment has no webhook secret to sign with; issue one (POST /api/deployments/{slug}/webhook-secret)"
                )
            }
            secret = stored
            body = try NotificationBody.encode(claimed, sentAt: Date(), urls: configuration.siteURLs)
        } catch {
            return .retry(
                after: configuration.retry.firstDelay, status: nil,
                error: "the notification could not be prepared: \(error)")
        }
        let sender = NotificationSender(
            client: client, timeout: configuration.requestTimeout, userAgent: configuration.userAgent)
        let started = ContinuousClock.now
        let attempt = await sender.send(
            body, to: url, delivery: delivery, signature: WebhookSecret.signature(of: body, secret: secret))
        metrics.time(ContinuousClock.now - started)
        var generator = SystemRandomNumberGenerator()
        return attempt.result(attempt: delivery.attempts, policy: configuration.retry, now: Date(), using: &generator)
    }

    // MARK: Wake-ups and retention

    /// Wakes idle senders when a build ends or is activated (its notification
    /// is written, or released, in that transaction).
    private func listen(to bus: any EventBus) async {
        for await delivery in bus.subscribe() {
            if isStopping { break }
            switch delivery {
            case .value(.buildChanged(let build)) where build.status.isFinal: wakeSignal.wake()
            case .value(.activated), .missed: wakeSignal.wake()
            default: continue
            }
        }
    }

    private func pruneLoop() async {
        while !isStopping {
            await pruneOnce()
            do { try await Task.sleep(for: configuration.pruneInterval) } catch { break }
        }
    }

    /// Deletes delivered and given-up notifications past their retention.
    private func pruneOnce() async {
        let now = Date()
        do {
            let pruned = try await catalog.pruneNotifications(
                deliveredBefore: now.addingTimeInterval(-DurationText.seconds(configuration.deliveredRetention)),
                gaveUpBefore: now.addingTimeInterval(-DurationText.seconds(configuration.gaveUpRetention)))
            if pruned > 0 { logger.info("retention deleted \(pruned) finished notifications") }
        } catch {
            if !isStopping { logger.warning("notification retention failed: \(error)") }
        }
    }
}
