import AsyncHTTPClient
import Logging
import Model
import NIOCore
import NIOHTTP1
import Storage

/// What answers one request on the edge, over whichever protocol it came:
/// the HTTP/1.1 connection handler (``ProxyRequestHandler``, raw bytes on
/// the connection) and the HTTP/2 stream handler (``HTTP2StreamHandler``,
/// frames on a stream). Both run exactly the same serving decisions and
/// bodies, written here once: routing, the plan, the body from memory, a
/// file or the store with backpressure, error pages. A conformer says how a
/// head and body bytes go out, how an answer ends and how it is cut short.
///
/// Everything here runs on the channel's event loop.
protocol ExchangeResponder: AnyObject {
    var services: ProxyServices { get }
    /// The clock of the timeouts and durations (tests inject one).
    var now: () -> NIODeadline { get }
    /// How this channel sends files of the disk store.
    var fileDelivery: FileDelivery { get }
    /// The connection is over TLS (an HTTP/2 stream always is).
    var isSecure: Bool { get }
    /// The response in progress.
    var exchange: Exchange? { get }
    var context: ChannelHandlerContext! { get }

    /// Writes a head: `status`, the reply's own `headers`, then
    /// `Content-Length` of a file body and `X-Cache` (`cacheHit`), and what
    /// the protocol adds (`Date`; `Connection` on HTTP/1.1). Sets the
    /// exchange's status and `headSent`. Not flushed.
    func writeHead(
        _ exchange: Exchange, status: HTTPResponseStatus, headers: HTTPHeaders, contentLength: Int?, cacheHit: Bool)
    /// Writes body bytes after the head. Not flushed.
    func writeBody(_ bytes: IOData)
    /// Ends the response once its last byte is written.
    func finish(_ exchange: Exchange)
    /// Cuts the response short: the client sees it truncated, never complete.
    func abort(_ exchange: Exchange)
    /// The answer about to be written must be the last on its connection
    /// (HTTP/1.1); an HTTP/2 stream ends with its answer anyway.
    func endsConnection(_ exchange: Exchange)
    /// A plain GET was just answered from a manifest at hand: HTTP/1.1
    /// prepares the answer (``PreparedAnswers``) for the next such request.
    func answered(
        _ exchange: Exchange, build: ServedBuild, manifest: LoadedManifest, siteTableVersion: UInt64)
}

extension ExchangeResponder {
    // MARK: Serving

    /// Steps 1–3 of the pipeline, then the plan once the manifest is at hand.
    func serve(_ exchange: Exchange) {
        // Read before routing: an answer prepared from what routing sees is
        // dropped if the table changed since (``PreparedAnswers``).
        let version = services.pipeline.siteTable.version
        serve(services.pipeline.route(exchange.request), exchange, siteTableVersion: version)
    }

    /// Whether the client reached the edge over HTTPS as it sees it: what
    /// decides a session cookie's `Secure`. The connection is TLS, or a
    /// trusted proxy said `X-Forwarded-Proto: https` (``Exchange/isSecure``).
    func isSecureAsClientSees(_ exchange: Exchange) -> Bool {
        exchange.isSecure
    }

    private func serve(_ routed: ServingPipeline.Routed, _ exchange: Exchange, siteTableVersion version: UInt64) {
        let pipeline = services.pipeline
        switch routed {
        case .protected(let host, let inner):
            // Every answer of a protected host is private (`writeHead`), and
            // none is ever prepared: the fast path never skips this check.
            exchange.isProtected = true
            let protection = services.protection
            let decision = protection.decide(
                exchange.request, host: host, client: exchange.client, secure: isSecureAsClientSees(exchange),
                alreadyVerified: exchange.accessVerified)
            switch decision {
            case .pass:
                serve(inner, exchange, siteTableVersion: version)
            case .reply(let plan):
                execute(plan, exchange)
            case .verify(let attempt):
                runAsync(exchange, { try await protection.verify(attempt) }) { outcome in
                    switch outcome {
                    case .pass:
                        exchange.accessVerified = true
                        self.serve(inner, exchange, siteTableVersion: version)
                    case .reply(let plan):
                        self.execute(plan, exchange)
                    }
                }
            }
        case .reply(let plan):
            execute(plan, exchange)
        case .replyAndClose(let plan):
            endsConnection(exchange)
            execute(plan, exchange)
        case .build(let build):
            exchange.isPreview = build.isPreview
            if let manifest = services.manifests.cached(buildID: build.buildID) {
                let fallbacks = pipeline.skewFallbacks(build, in: manifest)
                if !fallbacks.isEmpty {
                    serveSkewed(exchange, build: build, manifest: manifest, fallbacks: fallbacks)
                    return
                }
                execute(pipeline.plan(exchange.request, build: build, manifest: manifest), exchange)
                if exchange.request.answerKey != nil && !exchange.isProtected
                    && (exchange.cacheHit || exchange.status == 304)
                {
                    answered(exchange, build: build, manifest: manifest, siteTableVersion: version)
                }
                return
            }
            let manifests = services.manifests
            runAsync(exchange, { try await manifests.load(siteID: build.site.siteID, buildID: build.buildID) }) {
                manifest in
                let fallbacks = pipeline.skewFallbacks(build, in: manifest)
                if !fallbacks.isEmpty {
                    self.serveSkewed(exchange, build: build, manifest: manifest, fallbacks: fallbacks)
                    return
                }
                self.execute(pipeline.plan(exchange.request, build: build, manifest: manifest), exchange)
            }
        }
    }

