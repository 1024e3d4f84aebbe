import Foundation
import NIOCore
import NIOHPACK
import NIOPosix
import NIOSSL
import NIOTLS
import SlipwayTestSupport
import Synchronization

/// A TLS connection to the edge whose bytes the test writes and reads
/// itself: HTTP/2 frames made by hand (``HTTP2Wire``), so a test can send
/// what no well-behaved client sends — floods, resets, a window left at
/// zero — and see exactly which frames come back.
final class RawTLSConnection: Sendable {
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        struct State {
            var bytes: [UInt8] = []
            var closed = false
            var negotiated: String?
            var handshakeDone = false
            var error: String?
        }
        let state = Mutex(State())

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLock { $0.bytes += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.closed = true }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event {
                state.withLock {
                    $0.handshakeDone = true
                    $0.negotiated = negotiated
                }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            state.withLock { $0.error = "\(error)" }
            context.close(promise: nil)
        }
    }

    private let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// Writes bytes as soon as the connection is up, before the TLS handshake
    /// (what a load balancer's PROXY protocol header is).
    private final class Preamble: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
            context.fireChannelActive()
        }
    }

    /// Connects to 127.0.0.1:`port` with `serverName` as SNI and offers
    /// `alpn`, trusting `root`; returns once the handshake is done.
    /// - Parameters:
    ///   - receiveBuffer: a small socket buffer makes a client that stops reading fill up quickly.
    ///   - preamble: bytes sent before the handshake (a PROXY protocol header).
    static func connect(
        port: Int, serverName: String, trusting root: NIOSSLCertificate, alpn: [String],
        receiveBuffer: Int? = nil, preamble: [UInt8]? = nil
    ) async throws -> RawTLSConnection {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([root])
        tls.applicationProtocols = alpn
        let context = try NIOSSLContext(configuration: tls)
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        let channel = try await bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if let preamble { try channel.pipeline.syncOperations.addHandler(Preamble(preamble)) }
                try channel.pipeline.syncOperations.addHandler(
                    NIOSSLClientHandler(context: context, serverHostname: serverName))
                try channel.pipeline.syncOperations.addHandler(collector)
            }
        }.connect(host: "127.0.0.1", port: port).get()
        let connection = RawTLSConnection(channel: channel, collector: collector)
        try await connection.wait("the TLS handshake") { $0.handshakeDone || $0.closed }
        guard connection.collector.state.withLock({ $0.handshakeDone }) else {
            throw TestFailure("the handshake failed: \(connection.collector.state.withLock { $0.error ?? "closed" })")
        }
        return connection
    }

    /// The protocol ALPN chose, if any.
    var negotiatedProtocol: String? { collector.state.withLock { $0.negotiated } }
    var isClosed: Bool { collector.state.withLock { $0.closed } }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Takes the bytes received so far, at most `maximum`.
    func take(maximum: Int = .max) -> [UInt8] {
        collector.state.withLock { state in
            let taken = Array(state.bytes.prefix(maximum))
            state.bytes.removeFirst(taken.count)
            return taken
        }
    }

    /// Stops reading from the socket: a client that takes no more bytes.
    func stopReading() async throws {
        try await channel.setOption(.autoRead, value: false).get()
    }

    func close() {
        channel.close(promise: nil)
    }

    private func wait(_ what: String, timeout: Duration = .seconds(10), _ done: (Collector.State) -> Bool)
        async throws
    {
        let deadline = ContinuousClock.now + timeout
        while !collector.state.withLock({ done($0) }) {
            guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// HTTP/2 frames (RFC 9113 §4, §6) as bytes, and a client over a
/// ``RawTLSConnection`` that writes them and reads what comes back.
enum HTTP2Wire {
    enum FrameType: UInt8 {
        case data = 0
        case headers = 1
        case priority = 2
        case rstStream = 3
        case settings = 4
        case pushPromise = 5
        case ping = 6
        case goAway = 7
        case windowUpdate = 8
        case continuation = 9
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let endStream: UInt8 = 0x1
    static let endHeaders: UInt8 = 0x4
    static let ack: UInt8 = 0x1

    /// Error codes (RFC 9113 §7).
    static let noError: UInt32 = 0x0
    static let protocolError: UInt32 = 0x1
    static let cancel: UInt32 = 0x8
    static let refusedStream: UInt32 = 0x7
    static let enhanceYourCalm: UInt32 = 0xb

    static func frame(_ type: FrameType, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type.rawValue, flags]
            + be32(stream & 0x7fff_ffff) + payload
    }

    static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static func settings(_ values: [(UInt16, UInt32)] = []) -> [UInt8] {
        frame(.settings, values.flatMap { [UInt8($0.0 >> 8), UInt8($0.0 & 0xff)] + be32($0.1) })
    }

    static func ping(_ data: UInt64 = 0) -> [UInt8] {
        frame(.ping, (0..<8).map { UInt8(data >> (56 - 8 * $0) & 0xff) })
    }

    static func windowUpdate(stream: UInt32, _ increment: UInt32) -> [UInt8] {
        frame(.windowUpdate, stream: stream, be32(increment))
    }

    static func rstStream(_ stream: UInt32, code: UInt32 = cancel) -> [UInt8] {
        frame(.rstStream, stream: stream, be32(code))
    }

    static func data(_ stream: UInt32, _ bytes: [UInt8], endStream: Bool = false) -> [UInt8] {
        frame(.data, flags: endStream ? Self.endStream : 0, stream: stream, bytes)
    }

    /// A header block of literal fields without indexing or Huffman coding (RFC 7541 §6.2.2).
    static func headerBlock(_ fields: [(String, String)]) -> [UInt8] {
        var block: [UInt8] = []
        for (name, value) in fields {
            block.append(0)
            block += string(name)
            block += string(value)
        }
        return block
    }

    private static func string(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var encoded: [UInt8] = []
        if bytes.count < 127 {
            encoded.append(UInt8(bytes.count))
        } else {
            encoded.append(127)
            var rest = bytes.count - 127
            while rest >= 128 {
                encoded.append(UInt8(rest & 0x7f) | 0x80)
                rest >>= 7
            }
            encoded.append(UInt8(rest))
        }
        return encoded + bytes
    }

    /// A request's HEADERS frame.
    static func request(
        _ stream: UInt32, path: String, authority: String = "manual.apps.test", method: String = "GET",
        extra: [(String, String)] = [], endStream: Bool = true
    ) -> [UInt8] {
        let fields = [(":method", method), (":scheme", "https"), (":authority", authority), (":path", path)] + extra
        return frame(
            .headers, flags: endHeaders | (endStream ? Self.endStream : 0), stream: stream, headerBlock(fields))
    }

    struct Frame {
        var type: UInt8
        var flags: UInt8
        var stream: UInt32
        var payload: [UInt8]
    }

    /// One stream's answer as received so far.
    struct Answer {
        var headers: HPACKHeaders?
        var body: [UInt8] = []
        var ended = false
        var resetCode: UInt32?
        var status: Int? { headers?.first(name: ":status").flatMap { Int($0) } }
    }

    /// Writes frames and reads what the edge answers, frame by frame.
    final class Client {
        let connection: RawTLSConnection
        private var pending: [UInt8] = []
        private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
        private(set) var answers: [UInt32: Answer] = [:]
        private(set) var goAway: (lastStream: UInt32, code: UInt32)?
        private(set) var frames: [Frame] = []
        /// Sends WINDOW_UPDATE for every DATA frame received (a client that reads).
        var grantsWindow = true

        init(_ connection: RawTLSConnection) {
            self.connection = connection
        }

        /// Connects with ALPN `h2`, sends the preface and `settings`.
        static func connect(
            _ proxy: TestProxy, settings: [(UInt16, UInt32)] = [], receiveBuffer: Int? = nil,
            preamble: [UInt8]? = nil
        ) async throws -> Client {
            let connection = try await RawTLSConnection.connect(
                port: proxy.port, serverName: TestProxy.edgeName, trusting: proxy.trustRoot!,
                alpn: ["h2"], receiveBuffer: receiveBuffer, preamble: preamble)
            guard connection.negotiatedProtocol == "h2" else {
                throw TestFailure("ALPN chose \(connection.negotiatedProtocol ?? "nothing"), not h2")
            }
            let client = Client(connection)
            try await connection.send(HTTP2Wire.preface + HTTP2Wire.settings(settings))
            return client
        }

        func send(_ bytes: [UInt8]) async throws {
            try await connection.send(bytes)
        }

        /// Reads frames until `done` holds, the connection closes, or `timeout` passes.
        @discardableResult
        func waitUntil(
            _ what: String, timeout: Duration = .seconds(10), _ done: (Client) -> Bool
        ) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while true {
                try await receive()
                if done(self) { return true }
                if connection.isClosed {
                    try await receive()
                    if done(self) { return true }
                    throw TestFailure("the connection closed before \(what)")
                }
                guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting for \(what)") }
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        /// Reads until the edge closes the connection.
        func waitUntilClosed(timeout: Duration = .seconds(10)) async throws {
            let deadline = ContinuousClock.now + timeout
            while !connection.isClosed {
                try await receive()
                guard ContinuousClock.now < deadline else { throw TestFailure("the connection stayed open") }
                try await Task.sleep(for: .milliseconds(5))
            }
            try await receive()
        }

        /// Parses the bytes received so far into frames and answers.
        func receive() async throws {
            pending += connection.take()
            var replies: [UInt8] = []
            var at = 0
            defer { pending.removeFirst(at) }
            while pending.count - at >= 9 {
                let length = Int(pending[at]) << 16 | Int(pending[at + 1]) << 8 | Int(pending[at + 2])
                guard pending.count - at >= 9 + length else { break }
                let frame = Frame(
                    type: pending[at + 3], flags: pending[at + 4],
                    stream: UInt32(pending[at + 5] & 0x7f) << 24 | UInt32(pending[at + 6]) << 16
                        | UInt32(pending[at + 7]) << 8 | UInt32(pending[at + 8]),
                    payload: Array(pending[at + 9..<at + 9 + length]))
                at += 9 + length
                if frame.type != FrameType.data.rawValue { frames.append(frame) }
                switch FrameType(rawValue: frame.type) {
                case .settings where frame.flags & ack == 0:
                    replies += HTTP2Wire.frame(.settings, flags: ack)
                case .headers:
                    var block = ByteBuffer(bytes: frame.payload)
                    answers[frame.stream, default: Answer()].headers = try decoder.decodeHeaders(from: &block)
                    if frame.flags & HTTP2Wire.endStream != 0 { answers[frame.stream]?.ended = true }
                case .data:
                    answers[frame.stream, default: Answer()].body += frame.payload
                    if frame.flags & HTTP2Wire.endStream != 0 { answers[frame.stream]?.ended = true }
                    if grantsWindow && !frame.payload.isEmpty {
                        replies += HTTP2Wire.windowUpdate(stream: 0, UInt32(frame.payload.count))
                        replies += HTTP2Wire.windowUpdate(stream: frame.stream, UInt32(frame.payload.count))
                    }
                case .rstStream:
                    answers[frame.stream, default: Answer()].resetCode =
                        frame.payload.reduce(0) { $0 << 8 | UInt32($1) }
                case .goAway:
                    let last = frame.payload[0..<4].reduce(0) { $0 << 8 | UInt32($1) } & 0x7fff_ffff
                    let code = frame.payload[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
                    goAway = (last, code)
                default:
                    break
                }
            }
            if !replies.isEmpty && !connection.isClosed { try? await connection.send(replies) }
        }

        /// Sends a request and waits for its whole answer.
        func get(_ stream: UInt32, _ path: String, authority: String = "manual.apps.test") async throws -> Answer {
            try await send(HTTP2Wire.request(stream, path: path, authority: authority))
            try await waitUntil("the answer on stream \(stream)") {
                $0.answers[stream]?.ended == true || $0.answers[stream]?.resetCode != nil
            }
            return answers[stream]!
        }

        func close() { connection.close() }
    }
}
