import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Storage

extension ExchangeResponder {
    /// Sends a file of the build: from the body cache when it is there
    /// (written from memory on the event loop), otherwise read whole into
    /// the cache when small (concurrent misses share one read), otherwise
    /// streamed from the store with backpressure and never cached.
    func serveFile(_ reply: FileReply, _ exchange: Exchange) {
        let object = reply.object
        let cache = services.bodyCache

        guard reply.sendsBody else {
            // HEAD: the GET's headers, nothing read from the store.
            exchange.cacheHit = object.isCacheable && cache.contains(object.cacheKey)
            writeHead(exchange, reply: reply)
            finish(exchange)
            return
        }

        if object.isCacheable {
            if let cached = cache.get(object.cacheKey) {
                exchange.cacheHit = true
                sendMemory(cached, reply: reply, exchange)
                return
            }
            let source = services.bodySource
            let upstream = services.upstream
            runAsync(exchange, { try await source.loadCached(object, into: cache, upstream: upstream) }) { bytes in
                self.sendMemory(bytes, reply: reply, exchange)
            }
            return
        }

        switch services.bodySource {
        case .localFiles(let files, _):
            sendLocalFile(files, reply: reply, exchange)
        case .presigned(let store, let client):
            streamFromStore(store, client: client, reply: reply, exchange)
        }
    }

    private func sendMemory(_ bytes: ByteBuffer, reply: FileReply, _ exchange: Exchange) {
        guard Int64(bytes.readableBytes) == reply.object.size,
            let slice = bytes.getSlice(at: bytes.readerIndex + Int(reply.range.lowerBound), length: reply.range.count)
        else {
            // A cached body that does not match the manifest (only a bug in
            // whatever filled the cache could cause it): never serve it.
            fail(
                exchange,
                ProxyError.objectMismatch(
                    "the cached body of \(reply.object.objectKey) does not have its manifest size"))
            return
        }
        writeHead(exchange, reply: reply)
        exchange.body = .memory(slice)
        pump(exchange)
    }

