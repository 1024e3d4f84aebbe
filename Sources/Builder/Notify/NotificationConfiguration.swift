public import Model
import Storage

/// How the notification dispatcher sends deployments' `build.finished`
/// notifications, as a typed value (the `slipway` executable fills it from
/// `SLIPWAY_NOTIFY_*`).
public struct NotificationConfiguration: Sendable, Hashable {
    /// Where sites answer: the payload's `deployment.url` and `build.previewUrl`.
    public var siteURLs: SiteURLs
    /// Notifications sent at once by this process.
    public var concurrency: Int
    /// Limit of one attempt: connecting, sending, and reading the answer.
    public var requestTimeout: Duration
    /// When to try again and when to give up.
    public var retry: NotificationRetryPolicy
    /// How often idle senders look for due notifications when no build event woke them.
    public var pollInterval: Duration
    /// A sender's claim on a notification; it must outlast ``requestTimeout``.
    public var leaseDuration: Duration
    /// Delivered notifications are deleted from the catalog after this.
    public var deliveredRetention: Duration
    /// Given-up notifications are deleted after this (kept longer, for diagnosis).
    public var gaveUpRetention: Duration
    /// How often the retention runs.
    public var pruneInterval: Duration
    /// The `User-Agent` header (`Slipway/<version>`).
    public var userAgent: String

    public init(
        siteURLs: SiteURLs,
        concurrency: Int = 4,
        requestTimeout: Duration = .seconds(10),
        retry: NotificationRetryPolicy = NotificationRetryPolicy(),
        pollInterval: Duration = .seconds(5),
        leaseDuration: Duration = .seconds(60),
        deliveredRetention: Duration = .seconds(7 * 86_400),
        gaveUpRetention: Duration = .seconds(30 * 86_400),
        pruneInterval: Duration = .seconds(3_600),
        userAgent: String = "Slipway"
    ) {
        self.siteURLs = siteURLs
        self.concurrency = concurrency
        self.requestTimeout = requestTimeout
        self.retry = retry
        self.pollInterval = pollInterval
        self.leaseDuration = leaseDuration
        self.deliveredRetention = deliveredRetention
        self.gaveUpRetention = gaveUpRetention
        self.pruneInterval = pruneInterval
        self.userAgent = userAgent
    }

    /// Throws when a setting makes no sense, naming it.
    public func validate() throws(NotificationConfigurationError) {
        func invalid(_ message: String) -> NotificationConfigurationError {
            NotificationConfigurationError(message: "invalid notification setting: \(message)")
        }
        if concurrency < 1 { throw invalid("SLIPWAY_NOTIFY_CONCURRENCY is \(concurrency); give 1 or more") }
        if requestTimeout <= .zero { throw invalid("SLIPWAY_NOTIFY_TIMEOUT must be positive") }
        if leaseDuration <= requestTimeout {
            throw invalid("the lease (\(leaseDuration)) must outlast the request timeout (\(requestTimeout))")
        }
        if pollInterval <= .zero || pruneInterval <= .zero {
            throw invalid("the poll and prune intervals must be positive")
        }
        if deliveredRetention < .zero || gaveUpRetention < .zero {
            throw invalid("SLIPWAY_NOTIFY_RETENTION must be 0 or more")
        }
        if userAgent.isEmpty || userAgent.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value > 0x7e }) {
            throw invalid("the User-Agent must be printable ASCII")
        }
        try retry.validate()
    }
}

/// A notification setting that cannot be used.
public struct NotificationConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
