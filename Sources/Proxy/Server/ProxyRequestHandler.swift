import AsyncHTTPClient
import Logging
import Model
import NIOCore
import NIOHTTP1
import Storage

/// One request being answered on a connection.
final class Exchange {
    let request: IncomingRequest
    let startedAt: NIODeadline
    /// The status sent (0 until the head is written).
    var status = 0
    var cacheHit = false
    var bodyBytes: Int64 = 0
    var headSent = false
    /// The client's address, for the access log (``IncomingRequest/clientAddress``).
    var client = "-"
    /// Whether the client reached Slipway over HTTPS as it sees it (``IncomingRequest/isSecure``).
    var isSecure: Bool { request.isSecure }
    /// Answered for a preview host (`<n>--<slug>`): pages carry `X-Robots-Tag: noindex`.
    var isPreview = false
    /// Answered for a protected host: every head is made private
    /// (`Cache-Control: private`), and the answer is never prepared.
    var isProtected = false
    /// The request's Basic credentials were verified off the loop: serve it.
    var accessVerified = false
    /// Close the connection once this response is written.
    var closeAfter: Bool
    /// Loading the manifest or a body in the background.
    var task: Task<Void, Never>?
    /// Where the rest of the body comes from.
    var body: BodyPump?
    /// An open file to send from; closed when the response is done.
    var file: NIOFileHandle?
    /// A slice of `file` is being read into a buffer (``FileDelivery/buffers``).
    var readingFile = false
    /// The response ended while a slice was being read: the file is closed
    /// when the read returns, never under it.
    var closeFileAfterRead = false
    /// The store download, for a body streamed from the S3-compatible store.
    var upstream: UpstreamDownload?

    init(request: IncomingRequest, startedAt: NIODeadline, closeAfter: Bool) {
        self.request = request
        self.startedAt = startedAt
        self.closeAfter = closeAfter
    }

    /// Closes the file, once, and not while a slice of it is being read.
    func closeFile() {
        guard file != nil else { return }
        guard !readingFile else {
            closeFileAfterRead = true
            return
        }
        let file = self.file
        self.file = nil
        try? file?.close()
    }
}

/// The rest of a body, written slice by slice as the client takes it.
enum BodyPump {
    /// Bytes in memory (a cached body or a slice of one).
    case memory(ByteBuffer)
    /// Bytes `next..<end` of `Exchange.file`, sent as ``FileDelivery`` says.
    case file(next: Int64, end: Int64)
    /// Chunks streamed from the store as they come (`UpstreamDownload`).
    case upstream
}

/// What is waiting to be answered on a connection, in the order received.
enum PendingAnswer {
    /// A complete request to serve.
    case request(IncomingRequest)
    /// A request refused by `RequestIntake` (400, 413, 414, 431), or bytes the
    /// parser could not read: answered with this page, then the connection closes.
    case refusal(SlipwayPages.Kind)
    /// A request a prepared answer answers; only ever answered at once
    /// (it is chosen only when nothing is pending), never queued.
    case prepared
    /// A request over its client's rate limit: answered 429, the connection stays open.
    case rateLimited(IncomingRequest, retryAfter: Duration)
}

