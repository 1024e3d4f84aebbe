import Logging
import NIOCore
import NIOPosix

/// One try against one server: UDP first, then TCP when the UDP answer is
/// truncated (RFC 1035 §4.2.1, RFC 7766 §5).
///
/// UDP goes through a connected socket, so the kernel drops datagrams from
/// other addresses; the handler also checks the sender and drops datagrams
/// whose ID is not the query's, so a late answer to an earlier try or a
/// spoofed datagram does not end the wait. TCP messages carry a 2-byte
/// length prefix, which bounds an answer to 64 KiB. Every wait ends with a
/// task scheduled on the channel's event loop, so a server that never
/// answers gives a timeout, never a hang.
extension DNSResolver {
    /// Asks `server` and returns its answer (any RCODE).
    /// - Throws: ``DNSError`` (`timeout`, `unreachable`,
    ///   `malformed_response`), or `CancellationError` when the task is
    ///   cancelled.
    func exchange(_ query: DNSQuery, with server: SocketAddress) async throws -> DNSResponse {
        var transport = "udp"
        do {
            var decoded = try await exchangeUDP(query, with: server)
            if decoded == .truncated {
                transport = "tcp"
                decoded = try await exchangeTCP(query, with: server)
            }
            switch decoded {
            case .response(let response):
                logger.debug(
                    "DNS answer",
                    metadata: [
                        "dns.server": "\(Self.describe(server))", "dns.name": "\(query.name)",
                        "dns.type": "\(query.type)",
                        "dns.transport": "\(transport)", "dns.rcode": "\(response.rcode)",
                        "dns.answers": "\(response.answers.count)",
                    ])
                return response
            case .truncated:
                throw DNSDecodingError.malformed("the answer over TCP is marked truncated")
            }
        } catch let error as DNSDecodingError {
            throw DNSError.malformedResponse(server: Self.describe(server), name: query.name, error.reason)
        } catch is TransportTimeout {
            throw DNSError.timeout(
                server: Self.describe(server), name: query.name, type: query.type, after: configuration.timeout)
        } catch let error as CancellationError {
            throw error
        } catch let error as DNSError {
            throw error
        } catch {
            throw DNSError.unreachable(server: Self.describe(server), name: query.name, "\(transport): \(error)")
        }
    }

    /// `127.0.0.1:53` or `[::1]:53`.
    static func describe(_ server: SocketAddress) -> String {
        guard let ip = server.ipAddress, let port = server.port else { return "\(server)" }
        if case .v6 = server { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    private var timeoutAmount: TimeAmount {
        let components = configuration.timeout.components
        return .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }

    private func exchangeUDP(_ query: DNSQuery, with server: SocketAddress) async throws -> DNSMessageDecoder.Decoded {
        let eventLoop = eventLoopGroup.next()
        let promise = eventLoop.makePromise(of: DNSMessageDecoder.Decoded.self)
        let logger = self.logger
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: eventLoop)
                // A server may ignore the advertised payload size; read
                // whatever datagram arrives whole rather than cut it.
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_535))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            UDPResponseHandler(query: query, server: server, promise: promise, logger: logger))
                    }
                }
                .connect(to: server).get()
        } catch {
            promise.fail(error)
            throw error
        }
        return try await wait(for: promise, closing: channel) {
            channel.writeAndFlush(ByteBuffer(bytes: query.bytes)).whenFailure { promise.fail($0) }
        }
    }

    private func exchangeTCP(_ query: DNSQuery, with server: SocketAddress) async throws -> DNSMessageDecoder.Decoded {
        let eventLoop = eventLoopGroup.next()
        let promise = eventLoop.makePromise(of: DNSMessageDecoder.Decoded.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(timeoutAmount)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            TCPResponseHandler(query: query, promise: promise))
                    }
                }
                .connect(to: server).get()
        } catch ChannelError.connectTimeout {
            promise.fail(TransportTimeout())
            throw TransportTimeout()
        } catch {
            promise.fail(error)
            throw error
        }
        var message = ByteBuffer()
        let bytes = query.bytes
        message.writeInteger(UInt16(bytes.count))
        message.writeBytes(bytes)
        return try await wait(for: promise, closing: channel) {
            channel.writeAndFlush(message).whenFailure { promise.fail($0) }
        }
    }

    /// Sends with `send`, then waits for `promise` at most the configured
    /// timeout; closes `channel` whatever happens.
    private func wait(
        for promise: EventLoopPromise<DNSMessageDecoder.Decoded>,
        closing channel: any Channel,
        send: () -> Void
    ) async throws -> DNSMessageDecoder.Decoded {
        let timeout = promise.futureResult.eventLoop.scheduleTask(in: timeoutAmount) {
            promise.fail(TransportTimeout())
        }
        promise.futureResult.whenComplete { _ in
            timeout.cancel()
            channel.close(promise: nil)
        }
        send()
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            promise.fail(CancellationError())
        }
    }
}

/// The per-try timeout fired.
struct TransportTimeout: Error {}

/// Waits on a connected UDP channel for the datagram that answers `query`.
private final class UDPResponseHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let query: DNSQuery
    private let server: SocketAddress
    private let promise: EventLoopPromise<DNSMessageDecoder.Decoded>
    private let logger: Logger

    init(
        query: DNSQuery, server: SocketAddress, promise: EventLoopPromise<DNSMessageDecoder.Decoded>, logger: Logger
    ) {
        self.query = query
        self.server = server
        self.promise = promise
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server else {
            logger.debug(
                "DNS datagram from another address dropped", metadata: ["dns.from": "\(envelope.remoteAddress)"])
            return
        }
        let bytes = Array(envelope.data.readableBytesView)
        guard DNSMessageDecoder.messageID(bytes) == query.id else {
            logger.debug("DNS datagram with another ID dropped", metadata: ["dns.name": "\(query.name)"])
            return
        }
        do {
            promise.succeed(try DNSMessageDecoder.decode(bytes, answering: query))
        } catch {
            promise.fail(error)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}

/// Reads one length-prefixed DNS message from a TCP connection.
private final class TCPResponseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let query: DNSQuery
    private let promise: EventLoopPromise<DNSMessageDecoder.Decoded>
    private var received = ByteBuffer()

    init(query: DNSQuery, promise: EventLoopPromise<DNSMessageDecoder.Decoded>) {
        self.query = query
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        received.writeBuffer(&chunk)
        // The 2-byte prefix bounds the message to 65535 bytes; nothing past
        // it is kept.
        guard let length = received.getInteger(at: received.readerIndex, as: UInt16.self),
            received.readableBytes >= 2 + Int(length),
            let bytes = received.getBytes(at: received.readerIndex + 2, length: Int(length))
        else { return }
        do {
            promise.succeed(try DNSMessageDecoder.decode(bytes, answering: query))
        } catch {
            promise.fail(error)
        }
        received = ByteBuffer()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ConnectionClosedEarly(received: received.readableBytes))
        context.fireChannelInactive()
    }
}

/// The TCP peer closed before a whole answer arrived.
struct ConnectionClosedEarly: Error, CustomStringConvertible {
    let received: Int
    var description: String { "the connection closed after \(received) bytes, before a whole answer" }
}
