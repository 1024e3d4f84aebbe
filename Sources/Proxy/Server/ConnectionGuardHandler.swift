import NIOCore
import NIOHTTP1

/// The first handler of every connection, on raw bytes: it enforces the
/// connection timeouts (`ConnectionTimeouts`) and the request-line limit
/// before the HTTP parser has to buffer an overlong line.
///
/// The request handler, on the same event loop, calls ``requestReceived()``
/// when a request has been fully received and ``responseCompleted()`` when
/// a response has been completely written. An overlong request line is
/// reported as `RequestLineTooLong` followed by
/// `HTTPParserError.headerOverflow`, so that the request handler answers 414
/// in order with any pipelined responses, then closes.
final class ConnectionGuardHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Fired inbound when the request line is over the limit, just before the error.
    struct RequestLineTooLong: Sendable {}

    private var timeouts: ConnectionTimeouts
    private let maxRequestLineBytes: Int
    private let now: () -> NIODeadline
    private let onTimeout: (ConnectionTimeouts.Reason) -> Void
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    /// Bytes of the current request line seen so far; nil when not watching
    /// (the line ended, or the request started while another was answered).
    private var requestLineBytes: Int? = 0
    private var rejected = false
    private var context: ChannelHandlerContext?

    /// - Parameters:
    ///   - now: the clock (tests inject one).
    ///   - onTimeout: told why a connection is closed (metrics).
    init(
        configuration: ConnectionTimeouts.Configuration, maxRequestLineBytes: Int,
        now: @escaping () -> NIODeadline = { .now() },
        onTimeout: @escaping (ConnectionTimeouts.Reason) -> Void = { _ in }
    ) {
        self.timeouts = ConnectionTimeouts(configuration: configuration, now: now())
        self.maxRequestLineBytes = maxRequestLineBytes
        self.now = now
        self.onTimeout = onTimeout
    }

    func channelActive(context: ChannelHandlerContext) {
        timeouts = ConnectionTimeouts(configuration: timeouts.configuration, now: now())
        rearm(context: context)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { rearm(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if rejected { return } // the connection is being closed; nothing more is parsed
        let buffer = unwrapInboundIn(data)
        if timeouts.bytesReceived(now: now()) { requestLineBytes = 0 }
        if let seen = requestLineBytes {
            let view = buffer.readableBytesView
            let length: Int
            if let lineFeed = view.firstIndex(of: UInt8(ascii: "\n")) {
                length = seen + (lineFeed - view.startIndex)
                requestLineBytes = nil
            } else {
                length = seen + view.count
                requestLineBytes = length
            }
            // One byte of slack for the CR before the LF.
            if length > maxRequestLineBytes + 1 {
                rejected = true
                context.fireUserInboundEventTriggered(RequestLineTooLong())
                context.fireErrorCaught(HTTPParserError.headerOverflow)
                return
            }
        }
        rearm(context: context)
        context.fireChannelRead(data)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        timeouts.writabilityChanged(isWritable: context.channel.isWritable, now: now())
        rearm(context: context)
        context.fireChannelWritabilityChanged()
    }

    /// A request (head, body and end) has been received.
    func requestReceived() {
        timeouts.requestReceived()
        if let context { rearm(context: context) }
    }

    /// A response has been written to the end.
    func responseCompleted() {
        timeouts.responseCompleted(now: now())
        // A new request starting on a clean boundary: watch its first line.
        if case .idle = timeouts.phase { requestLineBytes = 0 } else { requestLineBytes = nil }
        if let context { rearm(context: context) }
    }

    // MARK: Timer

    /// Makes sure a timer fires no later than the next deadline. A timer
    /// that fires early just re-checks and re-arms, so moving a deadline
    /// later never needs a new timer.
    private func rearm(context: ChannelHandlerContext) {
        guard let next = timeouts.nextDeadline else { return }
        if let timerDeadline, timerDeadline <= next { return }
        timer?.cancel()
        timerDeadline = next
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: next) { [self] in
            timer = nil
            timerDeadline = nil
            switch timeouts.check(now: now()) {
            case .wait:
                rearm(context: context)
            case .close(let reason):
                onTimeout(reason)
                context.close(promise: nil)
            }
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }
}