    /// Opens the store's file off the event loop, checks its size against
    /// the manifest, then sends the range with `sendfile` in slices.
    private func sendLocalFile(_ files: any LocalObjectFiles, reply: FileReply, _ exchange: Exchange) {
        let expectedSize = reply.object.size
        let objectKey = reply.object.objectKey
        let opened = NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { () throws -> NIOFileHandle in
            let file: LocalObjectFile
            do {
                file = try files.openForReading(objectKey)
            } catch {
                throw ProxyError.upstreamFailed("cannot open \(objectKey) in the disk store: \(error)")
            }
            // NIO sends files only through a `FileRegion` over an
            // `NIOFileHandle`; the store opened the file, the handle owns its
            // descriptor from here on and closes it.
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: file.descriptor)
            guard file.size == expectedSize else {
                try? handle.close()
                throw ProxyError.objectMismatch(
                    "\(objectKey) has \(file.size) bytes but its manifest says \(expectedSize); rebuild the site")
            }
            return handle
        }
        opened.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let file):
                guard exchange === self.exchange else {
                    try? file.close()
                    return
                }
                exchange.file = file
                writeHead(exchange, reply: reply)
                exchange.body = .file(next: reply.range.lowerBound, end: reply.range.upperBound)
                pump(exchange)
            case .failure(let error):
                fail(exchange, error)
            }
        }
    }

    // MARK: Streaming from the S3-compatible store

    /// Starts a presigned GET whose body is written to the client chunk by
    /// chunk, asking the store for more only when the client can take it.
    private func streamFromStore(
        _ store: any ObjectStore, client: HTTPClient, reply: FileReply, _ exchange: Exchange
    ) {
        let request: HTTPClient.Request
        do {
            let url = try store.presignedGET(key: reply.object.objectKey, expiresIn: services.upstream.presignExpiry)
            var upstreamHeaders = HTTPHeaders()
            let isPartial = reply.range.count != Int(reply.object.size)
            if isPartial {
                upstreamHeaders.add(
                    name: "Range", value: "bytes=\(reply.range.lowerBound)-\(reply.range.upperBound - 1)")
            }
            request = try HTTPClient.Request(url: url.url, method: .GET, headers: upstreamHeaders)
        } catch {
            fail(exchange, ProxyError.upstreamFailed("cannot make a request for \(reply.object.objectKey): \(error)"))
            return
        }
        let machine = UpstreamStreamStateMachine(
            configuration: .init(
                headTimeout: TimeAmount(services.upstream.timeout),
                idleTimeout: TimeAmount(services.upstream.idleTimeout)),
            expectedLength: Int64(reply.range.count),
            expectedStatus: reply.range.count != Int(reply.object.size) ? .partialContent : .ok,
            now: now())
        let download = UpstreamDownload(machine: machine, reply: reply)
        exchange.upstream = download
        exchange.body = .upstream
        let delegate = UpstreamResponseDelegate(
            handler: NIOLoopBound(self, eventLoop: context.eventLoop),
            exchange: NIOLoopBound(exchange, eventLoop: context.eventLoop))
        download.task = client.execute(
            request: request, delegate: delegate, eventLoop: .delegateAndChannel(on: context.eventLoop))
        rearmUpstreamTimer(exchange)
    }

    func upstreamHead(_ head: HTTPResponseHead, _ exchange: Exchange) -> EventLoopFuture<Void> {
        guard exchange === self.exchange, let download = exchange.upstream else {
            return context.eventLoop.makeFailedFuture(CancellationError())
        }
        let length = head.headers.first(name: "content-length").flatMap { Int64($0) }
        switch download.machine.headReceived(status: head.status, contentLength: length, now: now()) {
        case .startResponse:
            writeHead(exchange, reply: download.reply)
            context.flush()
            rearmUpstreamTimer(exchange)
            return context.eventLoop.makeSucceededVoidFuture()
        case .fail(let failure):
            download.cancel()
            failUpstream(exchange, failure)
            return context.eventLoop.makeFailedFuture(CancellationError())
        }
    }

    func upstreamChunk(_ chunk: ByteBuffer, _ exchange: Exchange) -> EventLoopFuture<Void> {
        guard exchange === self.exchange, let download = exchange.upstream else {
            return context.eventLoop.makeFailedFuture(CancellationError())
        }
        let bytes = chunk.readableBytes
        // Written first, so the writability checked below includes this chunk.
        writeBody(.byteBuffer(chunk))
        context.flush()
        switch download.machine.chunkReceived(bytes: bytes, clientWritable: context.channel.isWritable, now: now()) {
        case .writeAndContinue:
            exchange.bodyBytes += Int64(bytes)
            rearmUpstreamTimer(exchange)
            return context.eventLoop.makeSucceededVoidFuture()
        case .writeAndHold:
            exchange.bodyBytes += Int64(bytes)
            let promise = context.eventLoop.makePromise(of: Void.self)
            download.heldDemand = promise
            return promise.futureResult
        case .drop:
            return context.eventLoop.makeSucceededVoidFuture()
        }
    }

    func upstreamFinished(_ exchange: Exchange) {
        guard exchange === self.exchange, let download = exchange.upstream else { return }
        download.cancelTimer()
        switch download.machine.upstreamFinished() {
        case .finishResponse:
            exchange.upstream = nil
            finish(exchange)
        case .abortConnection:
            services.logger.warning(
                "the object store ended a body early", metadata: ["object": "\(download.reply.object.objectKey)"])
            abort(exchange)
        case .failPage(let failure):
            failUpstream(exchange, failure)
        case .none:
            break
        }
    }

    func upstreamFailed(_ error: any Error, _ exchange: Exchange) {
        guard exchange === self.exchange, let download = exchange.upstream else { return }
        download.cancelTimer()
        switch download.machine.upstreamFailed(String(describing: error)) {
        case .failPage:
            exchange.upstream = nil
            fail(exchange, classifyUpstreamError(error, what: download.reply.object.objectKey))
        case .abortConnection:
            services.logger.warning(
                "the object store failed mid-body",
                metadata: ["object": "\(download.reply.object.objectKey)", "error": "\(error)"])
            abort(exchange)
        case .finishResponse, .none:
            break
        }
    }

    func upstreamWritabilityChanged(_ exchange: Exchange) {
        guard let download = exchange.upstream else { return }
        if download.machine.clientWritabilityChanged(isWritable: context.channel.isWritable, now: now()) {
            let demand = download.heldDemand
            download.heldDemand = nil
            demand?.succeed()
            rearmUpstreamTimer(exchange)
        }
    }

    private func failUpstream(_ exchange: Exchange, _ failure: UpstreamStreamStateMachine.Failure) {
        exchange.upstream?.cancelTimer()
        exchange.upstream = nil
        let error: ProxyError =
            switch failure {
            case .headTimeout: .upstreamTimeout("the object store did not answer within the upstream timeout")
            case .badResponse(let message), .upstreamError(let message): .upstreamFailed(message)
            }
        fail(exchange, error)
    }

    /// Keeps one timer armed for the stream's next deadline (head or idle).
    private func rearmUpstreamTimer(_ exchange: Exchange) {
        guard let download = exchange.upstream, let next = download.machine.nextDeadline else { return }
        if let armed = download.timerDeadline, armed <= next { return }
        download.timer?.cancel()
        download.timerDeadline = next
        download.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: next) { [self] in
            download.timer = nil
            download.timerDeadline = nil
            guard exchange === self.exchange, exchange.upstream === download else { return }
            switch download.machine.timerFired(now: now()) {
            case .wait:
                rearmUpstreamTimer(exchange)
            case .cancelAndFailPage(let failure):
                download.cancel()
                failUpstream(exchange, failure)
            case .cancelAndAbort:
                download.cancel()
                services.logger.warning(
                    "the object store stalled mid-body", metadata: ["object": "\(download.reply.object.objectKey)"])
                abort(exchange)
            }
        }
    }
}

