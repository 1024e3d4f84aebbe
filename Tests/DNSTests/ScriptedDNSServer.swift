import NIOCore
import NIOPosix
import Synchronization

/// A DNS server of the tests' own on 127.0.0.1, UDP and TCP on one port,
/// that answers each query with whatever its script returns: the faults a
/// real DNS server cannot be made to produce on demand (truncated UDP
/// answers, silence, a datagram with the wrong ID before the right one,
/// answers too large for UDP). It counts the queries per transport.
final class ScriptedDNSServer: Sendable {
    enum Transport: Sendable { case udp, tcp }

    /// Returns the messages to send back for a query (none: stay silent).
    typealias Script = @Sendable (_ query: [UInt8], _ transport: Transport) -> [[UInt8]]

    let port: Int
    private let core: Core
    private let channels: [any Channel]

    /// `127.0.0.1:<port>`, as resolvers are configured.
    var address: String { "127.0.0.1:\(port)" }
    /// How many queries arrived over UDP and over TCP.
    var udpQueries: Int { core.counts.withLock { $0.udp } }
    var tcpQueries: Int { core.counts.withLock { $0.tcp } }

    private init(port: Int, core: Core, channels: [any Channel]) {
        self.port = port
        self.core = core
        self.channels = channels
    }

    /// Starts a server answering with `script`.
    static func start(_ script: @escaping Script) async throws -> ScriptedDNSServer {
        let group = MultiThreadedEventLoopGroup.singleton
        // TCP must share the UDP port; retry when the TCP side is taken.
        let core = Core(script: script)
        for _ in 0..<5 {
            let udp = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPHandler(core: core))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            let port = udp.localAddress!.port!
            do {
                let tcp = try await ServerBootstrap(group: group)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(TCPHandler(core: core))
                        }
                    }
                    .bind(host: "127.0.0.1", port: port).get()
                return ScriptedDNSServer(port: port, core: core, channels: [udp, tcp])
            } catch {
                try? await udp.close()
            }
        }
        throw DNSTestFailure("could not bind UDP and TCP on one port")
    }

    func stop() async {
        for channel in channels { try? await channel.close() }
    }

    /// The script and the counts, shared by the channels' handlers.
    private final class Core: Sendable {
        let script: Script
        let counts = Mutex<(udp: Int, tcp: Int)>((0, 0))

        init(script: @escaping Script) { self.script = script }

        func answer(_ query: [UInt8], over transport: Transport) -> [[UInt8]] {
            counts.withLock {
                switch transport {
                case .udp: $0.udp += 1
                case .tcp: $0.tcp += 1
                }
            }
            return script(query, transport)
        }
    }

    private final class UDPHandler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let core: Core

        init(core: Core) { self.core = core }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            for message in core.answer(Array(envelope.data.readableBytesView), over: .udp) {
                let reply = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: message))
                context.write(wrapOutboundOut(reply), promise: nil)
            }
            context.flush()
        }
    }

    private final class TCPHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let core: Core
        var received = ByteBuffer()

        init(core: Core) { self.core = core }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            received.writeBuffer(&chunk)
            while let length = received.getInteger(at: received.readerIndex, as: UInt16.self),
                received.readableBytes >= 2 + Int(length)
            {
                received.moveReaderIndex(forwardBy: 2)
                let query = received.readBytes(length: Int(length))!
                for message in core.answer(query, over: .tcp) {
                    var reply = ByteBuffer()
                    reply.writeInteger(UInt16(message.count))
                    reply.writeBytes(message)
                    context.write(wrapOutboundOut(reply), promise: nil)
                }
                context.flush()
            }
        }
    }
}

/// A test's own failure.
struct DNSTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
