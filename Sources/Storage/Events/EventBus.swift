public import Foundation
public import Model

/// Publish/subscribe for what happens to sites and builds, and for build logs.
///
/// The catalog publishes ``CatalogEvent``s after each commit; the builder
/// publishes log lines. The proxy follows activations to keep its routing
/// table fresh, the admin API streams statuses and logs to clients.
///
/// Contract, for every implementation (in-process today, PostgreSQL
/// `LISTEN/NOTIFY` for scale-out):
/// - Publishing never blocks and never fails: a subscriber that falls behind
///   loses events, and learns it from a ``Delivery/missed(_:)`` element in
///   place of what it lost. It must then resynchronise (re-read the catalog).
/// - A subscription receives what is published after ``subscribe()``
///   returns, in publication order.
/// - A subscription ends when its consumer stops: the task iterating it is
///   cancelled, or the sequence and its iterator are dropped.
public protocol EventBus: Sendable {
    /// Delivers `event` to every current subscriber.
    func publish(_ event: CatalogEvent)

    /// Every event published from now on. Iterate it from one task.
    func subscribe() -> BusSubscription<CatalogEvent>

    /// Adds a line to the build's live log. Lines after ``closeLog(buildID:)`` are ignored.
    /// Costs the same however many lines the log already has (a build may
    /// print millions): never a copy of the lines kept for replay.
    func appendLog(_ line: LogLine, buildID: BuildID)

    /// Ends the build's live log: its subscriptions finish once they have
    /// delivered what they hold. The builder calls it when a build ends.
    func closeLog(buildID: BuildID)

    /// The build's log: the lines kept so far (a ``Delivery/missed(_:)`` first
    /// when older lines were dropped to bound memory), then new lines as they
    /// come; it finishes when the log is closed. For a closed log it replays
    /// what is still held and finishes at once (the persisted log in the
    /// object store is the complete record).
    func subscribeLog(buildID: BuildID) -> BusSubscription<LogLine>
}

/// Something that changed in the catalog.
public enum CatalogEvent: Sendable, Hashable {
    case siteCreated(Site)
    case siteUpdated(Site)
    /// The site and all its builds are gone.
    case siteDeleted(Site)
    /// A build's status or recorded details changed (lease renewals are not events).
    case buildChanged(Build)
    /// A site now serves another build.
    case activated(Activation)
    /// A custom domain was added or its state or certificate changed.
    case domainChanged(CustomDomain)
    /// A custom domain was removed: proxies stop routing it and drop its certificate.
    case domainRemoved(CustomDomain)

    /// The site the event is about.
    public var siteID: SiteID {
        switch self {
        case .siteCreated(let site), .siteUpdated(let site), .siteDeleted(let site): site.id
        case .buildChanged(let build): build.siteID
        case .activated(let activation): activation.siteID
        case .domainChanged(let domain), .domainRemoved(let domain): domain.siteID
        }
    }
}

/// A site's active build changed.
public struct Activation: Sendable, Hashable, Codable {
    public let siteID: SiteID
    public let buildID: BuildID
    public let buildNumber: Int
    /// The build active before; nil for a site's first activation.
    public let previousBuildID: BuildID?

    public init(siteID: SiteID, buildID: BuildID, buildNumber: Int, previousBuildID: BuildID?) {
        self.siteID = siteID
        self.buildID = buildID
        self.buildNumber = buildNumber
        self.previousBuildID = previousBuildID
    }
}

/// One line of a build's log.
public struct LogLine: Sendable, Hashable, Codable {
    /// Where a line came from.
    public enum Stream: String, Sendable, Hashable, Codable {
        case stdout
        case stderr
        /// Slipway's own account of the build's steps.
        case system
    }

    public let timestamp: Date
    public let stream: Stream
    /// The text without its line break. Secret values must already be masked.
    public let text: String

    public init(timestamp: Date, stream: Stream, text: String) {
        self.timestamp = timestamp
        self.stream = stream
        self.text = text
    }
}

/// An element of a subscription: a value, or how many values were lost here.
public enum Delivery<Value: Sendable>: Sendable {
    case value(Value)
    /// `count` values were not delivered at this point in the sequence: the
    /// subscriber was too slow, or old log lines were dropped.
    case missed(Int)
}

extension Delivery: Equatable where Value: Equatable {}
extension Delivery: Hashable where Value: Hashable {}

/// The values of one subscription, as an `AsyncSequence` that never throws.
///
/// Iterate it from one task. It ends when the bus ends it (a closed log) or
/// when its consumer stops: cancelling the iterating task ends it at once,
/// and dropping the sequence and its iterators unsubscribes.
public struct BusSubscription<Value: Sendable>: AsyncSequence, Sendable {
    public typealias Element = Delivery<Value>
    public typealias Failure = Never

    private let source: Source

    /// A subscription over an implementation's own queue.
    /// - Parameters:
    ///   - next: the next element, waiting for one; nil once the subscription
    ///     ended. It must return nil promptly when the calling task is cancelled.
    ///   - onTermination: called once, when the subscription and every
    ///     iterator made from it are gone; release the queue here.
    public init(
        next: @escaping @Sendable () async -> Delivery<Value>?,
        onTermination: @escaping @Sendable () -> Void
    ) {
        self.source = Source(next: next, onTermination: onTermination)
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: source) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = Delivery<Value>
        public typealias Failure = Never

        fileprivate let source: Source

        public mutating func next() async -> Delivery<Value>? { await source.next() }
    }

    /// Ties the subscription's lifetime to the values that can still read it.
    fileprivate final class Source: Sendable {
        let next: @Sendable () async -> Delivery<Value>?
        private let onTermination: @Sendable () -> Void

        init(next: @escaping @Sendable () async -> Delivery<Value>?, onTermination: @escaping @Sendable () -> Void) {
            self.next = next
            self.onTermination = onTermination
        }

        deinit { onTermination() }
    }
}
