import Foundation
import Model
import NIOCore
import NIOHTTP1
import NIOPosix
import Storage
import Synchronization

/// A tiny in-process S3 stand-in on 127.0.0.1 (port 0), path-style
/// (`/<bucket>/<key>`), for the faults a real store cannot be made to produce
/// on demand: a 500, a stall before or in the middle of a body, a reset
/// mid-body, a slow answer. It does not check signatures (Ceph tests do).
///
/// It serves seeded objects (honouring a single `Range`), writes bodies only
/// as fast as its client reads them, and counts, per key, the GETs it
/// received, the body bytes it wrote and the downloads its client abandoned.
final class FaultyStore: Sendable {
    enum Behavior: Sendable, Hashable {
        /// Answer normally.
        case serve
        /// Answer with this status and an S3 XML error document.
        case fail(status: Int)
        /// Read the request and never answer.
        case stallHead
        /// Answer normally after this long.
        case delayHead(Duration)
        /// Send the head and this many body bytes, then reset the connection.
        case resetAfter(bytes: Int)
        /// Send the head and this many body bytes, then fall silent.
        case stallAfter(bytes: Int)
        /// Hold the request until `release(_:)` is called for its key.
        case hold
    }

    static let bucket = "faulty"
    static let secretInErrors = "SECRET-DETAIL-FROM-THE-STORE"

    private struct State {
        var objects: [String: Data] = [:]
        var behaviors: [String: Behavior] = [:]
        var gets: [String: Int] = [:]
        var bytesWritten: [String: Int] = [:]
        var abandoned: [String: Int] = [:]
        var held: [String: [@Sendable () -> Void]] = [:]
        var connections: [ObjectIdentifier: any Channel] = [:]
    }

    private let state = Mutex(State())
    private let channel = Mutex<(any Channel)?>(nil)

    var port: Int { channel.withLock { $0?.localAddress?.port ?? 0 } }
    var endpoint: String { "http://127.0.0.1:\(port)" }

    static func start() async throws -> FaultyStore {
        let store = FaultyStore()
        let bound = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                store.state.withLock { $0.connections[ObjectIdentifier(channel)] = channel }
                channel.closeFuture.whenComplete { _ in
                    _ = store.state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(FaultyStoreHandler(store: store))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        store.channel.withLock { $0 = bound }
        return store
    }

    func stop() async {
        let listener = channel.withLock { $0 }
        try? await listener?.close()
        let open = state.withLock { Array($0.connections.values) }
        for connection in open { try? await connection.close() }
    }

    /// An S3 store of the proxy's kind pointed at this server.
    func objectStore(
        timeouts: S3Configuration.Timeouts = .init(connect: .seconds(2), response: .seconds(5), idleRead: .seconds(5))
    )
        throws -> S3ObjectStore
    {
        try S3ObjectStore(
            configuration: S3Configuration(
                endpoint: endpoint, bucket: Self.bucket, region: "us-east-1", accessKeyID: "FAKEACCESSKEY",
                secretAccessKey: "fake-secret-key", addressing: .path, retry: .none, timeouts: timeouts),
            logger: TestProxy.quietLogger)
    }

    func seed(_ key: String, _ data: Data) {
        state.withLock { $0.objects[key] = data }
    }

    /// Publishes a fixture's files, their gzip variants and its manifest
    /// straight into the store.
    func seed(_ fixture: FixtureSite) {
        for (path, file) in fixture.manifest.files {
            seed(fixture.manifest.objectKey(for: path), fixture.data(path))
            if let variant = file.variants["gzip"] {
                seed(fixture.manifest.objectKey(for: variant.path), fixture.data(variant.path))
            }
        }
        seed(
            BuildManifest.key(siteID: fixture.manifest.siteID, buildID: fixture.manifest.buildID),
            try! fixture.manifest.encoded())
    }

    func setBehavior(_ behavior: Behavior, for key: String) {
        state.withLock { $0.behaviors[key] = behavior }
    }

    /// Answers every request held for `key`, normally, and stops holding new ones.
    func release(_ key: String) {
        let waiting = state.withLock { state in
            state.behaviors[key] = .serve
            return state.held.removeValue(forKey: key) ?? []
        }
        for resume in waiting { resume() }
    }

    /// How many requests for `key` are being held.
    func heldCount(_ key: String) -> Int { state.withLock { $0.held[key]?.count ?? 0 } }

    fileprivate func hold(_ key: String, _ resume: @escaping @Sendable () -> Void) {
        state.withLock { $0.held[key, default: []].append(resume) }
    }

    func gets(_ key: String) -> Int { state.withLock { $0.gets[key] ?? 0 } }
    func bytesWritten(_ key: String) -> Int { state.withLock { $0.bytesWritten[key] ?? 0 } }
    func abandoned(_ key: String) -> Int { state.withLock { $0.abandoned[key] ?? 0 } }
    var openConnections: Int { state.withLock { $0.connections.count } }

    fileprivate func begin(key: String) -> (Data?, Behavior) {
        state.withLock { state in
            state.gets[key, default: 0] += 1
            return (state.objects[key], state.behaviors[key] ?? .serve)
        }
    }

    fileprivate func wrote(_ count: Int, key: String) {
        state.withLock { $0.bytesWritten[key, default: 0] += count }
    }

    fileprivate func abandon(key: String) {
        state.withLock { $0.abandoned[key, default: 0] += 1 }
    }
}

/// Answers one request at a time on a connection.
private final class FaultyStoreHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let store: FaultyStore
    private var head: HTTPRequestHead?
    /// A body being written: remaining bytes, key, bytes until a fault.
    private var pending: (body: ByteBuffer, key: String, faultAfter: Int?, fault: FaultyStore.Behavior)?