    /// Serves a hashed asset the live build lacks from the most recently
    /// replaced build that has it (manifests in memory first, then the few
    /// others loaded), or as the live build would (404, SPA fallback) when
    /// none has it. Never a prepared answer: the live build may gain it.
    private func serveSkewed(
        _ exchange: Exchange, build: ServedBuild, manifest: LoadedManifest, fallbacks: [BuildID]
    ) {
        let pipeline = services.pipeline
        let manifests = services.manifests
        let metrics = services.metrics
        let path = ServingPipeline.skewPath(build.path) ?? ""
        func serve(_ found: (BuildID, LoadedManifest)?) {
            guard let (buildID, older) = found else {
                execute(pipeline.plan(exchange.request, build: build, manifest: manifest), exchange)
                return
            }
            metrics.skewFallback()
            var served = build
            served.buildID = buildID
            execute(pipeline.plan(exchange.request, build: served, manifest: older), exchange)
        }
        for buildID in fallbacks {
            if let older = manifests.cached(buildID: buildID), older.manifest.files[path] != nil {
                serve((buildID, older))
                return
            }
        }
        let unloaded = fallbacks.filter { manifests.cached(buildID: $0) == nil }
        guard !unloaded.isEmpty else {
            serve(nil)
            return
        }
        let siteID = build.site.siteID
        let siteTable = pipeline.siteTable
        runAsync(
            exchange,
            { () async -> (BuildID, LoadedManifest)? in
                for buildID in unloaded {
                    let older: LoadedManifest
                    do {
                        older = try await manifests.load(siteID: siteID, buildID: buildID)
                    } catch let error as ProxyError where error.isUnusableManifest {
                        // Deleted since (retention): never asked for again.
                        siteTable.forgetReplaced(buildID, of: siteID)
                        continue
                    } catch {
                        // The store failed or was slow: the next request asks again.
                        continue
                    }
                    if older.manifest.files[path] != nil { return (buildID, older) }
                }
                return nil
            }, then: serve)
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

    /// Writes the head of an answer whose own `headers` are complete (a
    /// page, a redirect, a 304).
    func writeHead(_ exchange: Exchange, status: HTTPResponseStatus, headers: HTTPHeaders) {
        writeHead(
            exchange, status: status, headers: exchange.isProtected ? EdgeProtection.makePrivate(headers) : headers,
            contentLength: nil, cacheHit: false)
    }

    /// Writes the head of a file answer: its headers, then `Content-Length`
    /// and `X-Cache` (from `exchange.cacheHit`).
    func writeHead(_ exchange: Exchange, reply: FileReply) {
        writeHead(
            exchange, status: reply.status,
            headers: exchange.isProtected ? EdgeProtection.makePrivate(reply.headers) : reply.headers,
            contentLength: reply.range.count, cacheHit: exchange.cacheHit)
    }

    /// Warns that fields of a head were left out as not valid HTTP.
    func warnDropped(_ count: Int, _ exchange: Exchange) {
        guard count > 0 else { return }
        services.logger.warning(
            "header fields left out of a response: not valid HTTP",
            metadata: ["host": "\(exchange.request.host.prefix(255))", "count": "\(count)"])
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
                writeBody(.byteBuffer(slice))
                wrote = true
            case .file(let next, let end):
                guard next < end else {
                    finish(exchange)
                    return
                }
                guard let file = exchange.file else { break writing }
                let length = min(Int64(ProxyServices.chunkSize), end - next)
                guard fileDelivery == .sendfile else {
                    readFileSlice(file, at: next, length: Int(length), end: end, exchange)
                    break writing
                }
                let region = FileRegion(fileHandle: file, readerIndex: Int(next), endIndex: Int(next + length))
                exchange.body = .file(next: next + length, end: end)
                exchange.bodyBytes += length
                writeBody(.fileRegion(region))
                wrote = true
            case .upstream, .none:
                // Streamed by UpstreamDownload, or nothing to send yet (the
                // body is still being loaded).
                break writing
            }
        }
        if wrote { context.flush() }
    }

    /// The channel's writability changed: a body waiting for the client
    /// goes on (or, streamed from the store, asks it for more).
    func resumeBody() {
        guard let exchange else { return }
        if exchange.upstream != nil {
            upstreamWritabilityChanged(exchange)
        } else {
            pump(exchange)
        }
    }

    /// Ends a request that failed: an error page when nothing was sent yet,
    /// otherwise the response is cut short so the client sees it truncated
    /// rather than a complete-looking wrong one.
    func fail(_ exchange: Exchange, _ error: any Error) {
        guard exchange === self.exchange else { return }
        if error is CancellationError { return } // the client went away
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
        execute(services.pipeline.page(services.pipeline.pages.page(kind), isPreview: exchange.isPreview), exchange)
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

extension Exchange {
    /// Counts a finished response and writes its access-log line.
    func record(services: ProxyServices, now: NIODeadline) {
        let nanoseconds = (now - startedAt).nanoseconds
        services.metrics.response(status: status, cacheHit: cacheHit, bodyBytes: bodyBytes, duration: nanoseconds)
        services.accessLog.record(
            method: request.method, host: request.host, target: request.target, status: status,
            bodyBytes: bodyBytes, nanoseconds: nanoseconds, cache: cacheHit, client: client)
    }

    /// Stops everything still running for this exchange: its client is gone.
    func abandon() {
        task?.cancel()
        task = nil
        upstream?.cancel()
        closeFile()
    }
}