/// One presigned GET in progress: its state machine, the client task, the
/// demand held back while the client is slow, and the timer.
final class UpstreamDownload {
    var machine: UpstreamStreamStateMachine
    let reply: FileReply
    var task: HTTPClient.Task<Void>?
    var heldDemand: EventLoopPromise<Void>?
    var timer: Scheduled<Void>?
    var timerDeadline: NIODeadline?

    init(machine: UpstreamStreamStateMachine, reply: FileReply) {
        self.machine = machine
        self.reply = reply
    }

    func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }

    /// Stops the download: the store connection is closed, nothing more is read.
    func cancel() {
        cancelTimer()
        _ = machine.clientClosed()
        task?.cancel()
        task = nil
        let demand = heldDemand
        heldDemand = nil
        demand?.fail(CancellationError())
    }
}

/// Hands AsyncHTTPClient's callbacks to the request handler. The request is
/// executed with `.delegateAndChannel(on:)` the client connection's event
/// loop, so every callback runs on that loop, where the handler lives.
final class UpstreamResponseDelegate<Responder: ExchangeResponder>: HTTPClientResponseDelegate {
    typealias Response = Void

    private let handler: NIOLoopBound<Responder>
    private let exchange: NIOLoopBound<Exchange>

    init(handler: NIOLoopBound<Responder>, exchange: NIOLoopBound<Exchange>) {
        self.handler = handler
        self.exchange = exchange
    }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        handler.value.upstreamHead(head, exchange.value)
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        handler.value.upstreamChunk(buffer, exchange.value)
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        handler.value.upstreamFailed(error, exchange.value)
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        handler.value.upstreamFinished(exchange.value)
    }
}

extension ExchangeResponder {
    /// Reads the slice `offset..<offset+length` of the exchange's file off
    /// the event loop, then writes it and asks `pump` for the next one
    /// (``FileDelivery/buffers``): one slice in flight, read only while the
    /// client is taking bytes.
    func readFileSlice(_ file: NIOFileHandle, at offset: Int64, length: Int, end: Int64, _ exchange: Exchange) {
        guard !exchange.readingFile else { return }
        exchange.readingFile = true
        let allocator = context.channel.allocator
        let read = NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { () throws -> ByteBuffer in
            var buffer = allocator.buffer(capacity: length)
            try file.withUnsafeFileDescriptor { descriptor in
                _ = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
                    try LocalObjectFile.read(
                        descriptor: descriptor, at: offset,
                        into: UnsafeMutableRawBufferPointer(rebasing: raw[..<length]))
                }
            }
            return buffer
        }
        read.assumeIsolated().whenComplete { [self] result in
            exchange.readingFile = false
            if exchange.closeFileAfterRead { exchange.closeFile() }
            guard exchange === self.exchange else { return }
            switch result {
            case .success(let buffer) where buffer.readableBytes == length:
                exchange.body = .file(next: offset + Int64(length), end: end)
                exchange.bodyBytes += Int64(length)
                writeBody(.byteBuffer(buffer))
                context.flush()
                pump(exchange)
            case .success:
                // The file is shorter than the size it was opened with: the
                // head is sent, so the client must see a truncated answer.
                fail(exchange, ProxyError.objectMismatch("a stored file shrank while it was being sent"))
            case .failure(let error):
                fail(exchange, ProxyError.upstreamFailed("cannot read a stored file: \(error)"))
            }
        }
    }
}