    init(store: FaultyStore) {
        self.store = store
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, head: head)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let pending, pending.body.readableBytes > 0 { store.abandon(key: pending.key) }
        pending = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let prefix = "/\(FaultyStore.bucket)/"
        guard head.method == .GET, path.hasPrefix(prefix),
            let key = String(path.dropFirst(prefix.count)).removingPercentEncoding
        else {
            send(context: context, status: .methodNotAllowed, body: ByteBuffer())
            return
        }
        let (object, behavior) = store.begin(key: key)
        switch behavior {
        case .stallHead:
            return
        case .hold:
            let eventLoop = context.eventLoop
            let loopBound = NIOLoopBound((self, context), eventLoop: eventLoop)
            store.hold(key) {
                eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.serve(context: context, head: head, key: key, object: object, behavior: .serve)
                }
            }
            return
        case .fail(let status):
            let xml =
                "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>\(FaultyStore.secretInErrors)</Message></Error>"
            send(context: context, status: HTTPResponseStatus(statusCode: status), body: ByteBuffer(string: xml))
            return
        case .delayHead(let delay):
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
                serve(context: context, head: head, key: key, object: object, behavior: .serve)
            }
            return
        case .serve, .resetAfter, .stallAfter:
            serve(context: context, head: head, key: key, object: object, behavior: behavior)
        }
    }

    private func serve(
        context: ChannelHandlerContext, head: HTTPRequestHead, key: String, object: Data?,
        behavior: FaultyStore.Behavior
    ) {
        guard let object else {
            let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>"
            send(context: context, status: .notFound, body: ByteBuffer(string: xml))
            return
        }
        var body = ByteBuffer(bytes: object)
        var status = HTTPResponseStatus.ok
        var headers = HTTPHeaders()
        if let range = head.headers.first(name: "range"), range.hasPrefix("bytes="),
            case let parts = range.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false),
            parts.count == 2,
            let first = Int(parts[0])
        {
            let last = min(Int(parts[1]) ?? (object.count - 1), object.count - 1)
            body = ByteBuffer(bytes: object[first...last])
            status = .partialContent
            headers.add(name: "Content-Range", value: "bytes \(first)-\(last)/\(object.count)")
        }
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "ETag", value: "\"fake\"")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        let faultAfter: Int? =
            switch behavior {
            case .resetAfter(let bytes), .stallAfter(let bytes): bytes
            default: nil
            }
        pending = (body, key, faultAfter, behavior)
        pump(context: context)
    }

    /// Writes the body in 64 KiB slices while the client reads.
    private func pump(context: ChannelHandlerContext) {
        guard var current = pending else { return }
        while context.channel.isWritable, current.body.readableBytes > 0 {
            var length = min(64 << 10, current.body.readableBytes)
            if let faultAfter = current.faultAfter {
                length = min(length, faultAfter)
                if length == 0 {
                    pending = current
                    context.flush()
                    fault(context: context, current.fault)
                    return
                }
                current.faultAfter = faultAfter - length
            }
            let slice = current.body.readSlice(length: length)!
            store.wrote(length, key: current.key)
            context.write(wrapOutboundOut(.body(.byteBuffer(slice))), promise: nil)
        }
        if current.body.readableBytes == 0 {
            pending = nil
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            pending = current
            context.flush()
        }
    }

    private func fault(context: ChannelHandlerContext, _ behavior: FaultyStore.Behavior) {
        switch behavior {
        case .resetAfter:
            pending = nil
            // SO_LINGER 0: close with a reset, as a crashing store would.
            let channel = context.channel
            guard let options = channel as? any SocketOptionProvider else {
                channel.close(promise: nil)
                return
            }
            options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
                channel.close(promise: nil)
            }
        default:
            pending = nil // fall silent with the connection open
        }
    }

    private func send(context: ChannelHandlerContext, status: HTTPResponseStatus, body: ByteBuffer) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Content-Type", value: "application/xml")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