/// The one handler of an edge connection: it parses the connection's bytes
/// into requests (``HTTP1RequestParser``), runs them through the
/// `ServingPipeline` and writes the answers as raw bytes (the head from
/// `ResponseHeadWriter`, then the body), from memory on the event loop for
/// cached bodies, or streamed with backpressure from the store. A plain GET
/// of a cached file is answered from its prepared form (``PreparedAnswers``).
///
/// What happens to the connection — order of answers, held reads, when it
/// closes, its timeouts — is decided by ``ConnectionStateMachine``; this
/// handler carries out its actions and owns the one timer it asks for.
/// Requests the parser cannot read are answered with 400/414/431 in their
/// place in the order, and the connection then closes, so nothing after
/// bad bytes is ever parsed.
///
/// Everything here runs on the connection's event loop. Work that has to
/// wait (loading a manifest, a body into the cache, opening a file) runs
/// elsewhere and comes back to the loop; if the client has gone by then,
/// the result is dropped, and whatever was still running for it is cancelled
/// when it goes (`channelInactive`).
final class ProxyRequestHandler: ChannelDuplexHandler, ExchangeResponder {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    let services: ProxyServices
    let now: () -> NIODeadline
    /// How this connection sends files of the disk store.
    let fileDelivery: FileDelivery
    private var parser: HTTP1RequestParser
    private var intake: RequestIntake
    var context: ChannelHandlerContext!
    /// The response in progress.
    var exchange: Exchange?
    private var machine: ConnectionStateMachine<PendingAnswer>
    /// Told why a connection is closed for taking too long (metrics).
    private let onTimeout: (ConnectionTimeouts.Reason) -> Void
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    /// `answerNext` is on the stack: answers that finish at once return to
    /// its loop instead of recursing (a pipelined batch can be long).
    private var answering = false
    private var nextAnswer: PendingAnswer?
    /// The method of the request being received (a HEAD refused early gets no body).
    private var receivingMethod: HTTPMethod = .GET
    /// A zero-byte write that carries the completion of a response's last byte.
    private let endMarker = ByteBuffer()
    /// This event loop's prepared answers and head endings.
    private var loop: EdgeLoopState!
    /// A prepared answer chosen for the request whose head was just parsed,
    /// sent when its end is (a request it answers has no body).
    private var preparedAnswer: (answer: PreparedAnswer, notModified: Bool, head: HTTP1RequestHead, client: String)?
    /// The client of the request being received, when per-request work
    /// found one (``EdgeClients``); nil: the connection's.
    private var receivingClient: RequestClient?
    /// Answers were written and not flushed yet (flushed once the bytes read are parsed).
    private var needsFlush = false

    /// The connection is over TLS: files go out as buffers. Whether a
    /// request counts as secure (HSTS, the HTTPS redirect, which prepared
    /// answers serve it) is ``IncomingRequest/isSecure``: this, unless a
    /// trusted proxy said otherwise.
    let isSecure: Bool

    /// Who the client is; made from the peer's address when not given.
    private var connection: EdgeConnection?

