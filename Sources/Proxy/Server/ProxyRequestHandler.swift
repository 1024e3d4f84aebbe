import AsyncHTTPClient
import Logging
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
    /// Answered for a preview host (`<n>--<slug>`): pages carry `X-Robots-Tag: noindex`.
    var isPreview = false
    /// Close the connection once this response is written.
    var closeAfter: Bool
    /// Loading the manifest or a body in the background.
    var task: Task<Void, Never>?
    /// Where the rest of the body comes from.
    var body: BodyPump?
    /// An open file to `sendfile` from; closed when the response is done.
    var file: NIOFileHandle?
    /// The store download, for a body streamed from the S3-compatible store.
    var upstream: UpstreamDownload?

    init(request: IncomingRequest, startedAt: NIODeadline, closeAfter: Bool) {
        self.request = request
        self.startedAt = startedAt
        self.closeAfter = closeAfter
    }

    /// Closes the file, once.
    func closeFile() {
        guard let file else { return }
        self.file = nil
        try? file.close()
    }
}

/// The rest of a body, written slice by slice as the client takes it.
enum BodyPump {
    /// Bytes in memory (a cached body or a slice of one).
    case memory(ByteBuffer)
    /// Bytes `next..<end` of `Exchange.file`, sent with `sendfile`.
    case file(next: Int64, end: Int64)
    /// Chunks streamed from the store as they come (`UpstreamDownload`).
    case upstream
}

