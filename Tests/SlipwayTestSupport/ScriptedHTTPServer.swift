import NIOCore
public import NIOHTTP1
import NIOPosix
import Synchronization

/// A tiny in-process HTTP server on 127.0.0.1 (port 0) that answers with a
/// script of canned replies: a stand-in for the faults a real store cannot
/// be made to produce on demand (503 SlowDown, 500, a stalled answer), and a
/// receiver of Slipway's build notifications.
///
/// It records every request (method, URI, headers, body) so tests can count
/// attempts and compare what each attempt carried.
public final class ScriptedHTTPServer: Sendable {
    /// One scripted answer.
    public enum Reply: Sendable {
        case respond(status: HTTPResponseStatus, headers: [(String, String)] = [], body: String = "")
        /// Read the request and never answer.
        case stall
        /// Answer 200 announcing `declaredLength` bytes, send only `body`,
        /// then close the connection or fall silent.
        case partial(declaredLength: Int, body: String, then: AfterPartial)
        /// Decide from the request itself (its URI, headers or body): a
        /// stand-in peer whose answers depend on what it is asked, e.g. an
        /// HTTP-01 responder or a scripted ACME server.
        case compute(@Sendable (Recorded) -> Reply)

        public enum AfterPartial: Sendable {
            case close
            case stall
        }
    }

    /// A request as the server received it.
    public struct Recorded: Sendable {
        public var method: HTTPMethod
        public var uri: String
        public var headers: HTTPHeaders
        public var body: [UInt8]
    }

    private struct State {
        var replies: [Reply]
        var fallback: Reply
        var recorded: [Recorded] = []
        var connections: [any Channel] = []
    }

    private let state: Mutex<State>
    private let listener = Mutex<(any Channel)?>(nil)

    private init(replies: [Reply], fallback: Reply) {
        state = Mutex(State(replies: replies, fallback: fallback))
    }

    /// Starts a server that answers with `replies` in order, then `fallback` forever.
    public static func start(replies: [Reply], fallback: Reply) async throws -> ScriptedHTTPServer {
        let server = ScriptedHTTPServer(replies: replies, fallback: fallback)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                server.state.withLock { $0.connections.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        server.listener.withLock { $0 = channel }
        return server
    }

    /// `http://127.0.0.1:<port>`.
    public var endpoint: String {
        "http://127.0.0.1:\(port)"
    }

    public var port: Int {
        listener.withLock { $0?.localAddress?.port } ?? 0
    }

    /// Every request received so far.
    public var requests: [Recorded] { state.withLock { $0.recorded } }

    /// The requests once at least `count` have arrived, or what came within `timeout`.
    public func requests(atLeast count: Int, within timeout: Duration = .seconds(30)) async throws -> [Recorded] {
        let deadline = ContinuousClock.now + timeout
        while requests.count < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        return requests
    }

    /// Closes the listener and every connection (stalled ones included).
    public func shutdown() async throws {
        let channels = state.withLock { $0.connections } + [listener.withLock { $0 }].compactMap { $0 }
        for channel in channels {
            try? await channel.close()
        }
    }

    fileprivate func reply(to request: Recorded) -> Reply {
        state.withLock { state in
            state.recorded.append(request)
            return state.replies.isEmpty ? state.fallback : state.replies.removeFirst()
        }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let server: ScriptedHTTPServer
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(server: ScriptedHTTPServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(let chunk):
                body.append(contentsOf: chunk.readableBytesView)
            case .end:
                guard let head else { return }
                let request = Recorded(method: head.method, uri: head.uri, headers: head.headers, body: body)
                var reply = server.reply(to: request)
                while case .compute(let decide) = reply { reply = decide(request) }
                switch reply {
                case .stall, .compute:
                    return
                case .partial(let declaredLength, let text, let after):
                    let headers: HTTPHeaders = ["content-length": String(declaredLength), "etag": "\"partial\""]
                    context.write(
                        wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))),
                        promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                    if case .close = after { context.close(promise: nil) }
                case .respond(let status, let headers, let text):
                    var responseHeaders = HTTPHeaders(headers)
                    responseHeaders.replaceOrAdd(name: "content-length", value: String(text.utf8.count))
                    context.write(
                        wrapOutboundOut(
                            .head(HTTPResponseHead(version: head.version, status: status, headers: responseHeaders))),
                        promise: nil)
                    if head.method != .HEAD {
                        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                    }
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                }
            }
        }
    }
}
