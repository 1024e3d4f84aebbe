import Logging
import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The handler of one HTTP/2 stream: one request, one answer. It reads the
/// request from the stream's frames (``HTTP2Request``), runs it through the
/// same serving as HTTP/1.1 (``ExchangeResponder``) and writes the answer
/// as a HEADERS frame and DATA frames. Body bytes go out as the stream's
/// flow-control window and the connection take them: the stream channel
/// turns unwritable when the client stops granting window, and the body
/// waits, a slice at most beyond the stream's buffer.
///
/// A stream must send its whole request within the header-read timeout,
/// and a stream whose client stops taking bytes (a window left at zero)
/// for the write-idle timeout is reset; the connection itself is watched
/// by ``HTTP2ConnectionGuard``.
final class HTTP2StreamHandler: ChannelDuplexHandler, ExchangeResponder {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    let services: ProxyServices
    let now: () -> NIODeadline
    /// A `FileRegion` cannot pass through HTTP/2 framing nor TLS.
    let fileDelivery = FileDelivery.buffers
    /// HTTP/2 is only offered over TLS (ALPN `h2`).
    let isSecure = true
    var context: ChannelHandlerContext!
    var exchange: Exchange?
    private let timeouts: ConnectionTimeouts.Configuration
    /// The connection's client, shared by its streams.
    private let connection: EdgeConnection?
    private let onTimeout: (ConnectionTimeouts.Reason) -> Void

    private enum State {
        /// Waiting for the request's HEADERS.
        case awaitingHead
        /// The head arrived; its body (counted) is still coming.
        case receivingBody(IncomingRequest, bytes: Int)
        /// The whole request arrived; it is being answered.
        case answering
        /// Answered before the request ended (refused): what still comes is dropped.
        case answeringEarly
        case done
    }

    private var state = State.awaitingHead
    /// The head of the answer, written with its first body bytes, or with
    /// END_STREAM when the answer has none.
    private var pendingHead: HPACKHeaders?
    private var timer: Scheduled<Void>?
    private var unwritableSince: NIODeadline?

    init(
        services: ProxyServices, timeouts: ConnectionTimeouts.Configuration, connection: EdgeConnection? = nil,
        now: @escaping () -> NIODeadline = { .now() },
        onTimeout: @escaping (ConnectionTimeouts.Reason) -> Void = { _ in }
    ) {
        self.services = services
        self.connection = connection
        self.timeouts = timeouts
        self.now = now
        self.onTimeout = onTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // The whole request must arrive within the header-read timeout.
        arm(.headerTimeout, at: now() + timeouts.headerRead)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        abandon()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The stream ended or was reset (RST_STREAM, the connection closed).
        abandon()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream error (a malformed frame, a reset): the stream is over.
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            switch state {
            case .awaitingHead:
                switch HTTP2Request.make(headers.headers, limits: services.intakeLimits) {
                case .success(let request):
                    if headers.endStream {
                        received(request)
                    } else {
                        state = .receivingBody(request, bytes: 0)
                    }
                case .failure(let refusal):
                    refuse(refusal.kind, method: refusal.method)
                }
            case .receivingBody(let request, _) where headers.endStream:
                // Trailers end the request; they change nothing in an answer.
                received(request)
            case .receivingBody, .answering, .answeringEarly, .done:
                break
            }
        case .data(let data):
            guard case .receivingBody(var request, let bytes) = state else { return }
            let total = bytes + data.data.readableBytes
            let (limit, keeps) = services.intakeLimits.bodyLimit(method: request.method, target: request.target)
            if total > limit {
                refuse(.payloadTooLarge, method: request.method)
                return
            }
            if keeps, case .byteBuffer(var bytes) = data.data {
                // The sign-in form of a protected site: the one body kept.
                var body = request.body ?? ByteBuffer()
                body.writeBuffer(&bytes)
                request.body = body
            }
            if data.endStream {
                received(request)
            } else {
                state = .receivingBody(request, bytes: total)
            }
        default:
            break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // While answering, a stream that stays unwritable (the client
        // grants no window) for the write-idle timeout is reset.
        if exchange != nil {
            if context.channel.isWritable {
                if unwritableSince != nil {
                    unwritableSince = nil
                    cancelTimer()
                }
            } else if unwritableSince == nil {
                let since = now()
                unwritableSince = since
                arm(.writeTimeout, at: since + timeouts.writeIdle)
            }
        }
        resumeBody()
        context.fireChannelWritabilityChanged()
    }

    // MARK: Answering