/// The last handler of a connection: receives whole requests, runs them
/// through the `ServingPipeline` and writes the answers, from memory on the
/// event loop for cached bodies, or streamed with backpressure from the store.
///
/// Everything here runs on the connection's event loop. Work that has to
/// wait (loading a manifest, a body into the cache, opening a file) runs
/// elsewhere and comes back to the loop; if the client has gone by then,
/// the result is dropped, and whatever was still running for it is cancelled
/// when it goes (`channelInactive`).
final class ProxyRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let services: ProxyServices
    let now: () -> NIODeadline
    private var intake: RequestIntake
    var context: ChannelHandlerContext!
    /// The response in progress (HTTPServerPipelineHandler holds the next
    /// pipelined request back until this one's end is written).
    var exchange: Exchange?
    /// No further request is served on this connection.
    private var closing = false
    /// The method of the request being received (a HEAD refused early gets no body).
    private var receivingMethod: HTTPMethod = .GET

    init(services: ProxyServices, now: @escaping () -> NIODeadline = { .now() }) {
        self.services = services
        self.now = now
        self.intake = RequestIntake(limits: services.intakeLimits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        abandon()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        abandon()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Parser errors were answered by ProtocolErrorHandler; anything else
        // (a reset, a failed write) ends the connection.
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client half-closed its side (connections allow it, so that a
        // client which sends a request and shuts down writing still gets its
        // answer): finish what is in progress, then close.
        if let event = event as? ChannelEvent, event == .inputClosed {
            closing = true
            if let exchange {
                exchange.closeAfter = true
            } else {
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let exchange {
            if exchange.upstream != nil {
                upstreamWritabilityChanged(exchange)
            } else {
                pump(exchange)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let action: RequestIntake.Action
        switch unwrapInboundIn(data) {
        case .head(let head):
            receivingMethod = head.method
            action = intake.headReceived(head)
        case .body(let body): action = intake.bodyReceived(bytes: body.readableBytes)
        case .end: action = intake.endReceived()
        }
        switch action {
        case .none:
            break
        case .reject(let kind):
            // Answer before the rest of the request arrives, and close: the
            // remaining bytes of this request are never parsed as another.
            services.metrics.requestRejected(kind)
            closing = true
            let request = IncomingRequest(
                method: receivingMethod, target: "/", host: "", headers: [:], version: .http1_1, isKeepAlive: false)
            let exchange = begin(request, closeAfter: true)
            execute(services.pipeline.page(services.pipeline.pages.page(kind), isPreview: false, date: HTTPDateClock.shared.now()), exchange)
        case .serve(let request):
            serve(begin(request, closeAfter: !request.isKeepAlive))
        }
    }

    private func begin(_ request: IncomingRequest, closeAfter: Bool) -> Exchange {
        context.triggerUserOutboundEvent(ConnectionGuardHandler.Event.requestReceived, promise: nil)
        let exchange = Exchange(request: request, startedAt: now(), closeAfter: closeAfter)
        self.exchange = exchange
        return exchange
    }

    // MARK: Serving

    /// Steps 1–3 of the pipeline, then the plan once the manifest is at hand.
    private func serve(_ exchange: Exchange) {
        let pipeline = services.pipeline
        switch pipeline.route(exchange.request, date: HTTPDateClock.shared.now()) {
        case .reply(let plan):
            execute(plan, exchange)
        case .replyAndClose(let plan):
            exchange.closeAfter = true
            execute(plan, exchange)
        case .build(let build):
            exchange.isPreview = build.isPreview
            if let manifest = services.manifests.cached(buildID: build.buildID) {
                execute(pipeline.plan(exchange.request, build: build, manifest: manifest, date: HTTPDateClock.shared.now()), exchange)
                return
            }
            let manifests = services.manifests
            runAsync(exchange, { try await manifests.load(siteID: build.site.siteID, buildID: build.buildID) }) { manifest in
                self.execute(pipeline.plan(exchange.request, build: build, manifest: manifest, date: HTTPDateClock.shared.now()), exchange)
            }
        }
    }

    func execute(_ plan: ResponsePlan, _ exchange: Exchange) {
        switch plan {
        case .immediate(let status, let headers, let body):
            writeHead(exchange, status: status, headers: headers)
            if let body, exchange.request.method != .HEAD, body.readableBytes > 0 {
                exchange.body = .memory(body)
                pump(exchange)
            } else {
                finish(exchange)
            }
        case .file(let reply):
            serveFile(reply, exchange)
        }
    }

    // MARK: Writing

    func writeHead(_ exchange: Exchange, status: HTTPResponseStatus, headers: HTTPHeaders) {
        var headers = headers
        if exchange.closeAfter || closing {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if exchange.request.version == .http1_0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        exchange.status = Int(status.code)
        exchange.headSent = true
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
    }

    /// Writes slices of an in-memory or file body while the client can take
    /// them; `channelWritabilityChanged` calls it again when it can take more.
    func pump(_ exchange: Exchange) {
        guard exchange === self.exchange else { return }
        var wrote = false
        writing: while context.channel.isWritable {
            switch exchange.body {
            case .memory(var buffer):
                guard buffer.readableBytes > 0 else {
                    finish(exchange)
                    return
                }
                let slice = buffer.readSlice(length: min(ProxyServices.chunkSize, buffer.readableBytes))!
                exchange.body = .memory(buffer)
                exchange.bodyBytes += Int64(slice.readableBytes)
                context.write(wrapOutboundOut(.body(.byteBuffer(slice))), promise: nil)
                wrote = true
            case .file(let next, let end):
                guard next < end else {
                    finish(exchange)
                    return
                }
                guard let file = exchange.file else { break writing }
                let length = min(Int64(ProxyServices.chunkSize), end - next)
                let region = FileRegion(fileHandle: file, readerIndex: Int(next), endIndex: Int(next + length))
                exchange.body = .file(next: next + length, end: end)
                exchange.bodyBytes += length
                context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
                wrote = true
            case .upstream, .none:
                // Streamed by UpstreamDownload, or nothing to send yet (the
                // body is still being loaded).
                break writing
            }
        }
        if wrote { context.flush() }
    }

    /// Ends the response; the connection is then ready for the next request
    /// (or closed when it must be).
    func finish(_ exchange: Exchange) {
        guard exchange === self.exchange else { return }
        // Cleared before the end is written: writing it may hand us the next
        // pipelined request at once.
        self.exchange = nil
        exchange.body = nil
        let closeAfter = exchange.closeAfter || closing
        if closeAfter { closing = true }
        context.triggerUserOutboundEvent(ConnectionGuardHandler.Event.responseCompleted, promise: nil)
        let promise = context.eventLoop.makePromise(of: Void.self)
        let channel = context.channel
        promise.futureResult.assumeIsolated().whenComplete { [services, now] _ in
            exchange.closeFile()
            let nanoseconds = (now() - exchange.startedAt).nanoseconds
            services.metrics.response(
                status: exchange.status, cacheHit: exchange.cacheHit, bodyBytes: exchange.bodyBytes, duration: nanoseconds)
            services.accessLog.record(
                method: exchange.request.method, host: exchange.request.host, target: exchange.request.target,
                status: exchange.status, bodyBytes: exchange.bodyBytes, nanoseconds: nanoseconds, cache: exchange.cacheHit)
            if closeAfter { channel.close(promise: nil) }
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    /// Ends a request that failed: an error page when nothing was sent yet,
    /// otherwise the connection is closed so the client sees a truncated
    /// response rather than a complete-looking wrong one.
    func fail(_ exchange: Exchange, _ error: any Error) {
        guard exchange === self.exchange else { return }
        if error is CancellationError { return }  // the client went away
        let kind: SlipwayPages.Kind = (error as? ProxyError)?.httpStatus == 504 ? .gatewayTimeout : .badGateway
        services.logger.warning(
            "cannot serve a request from the store",
            metadata: ["host": "\(exchange.request.host.prefix(255))", "error": "\(error)"])
        guard !exchange.headSent else {
            abort(exchange)
            return
        }
        exchange.body = nil
        exchange.closeFile()
        execute(services.pipeline.page(services.pipeline.pages.page(kind), isPreview: exchange.isPreview, date: HTTPDateClock.shared.now()), exchange)
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
        closing = true
        guard let exchange else { return }
        self.exchange = nil
        exchange.task?.cancel()
        exchange.task = nil
        exchange.upstream?.cancel()
        exchange.closeFile()
    }

    /// Runs `work` off the event loop, then `then` back on it, unless the
    /// request was abandoned meanwhile; failures end the request with `fail`.
    func runAsync<T: Sendable>(
        _ exchange: Exchange, _ work: @escaping @Sendable () async throws -> T, then: @escaping (T) -> Void
    ) {
        let promise = context.eventLoop.makePromise(of: T.self)
        exchange.task = Task {
            do { promise.succeed(try await work()) } catch { promise.fail(error) }
        }
        promise.futureResult.assumeIsolated().whenComplete { [self] result in
            guard exchange === self.exchange else { return }
            exchange.task = nil
            switch result {
            case .success(let value): then(value)
            case .failure(let error): fail(exchange, error)
            }
        }
    }
}