    /// - Parameters:
    ///   - isSecure: the connection is over TLS.
    ///   - connection: the connection's client (the server's, which a PROXY protocol header may have set).
    ///   - now: the clock of the timeouts and durations (tests inject one).
    ///   - onTimeout: told why a connection is closed for taking too long.
    init(
        services: ProxyServices, timeouts: ConnectionTimeouts.Configuration, isSecure: Bool = false,
        connection: EdgeConnection? = nil, now: @escaping () -> NIODeadline = { .now() },
        onTimeout: @escaping (ConnectionTimeouts.Reason) -> Void = { _ in }
    ) {
        self.services = services
        self.connection = connection
        self.isSecure = isSecure
        // A `FileRegion` cannot pass through the TLS handler.
        self.fileDelivery = isSecure ? .buffers : services.fileDelivery
        self.now = now
        self.onTimeout = onTimeout
        self.machine = ConnectionStateMachine(timeouts: timeouts, now: now())
        self.parser = HTTP1RequestParser(limits: services.intakeLimits.parser)
        self.intake = RequestIntake(limits: services.intakeLimits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if connection == nil { connection = EdgeConnection(peer: context.channel.remoteAddress) }
        self.loop = services.loopStates.current
        if context.channel.isActive {
            machine.activated(now: now())
            rearm()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        abandon()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        machine.activated(now: now())
        rearm()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        abandon()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset, a failed write: the connection is over.
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client half-closed its side (connections allow it, so that a
        // client which sends a request and shuts down writing still gets its
        // answer), or the server is shutting down: answer what was
        // received, then close.
        if let event = event as? ChannelEvent, event == .inputClosed {
            if machine.inputClosed() == .close { context.close(promise: nil) }
            return
        }
        if event is ChannelShouldQuiesceEvent {
            if machine.quiesce() == .close { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        machine.writabilityChanged(isWritable: context.channel.isWritable, now: now())
        rearm()
        resumeBody()
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if machine.read() == .read { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard machine.bytesReceived(now: now()) else { return }
        rearm()
        parser.feed(unwrapInboundIn(data))
        defer {
            if needsFlush {
                needsFlush = false
                context.flush()
            }
        }
        while machine.isReadingInput {
            let action: RequestIntake.Action
            let part = parser.next()
            switch part {
            case .needMore:
                return
            case .head(let head):
                // Nil unless a rate limit or a trusted proxy asks for work per request.
                let client = requestClient(for: head)
                if client?.retryAfter == nil, let prepared = prepared(for: head, client: client) {
                    preparedAnswer = prepared
                    continue
                }
                receivingClient = client
                receivingMethod = head.httpMethod
                action = intake.headReceived(head)
            case .body(let body):
                action = intake.bodyReceived(body)
            case .end:
                if let (answer, notModified, head, client) = preparedAnswer {
                    preparedAnswer = nil
                    send(answer, notModified: notModified, for: head, client: client)
                    continue
                }
                action = intake.endReceived()
            case .error(let error):
                // The parser stops at the first error: the bytes after it
                // are never read as another request. An error in a body
                // keeps its head's method (a HEAD gets no page body).
                let kind = SlipwayPages.Kind(error)
                services.metrics.requestRejected(kind)
                received(.refusal(kind), closesConnection: true)
                return
            }
            act(on: action)
            if case .end = part {
                receivingMethod = .GET
                receivingClient = nil
            }
        }
    }

    /// The client of a request whose head was just parsed, when anything
    /// needs working out per request (``EdgeClients``): nil, at the cost of
    /// one test, on a connection that is not from a trusted proxy while no
    /// rate limit is set.
    private func requestClient(for head: HTTP1RequestHead) -> RequestClient? {
        let clients = services.clients
        guard let connection, clients.needsRequestWork(connection) else { return nil }
        return clients.client(of: connection, connectionIsSecure: isSecure) { head.values(named: $0) }
    }

    /// `request` with its client: the one worked out for it, or the connection's.
    private func withClient(_ request: IncomingRequest) -> IncomingRequest {
        var request = request
        request.take(receivingClient ?? RequestClient(address: connection?.clientAddress ?? "-", isSecure: isSecure))
        return request
    }

    private func act(on action: RequestIntake.Action) {
        switch action {
        case .none:
            break
        case .reject(let kind):
            // Answered before the rest of the request arrives, then the
            // connection closes: the remaining bytes of this request are
            // never parsed as another.
            services.metrics.requestRejected(kind)
            received(.refusal(kind), closesConnection: true)
        case .serve(let request):
            received(pending(withClient(request)), closesConnection: !request.isKeepAlive)
        case .serveAndClose(let request):
            received(pending(withClient(request)), closesConnection: true)
        }
    }

    /// A request to serve, or to refuse when its client is over the rate limit.
    private func pending(_ request: IncomingRequest) -> PendingAnswer {
        guard let wait = receivingClient?.retryAfter else { return .request(request) }
        return .rateLimited(request, retryAfter: wait)
    }

    /// A request received whole: answered now, or after those before it.
    private func received(_ pending: PendingAnswer, closesConnection: Bool) {
        if case .answer(let pending) = machine.requestReceived(pending, closesConnection: closesConnection) {
            answerNext(pending)
        }
    }

    /// Answers `pending`, and whatever the machine hands out next while
    /// answers finish at once, in a loop rather than recursion.
    private func answerNext(_ pending: PendingAnswer) {
        guard !answering else {
            nextAnswer = pending
            return
        }
        answering = true
        defer { answering = false }
        var next: PendingAnswer? = pending
        while let pending = next {
            nextAnswer = nil
            answer(pending)
            next = nextAnswer
        }
    }

    private func answer(_ pending: PendingAnswer) {
        switch pending {
        case .request(let request):
            let exchange = begin(request, closeAfter: false)
            if !request.isSecure,
                let location = services.httpsRedirect?.location(host: request.host, target: request.target)
            {
                execute(services.pipeline.httpsRedirect(to: location), exchange)
                return
            }
            serve(exchange)
        case .refusal(let kind):
            let request = withClient(
                IncomingRequest(
                    method: receivingMethod, target: "/", host: "", headers: [:], version: .http1_1, isKeepAlive: false
                ))
            let exchange = begin(request, closeAfter: true)
            execute(services.pipeline.page(services.pipeline.pages.page(kind), isPreview: false), exchange)
        case .prepared:
            break // sent by `send(_:notModified:for:client:)` itself
        case .rateLimited(let request, let wait):
            let exchange = begin(request, closeAfter: false)
            services.metrics.requestRateLimited()
            execute(TooManyRequests.rateLimited(retryAfter: wait, limiter: services.clients.rateLimiter!), exchange)
        }
    }

    private func begin(_ request: IncomingRequest, closeAfter: Bool) -> Exchange {
        let exchange = Exchange(request: request, startedAt: now(), closeAfter: closeAfter)
        exchange.client = request.clientAddress
        self.exchange = exchange
        return exchange
    }

    // MARK: Serving

    // MARK: Writing

    /// Every head of the whole pipeline leaves here: its start (the reply's
    /// fields, `Content-Length` of a file body, `X-Cache`), then the ending
    /// (`Connection`, `Date`) this connection needs now.
    func writeHead(
        _ exchange: Exchange, status: HTTPResponseStatus, headers: HTTPHeaders, contentLength: Int?, cacheHit: Bool
    ) {
        exchange.status = Int(status.code)
        exchange.headSent = true
        let (start, dropped) = ResponseHeadWriter.start(
            status: status,
            headers: withTransportFields(headers, isSecure: exchange.isSecure, host: exchange.request.host),
            contentLength: contentLength, cacheHit: cacheHit,
            allocator: context.channel.allocator)
        warnDropped(dropped, exchange)
        writeHead(start: start, exchange)
    }

    func writeBody(_ bytes: IOData) {
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    /// `headers` and what the transport adds: `Strict-Transport-Security`
    /// for a request that came over HTTPS as its client sees it: a custom
    /// domain's own setting, else the edge's when configured.
    private func withTransportFields(_ headers: HTTPHeaders, isSecure: Bool, host: String) -> HTTPHeaders {
        guard isSecure else { return headers }
        var hsts = services.strictTransportSecurity
        let table = services.pipeline.siteTable
        if table.hasDomains, let name = HostRoute.normalizedHost(host), let domain = table.domain(host: name) {
            hsts = domain.hstsMaxAge.map { "max-age=\($0)" }
        }
        guard let hsts else { return headers }
        var headers = headers
        headers.replaceOrAdd(name: "Strict-Transport-Security", value: hsts)
        return headers
    }

    /// The prepared answers of requests that are secure or not (kept apart:
    /// only secure ones carry `Strict-Transport-Security`).
    private func answers(isSecure: Bool) -> PreparedAnswers {
        isSecure ? loop.secureAnswers : loop.answers
    }

    func endsConnection(_ exchange: Exchange) {
        exchange.closeAfter = true
        machine.endAfterAnswer()
    }

    func answered(_ exchange: Exchange, build: ServedBuild, manifest: LoadedManifest, siteTableVersion: UInt64) {
        prepareAnswer(exchange.request, build: build, manifest: manifest, version: siteTableVersion)
    }

    /// Writes a head's `start` and the ending the connection needs.
    private func writeHead(start: ByteBuffer, _ exchange: Exchange) {
        let ending: HeadEnding
        if exchange.closeAfter || machine.closesAfterAnswer {
            exchange.closeAfter = true
            ending = .close
        } else {
            ending = exchange.request.version == .http1_0 ? .keepAliveHTTP10 : .keepAlive
        }
        context.write(wrapOutboundOut(.byteBuffer(start)), promise: nil)
        context.write(wrapOutboundOut(.byteBuffer(loop.endings.ending(ending))), promise: nil)
    }

    // MARK: Prepared answers

    /// The prepared answer for a request whose head was just parsed, when
    /// nothing is waiting before it and one was prepared for its key at the
    /// site table's current version: 304 when its one `If-None-Match` is
    /// exactly the answer's tag, 200 when it has none. Anything else takes
    /// the whole pipeline, and so does a plain request while plain requests
    /// for hosts with a certificate are redirected (a prepared answer skips
    /// routing). `client` is the request's, nil for the connection's.
    private func prepared(
        for head: HTTP1RequestHead, client: RequestClient?
    ) -> (PreparedAnswer, notModified: Bool, head: HTTP1RequestHead, client: String)? {
        let secure = client?.isSecure ?? isSecure
        guard machine.isIdle, secure || services.httpsRedirect == nil, let key = PreparedAnswerKey(head),
            let answer = answers(isSecure: secure).answer(for: key, version: services.pipeline.siteTable.version)
        else { return nil }
        let address = client?.address ?? connection?.clientAddress ?? "-"
        guard head.ifNoneMatch.isPresent else { return (answer, false, head, address) }
        return answer.isExactMatch(head.view(head.ifNoneMatch.value)) ? (answer, true, head, address) : nil
    }

    /// The largest body a prepared answer writes in one go. A client taking
    /// bytes gets it at once; the channel then turns unwritable, so the next
    /// request waits for the client like any other. A connection so holds at
    /// most this much beyond the channel's high watermark.
    static let preparedWriteLimit = 4 * ProxyServices.chunkSize

    /// Sends a prepared answer: its start, the ending, and for a 200 the
    /// body, flushed with whatever else this read answered. A body larger
    /// than ``preparedWriteLimit``, or a client that is not taking bytes,
    /// goes through an ``Exchange`` like any other, written as the client
    /// takes it.
    private func send(_ answer: PreparedAnswer, notModified: Bool, for head: HTTP1RequestHead, client: String) {
        let startedAt = now()
        let last = !head.isKeepAlive
        guard case .answer = machine.requestReceived(.prepared, closesConnection: last) else {
            preconditionFailure("a prepared answer is chosen only when nothing is pending")
        }
        if !notModified && (answer.body.readableBytes > Self.preparedWriteLimit || !context.channel.isWritable) {
            var request = RequestIntake.request(head)
            request.clientAddress = client
            let exchange = begin(request, closeAfter: last)
            exchange.cacheHit = true
            exchange.status = 200
            exchange.headSent = true
            writeHead(start: answer.start200, exchange)
            exchange.body = .memory(answer.body)
            services.metrics.preparedAnswerSent()
            pump(exchange)
            return
        }
        let ending: HeadEnding = last ? .close : (head.version == .http10 ? .keepAliveHTTP10 : .keepAlive)
        let bodyBytes = notModified ? 0 : answer.body.readableBytes
        if ending == .keepAlive {
            // The usual case: the head in one buffer, with a small body joined to it.
            let (endingBytes, second) = loop.endings.current(.keepAlive)
            let joined = answer.joined(notModified: notModified, ending: endingBytes, second: second)
            context.write(wrapOutboundOut(.byteBuffer(joined)), promise: nil)
            if bodyBytes > 0 && !answer.joinsBody {
                context.write(wrapOutboundOut(.byteBuffer(answer.body)), promise: nil)
            }
        } else {
            context.write(wrapOutboundOut(.byteBuffer(notModified ? answer.start304 : answer.start200)), promise: nil)
            context.write(wrapOutboundOut(.byteBuffer(loop.endings.ending(ending))), promise: nil)
            if bodyBytes > 0 { context.write(wrapOutboundOut(.byteBuffer(answer.body)), promise: nil) }
        }
        let endedAt = now()
        let next = machine.answerEnded(now: endedAt)
        let status = notModified ? 304 : 200
        let nanoseconds = (endedAt - startedAt).nanoseconds
        services.metrics.response(
            status: status, cacheHit: !notModified, bodyBytes: Int64(bodyBytes), duration: nanoseconds)
        services.metrics.preparedAnswerSent()
        if services.accessLog.logger != nil {
            services.accessLog.record(
                method: .GET, host: head.hostString, target: head.originTarget, status: status,
                bodyBytes: Int64(bodyBytes), nanoseconds: nanoseconds, cache: !notModified,
                client: client)
        }
        guard case .close = next else {
            needsFlush = true
            return
        }
        let channel = context.channel
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(endMarker)), promise: promise)
        needsFlush = false
    }

    /// Prepares the answer to a plain GET the whole pipeline just served
    /// from `manifest`, when its body is in the body cache: the answer a
    /// request without validators gets (a 200 with the whole body), and
    /// the 304 it stands for. `version` is the site table's, read before
    /// the request was routed.
    private func prepareAnswer(
        _ request: IncomingRequest, build: ServedBuild, manifest: LoadedManifest, version: UInt64
    ) {
        guard let key = request.answerKey else { return }
        var plain = request
        plain.headers = HTTPHeaders()
        for value in request.headers["accept-encoding"] { plain.headers.add(name: "accept-encoding", value: value) }
        guard case .file(let reply) = services.pipeline.plan(plain, build: build, manifest: manifest),
            reply.status == .ok, reply.sendsBody, reply.object.isCacheable, reply.range == 0..<reply.object.size,
            let body = services.bodyCache.peek(reply.object.cacheKey), Int64(body.readableBytes) == reply.object.size,
            let etag = reply.headers.first(name: "etag")
        else { return }
        let allocator = context.channel.allocator
        let headers = withTransportFields(reply.headers, isSecure: request.isSecure, host: request.host)
        let (start200, dropped200) = ResponseHeadWriter.start(
            status: .ok, headers: headers, contentLength: body.readableBytes, cacheHit: true,
            allocator: allocator)
        let (start304, dropped304) = ResponseHeadWriter.start(
            status: .notModified, headers: SlipwayResponseHeaders.notModified(from: headers),
            contentLength: nil, cacheHit: false, allocator: allocator)
        // A field left out is warned about on every answer: such answers are not prepared.
        guard dropped200 == 0, dropped304 == 0 else { return }
        let answer = PreparedAnswer(
            start200: start200, start304: start304, body: body, quotedETag: ByteBuffer(string: etag))
        answers(isSecure: request.isSecure).insert(answer, for: key, version: version)
    }

    /// Ends the response; the connection then answers the next request
    /// (or closes when it must).
    func finish(_ exchange: Exchange) {
        guard exchange === self.exchange else { return }
        self.exchange = nil
        exchange.body = nil
        if exchange.closeAfter { machine.endAfterAnswer() }
        let next = machine.answerEnded(now: now())
        rearm()
        var closeAfter = false
        if case .close = next { closeAfter = true }
        if exchange.file != nil || closeAfter {
            // Wait for the last byte to leave before closing the file or the connection.
            let promise = context.eventLoop.makePromise(of: Void.self)
            let channel = context.channel
            promise.futureResult.assumeIsolated().whenComplete { [services, now] _ in
                exchange.closeFile()
                exchange.record(services: services, now: now())
                if closeAfter { channel.close(promise: nil) }
            }
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(endMarker)), promise: promise)
        } else {
            context.flush()
            exchange.record(services: services, now: now())
        }
        // Writes stay in order: the next answer may start before this one's last byte has left.
        switch next {
        case .answer(let pending): answerNext(pending)
        case .read: context.read()
        case .close, .none: break
        }
    }

    /// Closes the connection mid-response.
    func abort(_ exchange: Exchange) {
        services.metrics.response(
            status: exchange.status, cacheHit: exchange.cacheHit, bodyBytes: exchange.bodyBytes,
            duration: (now() - exchange.startedAt).nanoseconds)
        context.close(promise: nil)
    }

    /// The connection is gone: stop everything still running for it.
    private func abandon() {
        machine.closed()
        cancelTimer()
        guard let exchange else { return }
        self.exchange = nil
        exchange.abandon()
    }

    // MARK: Timer

    /// Makes sure the timer fires no later than the machine's next deadline.
    /// A timer that fires early just asks again and re-arms, so a deadline
    /// moving later never needs a new timer.
    private func rearm() {
        guard let context, let next = machine.nextDeadline else { return }
        if let timerDeadline, timerDeadline <= next { return }
        timer?.cancel()
        timerDeadline = next
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: next) { [self] in
            timer = nil
            timerDeadline = nil
            switch machine.timerFired(now: now()) {
            case .wait:
                rearm()
            case .close(let reason):
                onTimeout(reason)
                self.context?.close(promise: nil)
            }
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }
}
