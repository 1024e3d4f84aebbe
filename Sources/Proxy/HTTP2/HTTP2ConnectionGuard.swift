import NIOCore
import NIOHTTP2

/// Watches an HTTP/2 connection as a whole, after swift-nio-http2's handler:
///
/// - a connection with no open stream for the idle timeout (including one
///   that never opens a stream) gets a GOAWAY and is closed;
/// - when the server shuts down (`ChannelShouldQuiesceEvent`) it sends a
///   GOAWAY naming the last stream it took, lets the open streams finish,
///   and closes once none is left;
/// - a connection error (a protocol violation, a flood over a limit of
///   ``ProxyConfiguration/HTTP2``) closes the connection once
///   swift-nio-http2 has sent its GOAWAY; a stream's error only ends that
///   stream.
///
/// It learns of streams through ``delegate``, given to swift-nio-http2.
final class HTTP2ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let idleTimeout: TimeAmount
    private let onIdle: () -> Void
    private var context: ChannelHandlerContext?
    private var openStreams = 0
    private var lastStreamID = HTTP2StreamID(0)
    private var idleTimer: Scheduled<Void>?
    private var quiescing = false

    /// - Parameter onIdle: told when the connection is closed for being idle (metrics).
    init(idleTimeout: TimeAmount, onIdle: @escaping () -> Void = {}) {
        self.idleTimeout = idleTimeout
        self.onIdle = onIdle
    }

    /// What swift-nio-http2 tells of streams opening and closing.
    func delegate(on eventLoop: any EventLoop) -> Delegate {
        Delegate(connection: NIOLoopBound(self, eventLoop: eventLoop))
    }

    struct Delegate: NIOHTTP2StreamDelegate {
        let connection: NIOLoopBound<HTTP2ConnectionGuard>

        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
            connection.value.streamCreated(id)
        }

        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
            connection.value.streamClosed(id)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        startIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !quiescing {
            quiescing = true
            goAway(context)
            if openStreams == 0 { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // swift-nio-http2 has already sent what the error calls for (a
        // GOAWAY, or a RST_STREAM) and leaves closing to its user. A stream
        // opened after a GOAWAY (refused) or a frame for a stream already
        // closed ends only that stream; any
        // other error (a protocol violation, a malformed header block, a
        // flood over a limit, the transport failing) ends the connection,
        // as HTTP/1.1 closes after a request it cannot read.
        if !Self.endsOnlyItsStream(error) {
            closeAfterFlush(context)
        }
        context.fireErrorCaught(error)
    }

    static func endsOnlyItsStream(_ error: any Error) -> Bool {
        error is NIOHTTP2Errors.StreamError || error is NIOHTTP2Errors.StreamClosed
    }

    /// Closes once what swift-nio-http2 wrote so far (a GOAWAY, the last
    /// frames of a stream) has been flushed, on the next tick.
    private func closeAfterFlush(_ context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().execute {
            context.flush()
            context.close(promise: nil)
        }
    }

    private func streamCreated(_ id: HTTP2StreamID) {
        openStreams += 1
        if id > lastStreamID { lastStreamID = id }
        idleTimer?.cancel()
        idleTimer = nil
    }

    private func streamClosed(_ id: HTTP2StreamID) {
        openStreams -= 1
        guard openStreams == 0 else { return }
        if quiescing {
            // The stream's last frames may still be on their way down.
            if let context { closeAfterFlush(context) }
        } else {
            startIdleTimer()
        }
    }

    private func startIdleTimer() {
        guard let context, idleTimer == nil else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) { [self] in
            idleTimer = nil
            guard openStreams == 0, let context = self.context else { return }
            onIdle()
            goAway(context)
            context.close(promise: nil)
        }
    }

    private func goAway(_ context: ChannelHandlerContext) {
        let frame = HTTP2Frame(
            streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
