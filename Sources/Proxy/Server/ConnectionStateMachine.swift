import NIOCore

/// One edge connection as a value-type state machine: what arrives (bytes,
/// complete requests, the client's half-close, the server's shutdown, the
/// socket's writability, the timer) goes in with the time, and what the
/// handler must do comes out. It decides, and the handler
/// (``ProxyRequestHandler``) only carries out:
///
/// - **Order**: one answer at a time, in the order requests arrived. A
///   request that arrives (pipelined) while another is being answered waits
///   in ``waiting``; each answer that ends hands out the next.
/// - **Backpressure**: no more bytes are read from the socket while an
///   answer is in progress or requests wait (``read()``), so a pipelining
///   client cannot make the connection hold more than one read's worth.
/// - **Ending**: a request that closes the connection (`Connection: close`,
///   HTTP/1.0 without keep-alive, a refused one), the client's half-close and
///   the server's shutdown all stop reading; the connection closes once what
///   was received has been answered, at once when nothing was.
/// - **Timeouts** (``ConnectionTimeouts``): the header-read timeout while a
///   request is being received (slowloris), the idle timeout between
///   requests, the write-idle timeout while the client takes nothing.
///
/// `Pending` is what the handler keeps for a request until it is answered.
struct ConnectionStateMachine<Pending> {
    /// What to do with a request that was received whole.
    enum RequestAction {
        /// Answer it now.
        case answer(Pending)
        /// It waits behind the answer in progress.
        case wait
    }

    /// What to do once an answer has been written to the end.
    enum AnswerEndAction {
        /// Answer this one, the next that waited.
        case answer(Pending)
        /// Read again: a read was held back while the answer went out.
        case read
        /// Close the connection once the answer's last byte has left.
        case close
        /// Nothing: wait for the client's next request.
        case none
    }

    /// Whether to read from the socket when the channel asks.
    enum ReadAction: Equatable {
        case read
        /// Held back until the answers are out (or never, once input ended).
        case hold
    }

    /// What to do when reading ends (the client half-closed, the server is
    /// shutting down).
    enum InputEndAction: Equatable {
        /// Nothing is pending: close now.
        case close
        /// Close once the pending answers are out.
        case none
    }

    private(set) var timeouts: ConnectionTimeouts
    /// An answer is being written.
    private(set) var isAnswering = false
    /// Requests received while another was being answered, in order.
    private(set) var waiting = CircularBuffer<Pending>()
    /// Requests are still read from this connection.
    private(set) var isReadingInput = true
    /// A read the channel asked for was held back.
    private(set) var readHeld = false
    private(set) var isClosed = false

    /// A connection accepted at `now`.
    init(timeouts: ConnectionTimeouts.Configuration, now: NIODeadline) {
        self.timeouts = ConnectionTimeouts(configuration: timeouts, now: now)
    }

    /// Nothing is being answered and nothing waits: a request received now
    /// is answered at once.
    var isIdle: Bool { !isAnswering && waiting.isEmpty }

    /// Whether the answer being written is the connection's last: its head
    /// says `Connection: close`.
    var closesAfterAnswer: Bool { !isReadingInput && waiting.isEmpty }

    /// The moment the timer must fire next, if any.
    var nextDeadline: NIODeadline? { isClosed ? nil : timeouts.nextDeadline }

    // MARK: Events

    /// The connection is accepted, at `now` (its header-read timeout starts).
    mutating func activated(now: NIODeadline) {
        timeouts = ConnectionTimeouts(configuration: timeouts.configuration, now: now)
    }

    /// Bytes arrived. Bytes arriving after reading ended are ignored.
    /// - Returns: whether they are to be parsed.
    mutating func bytesReceived(now: NIODeadline) -> Bool {
        guard isReadingInput, !isClosed else { return false }
        timeouts.bytesReceived(now: now)
        return true
    }

    /// A request was received whole (or refused: `closesConnection`).
    /// - Parameter closesConnection: nothing after it is read (`Connection:
    ///   close`, HTTP/1.0 without keep-alive, a refusal, a body left unread).
    mutating func requestReceived(_ pending: Pending, closesConnection: Bool) -> RequestAction {
        timeouts.requestReceived()
        if closesConnection { isReadingInput = false }
        guard isIdle else {
            waiting.append(pending)
            return .wait
        }
        isAnswering = true
        return .answer(pending)
    }

    /// The answer in progress was written to the end, at `now`.
    mutating func answerEnded(now: NIODeadline) -> AnswerEndAction {
        guard isAnswering else { return .none }
        isAnswering = false
        timeouts.responseCompleted(now: now)
        if let next = waiting.popFirst() {
            isAnswering = true
            return .answer(next)
        }
        if !isReadingInput { return .close }
        if readHeld {
            readHeld = false
            return .read
        }
        return .none
    }

    /// The channel asks for more bytes.
    mutating func read() -> ReadAction {
        guard isReadingInput, !isClosed else { return .hold }
        guard isIdle else {
            readHeld = true
            return .hold
        }
        return .read
    }

    /// The client half-closed its side: what was received is answered, then the connection closes.
    mutating func inputClosed() -> InputEndAction {
        endInput()
    }

    /// The server is shutting down: the same, so that no request is cut off.
    mutating func quiesce() -> InputEndAction {
        endInput()
    }

    private mutating func endInput() -> InputEndAction {
        isReadingInput = false
        return isIdle && !isClosed ? .close : .none
    }

    /// The answer in progress is the last: the request showed something
    /// that says nothing good about what follows it on the connection. No
    /// more is read, and what waited is dropped unanswered.
    mutating func endAfterAnswer() {
        isReadingInput = false
        waiting.removeAll()
    }

    mutating func writabilityChanged(isWritable: Bool, now: NIODeadline) {
        timeouts.writabilityChanged(isWritable: isWritable, now: now)
    }

    /// The timer fired at `now`.
    func timerFired(now: NIODeadline) -> ConnectionTimeouts.Action {
        isClosed ? .wait(until: nil) : timeouts.check(now: now)
    }

    /// The connection is gone: nothing waits any more.
    /// - Returns: what was still waiting (dropped).
    @discardableResult
    mutating func closed() -> Int {
        isClosed = true
        isReadingInput = false
        isAnswering = false
        let dropped = waiting.count
        waiting.removeAll()
        return dropped
    }
}
