import NIOCore

/// When a connection must be closed for taking too long, as a value-type
/// state machine with the time passed in, so it is tested without a channel
/// and without sleeping. `ConnectionStateMachine` holds it.
///
/// ```
///            bytes arrive              request fully received
///   idle ───────────────▶ readingRequest ───────────────▶ inFlight
///    ▲                                                        │
///    └─────────────── last response completed ◀──────────────┘
/// ```
/// - `readingRequest` (also the state of a brand-new connection) ends at the
///   header-read timeout: a client trickling its request (slowloris) or
///   connecting and sending nothing is closed.
/// - `idle` is a keep-alive connection between requests, closed at the
///   idle timeout.
/// - `inFlight` has no read deadline: the response is bounded by the
///   upstream timeouts. Pipelined requests that arrive meanwhile are counted,
///   and the connection stays in flight until every one is answered.
/// - Independently, a connection whose channel stays unwritable (the client
///   stopped reading) for the write-idle timeout is closed.
struct ConnectionTimeouts {
    struct Configuration: Sendable, Hashable {
        var headerRead: TimeAmount
        var idle: TimeAmount
        var writeIdle: TimeAmount
    }

    enum Phase: Sendable, Hashable {
        case idle(since: NIODeadline)
        case readingRequest(since: NIODeadline)
        case inFlight
    }

    /// Why a connection is closed.
    enum Reason: String, Sendable, Hashable {
        case headerTimeout = "header_timeout"
        case idleTimeout = "idle_timeout"
        case writeTimeout = "write_timeout"
    }

    enum Action: Sendable, Hashable {
        /// Nothing is due; check again at the deadline, if any.
        case wait(until: NIODeadline?)
        case close(Reason)
    }

    let configuration: Configuration
    private(set) var phase: Phase
    /// Requests received and not yet answered (more than one when pipelined).
    private(set) var outstanding = 0
    /// Bytes arrived since the last request was received: the start of a
    /// pipelined request, which is being read once the responses are done.
    private var bytesSinceLastRequest = false
    private var unwritableSince: NIODeadline?

    /// A connection accepted at `now`: it must send a whole request within the header-read timeout.
    init(configuration: Configuration, now: NIODeadline) {
        self.configuration = configuration
        self.phase = .readingRequest(since: now)
    }

    /// Records bytes arriving.
    /// - Returns: true when they start a new request on an idle connection.
    @discardableResult
    mutating func bytesReceived(now: NIODeadline) -> Bool {
        switch phase {
        case .idle:
            phase = .readingRequest(since: now)
            return true
        case .readingRequest:
            return false
        case .inFlight:
            bytesSinceLastRequest = true
            return false
        }
    }

    mutating func requestReceived() {
        outstanding += 1
        bytesSinceLastRequest = false
        phase = .inFlight
    }

    mutating func responseCompleted(now: NIODeadline) {
        outstanding = max(0, outstanding - 1)
        guard outstanding == 0 else { return }
        phase = bytesSinceLastRequest ? .readingRequest(since: now) : .idle(since: now)
        bytesSinceLastRequest = false
    }

    mutating func writabilityChanged(isWritable: Bool, now: NIODeadline) {
        if isWritable {
            unwritableSince = nil
        } else if unwritableSince == nil {
            unwritableSince = now
        }
    }

    /// The earliest moment something may be due.
    var nextDeadline: NIODeadline? {
        let read: NIODeadline? =
            switch phase {
            case .idle(let since): since + configuration.idle
            case .readingRequest(let since): since + configuration.headerRead
            case .inFlight: nil
            }
        let write = unwritableSince.map { $0 + configuration.writeIdle }
        switch (read, write) {
        case (let read?, let write?): return min(read, write)
        case (let read?, nil): return read
        case (nil, let write?): return write
        case (nil, nil): return nil
        }
    }

    /// What to do when a timer fires at `now`.
    func check(now: NIODeadline) -> Action {
        if let unwritableSince, now >= unwritableSince + configuration.writeIdle { return .close(.writeTimeout) }
        switch phase {
        case .idle(let since) where now >= since + configuration.idle: return .close(.idleTimeout)
        case .readingRequest(let since) where now >= since + configuration.headerRead: return .close(.headerTimeout)
        default: return .wait(until: nextDeadline)
        }
    }
}
