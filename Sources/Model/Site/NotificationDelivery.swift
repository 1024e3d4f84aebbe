public import Foundation

/// One notification in the catalog's outbox: a `build.finished` POST owed to
/// a deployment's notify URL.
///
/// The catalog writes it in the same transaction that ends the build
/// (success, failure — the sweep's giving up included —, cancel), so a build
/// never ends without its notification, and a notification never exists for
/// a build that did not end. A sender claims it with a lease, exactly as a
/// worker claims a build, attempts it and records the result; the retry
/// policy (when to try again, when to give up) is the sender's.
///
/// ```
/// pending ──claim──▶ (leased) ──▶ delivered | gave up
///    ▲                   │
///    └── retry later ────┘   (or the lease lapses: the sender died)
/// ```
public struct NotificationDelivery: Sendable, Hashable, Identifiable {
    /// Where a delivery is in its life.
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// Waiting for its first or next attempt, or being attempted (leased).
        case pending
        /// A 2xx answer arrived. Final.
        case delivered
        /// Refused for good or out of attempts. Final.
        case gaveUp = "gave_up"
    }

    /// The only event there is so far.
    public static let buildFinished = "build.finished"

    /// How long a successful build's notification waits for the activation
    /// that follows it (which releases it at once, live or not), so the
    /// receiver hears about a build that is live rather than one about to
    /// be. Only a worker dying between the two makes it wait this long.
    public static let activationWait: Duration = .seconds(60)

    /// The delivery id: stable across retries, sent as `X-Slipway-Delivery`
    /// so receivers can drop duplicates. 26 characters like a ``BuildID``.
    public let id: String
    public let siteID: SiteID
    public let buildID: BuildID
    /// ``buildFinished``.
    public let event: String
    /// The deployment's notify URL when the build ended.
    public let url: String
    /// The build as it ended (kept here: retention may delete its row first).
    public let build: Build
    public package(set) var state: State
    /// Attempts started so far, the current one included.
    public package(set) var attempts: Int
    public let createdAt: Date
    /// Not attempted before this.
    public package(set) var nextAttemptAt: Date
    /// The sender working on it, until it records a result or its lease lapses.
    public package(set) var leaseOwner: String?
    public package(set) var leaseExpiresAt: Date?
    public package(set) var lastAttemptAt: Date?
    /// The HTTP status of the last answer, if one came.
    public package(set) var lastStatus: Int?
    /// Why the last attempt did not deliver it.
    public package(set) var lastError: String?
    /// When it was delivered or given up.
    public package(set) var finishedAt: Date?

    public init(
        id: String, siteID: SiteID, buildID: BuildID, event: String, url: String, build: Build, state: State,
        attempts: Int, createdAt: Date, nextAttemptAt: Date, leaseOwner: String?, leaseExpiresAt: Date?,
        lastAttemptAt: Date?, lastStatus: Int?, lastError: String?, finishedAt: Date?
    ) {
        self.id = id
        self.siteID = siteID
        self.buildID = buildID
        self.event = event
        self.url = url
        self.build = build
        self.state = state
        self.attempts = attempts
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.lastAttemptAt = lastAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.finishedAt = finishedAt
    }
}

/// A delivery a sender claimed, with its deployment as it is now (slug,
/// active build) for the payload.
public struct ClaimedNotification: Sendable, Hashable {
    public let delivery: NotificationDelivery
    public let site: Site

    public init(delivery: NotificationDelivery, site: Site) {
        self.delivery = delivery
        self.site = site
    }
}

/// How one attempt at a delivery ended, as its sender decided.
public enum NotificationAttemptResult: Sendable, Hashable {
    /// The receiver answered 2xx.
    case delivered(status: Int)
    /// Try again after `delay`; `status` is the answer's, if one came.
    case retry(after: Duration, status: Int?, error: String)
    /// Stop: refused for good, or out of attempts.
    case gaveUp(status: Int?, error: String)
}