    private func received(_ request: IncomingRequest) {
        state = .answering
        cancelTimer()
        var request = request
        var retryAfter: Duration?
        let clients = services.clients
        if let connection, clients.needsRequestWork(connection) {
            // A stream is a request: its client, and its token of the rate limit.
            let client = clients.client(of: connection, connectionIsSecure: true) { request.headers[$0] }
            request.take(client)
            retryAfter = client.retryAfter
        } else {
            request.clientAddress = connection?.clientAddress ?? "-"
            request.isSecure = true
        }
        let exchange = Exchange(request: request, startedAt: now(), closeAfter: false)
        exchange.client = request.clientAddress
        self.exchange = exchange
        if let retryAfter, let limiter = clients.rateLimiter {
            services.metrics.requestRateLimited()
            execute(TooManyRequests.rateLimited(retryAfter: retryAfter, limiter: limiter), exchange)
            return
        }
        serve(exchange)
    }

    /// Answers a request refused before it ended (or could be read) with
    /// its page; the rest of it is not read.
    private func refuse(_ kind: SlipwayPages.Kind, method: HTTPMethod) {
        services.metrics.requestRejected(kind)
        state = .answeringEarly
        cancelTimer()
        var request = IncomingRequest(
            method: method, target: "/", host: "", headers: [:], version: Self.version, isKeepAlive: true)
        request.clientAddress = connection?.clientAddress ?? "-"
        request.isSecure = true
        let exchange = Exchange(request: request, startedAt: now(), closeAfter: true)
        exchange.client = request.clientAddress
        self.exchange = exchange
        execute(services.pipeline.page(services.pipeline.pages.page(kind), isPreview: false), exchange)
    }

    static let version = HTTPVersion(major: 2, minor: 0)

    func writeHead(
        _ exchange: Exchange, status: HTTPResponseStatus, headers: HTTPHeaders, contentLength: Int?, cacheHit: Bool
    ) {
        exchange.status = Int(status.code)
        exchange.headSent = true
        let (head, dropped) = HTTP2ResponseHead.make(
            status: status, headers: headers, contentLength: contentLength, cacheHit: cacheHit,
            date: services.loopStates.current.endings.date(),
            strictTransportSecurity: exchange.isSecure ? services.strictTransportSecurity : nil)
        warnDropped(dropped, exchange)
        pendingHead = head
    }

    func writeBody(_ bytes: IOData) {
        if let head = pendingHead {
            pendingHead = nil
            context.write(wrapOutboundOut(.headers(.init(headers: head))), promise: nil)
        }
        context.write(wrapOutboundOut(.data(.init(data: bytes))), promise: nil)
    }

    func endsConnection(_ exchange: Exchange) {
        // The stream ends with its answer; the connection serves others.
    }

    func answered(_ exchange: Exchange, build: ServedBuild, manifest: LoadedManifest, siteTableVersion: UInt64) {
        // Prepared answers are raw HTTP/1.1 bytes: nothing to prepare here.
    }

    func finish(_ exchange: Exchange) {
        guard exchange === self.exchange else { return }
        self.exchange = nil
        exchange.body = nil
        let early = if case .answeringEarly = state { true } else { false }
        state = .done
        cancelTimer()
        let end: HTTP2Frame.FramePayload
        if let head = pendingHead {
            pendingHead = nil
            end = .headers(.init(headers: head, endStream: true))
        } else {
            end = .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let channel = context.channel
        // The last bytes leave as the client grants window: a client that
        // grants none for the write-idle timeout gets the stream reset.
        arm(.writeTimeout, at: now() + timeouts.writeIdle)
        promise.futureResult.assumeIsolated().whenComplete { [self, services, now] _ in
            cancelTimer()
            exchange.closeFile()
            exchange.record(services: services, now: now())
            // A request refused before its end: the stream is reset once
            // the answer is out (RFC 9113 §8.1), so the client stops sending.
            if early { channel.close(promise: nil) }
        }
        context.writeAndFlush(wrapOutboundOut(end), promise: promise)
    }

    func abort(_ exchange: Exchange) {
        services.metrics.response(
            status: exchange.status, cacheHit: exchange.cacheHit, bodyBytes: exchange.bodyBytes,
            duration: (now() - exchange.startedAt).nanoseconds)
        // Closing an open stream resets it: the client sees the answer cut short.
        context.close(promise: nil)
    }

    private func abandon() {
        cancelTimer()
        state = .done
        guard let exchange else { return }
        self.exchange = nil
        exchange.abandon()
    }

    // MARK: Timer

    private func arm(_ reason: ConnectionTimeouts.Reason, at deadline: NIODeadline) {
        cancelTimer()
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            onTimeout(reason)
            self.context?.close(promise: nil)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }
}
