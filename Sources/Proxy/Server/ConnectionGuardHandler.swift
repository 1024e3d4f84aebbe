import NIOCore

/// The first handler of every connection, on raw bytes: it enforces the
/// connection timeouts (`ConnectionTimeouts`).
///
/// The request handler, on the same event loop, calls ``requestReceived()``
/// when a request has been fully received and ``responseCompleted()`` when
/// a response has been completely written.
final class ConnectionGuardHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var timeouts: ConnectionTimeouts
    private let now: () -> NIODeadline
    private let onTimeout: (ConnectionTimeouts.Reason) -> Void
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var context: ChannelHandlerContext?

    /// - Parameters:
    ///   - now: the clock (tests inject one).
    ///   - onTimeout: told why a connection is closed (metrics).
    init(
        configuration: ConnectionTimeouts.Configuration,
        now: @escaping () -> NIODeadline = { .now() },
        onTimeout: @escaping (ConnectionTimeouts.Reason) -> Void = { _ in }
    ) {
        self.timeouts = ConnectionTimeouts(configuration: configuration, now: now())
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
        timeouts.bytesReceived(now: now())
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
