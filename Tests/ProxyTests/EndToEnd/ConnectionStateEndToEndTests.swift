import Foundation
import NIOCore
import NIOEmbedded
import SlipwayTestSupport
import Testing

@testable import Proxy

extension EndToEnd {
    /// One edge connection driven without a socket: the handler every
    /// accepted connection gets, with a running server's services, on an
    /// `EmbeddedChannel` whose clock the test moves.
    @Suite struct ConnectionStateEndToEndTests {
        static let big = Data(repeating: UInt8(ascii: "b"), count: 200_000)

        /// Counts the reads the handler lets through to the socket.
        final class ReadCounter: ChannelOutboundHandler {
            typealias OutboundIn = Any
            var reads = 0
            func read(context: ChannelHandlerContext) {
                reads += 1
                context.read()
            }
        }

        final class Connection {
            let loop = EmbeddedEventLoop()
            let channel: EmbeddedChannel
            let reads = ReadCounter()
            /// Why the handler closed the connection for taking too long.
            private let reasons = Reasons()
            let timeouts: ProxyConfiguration.Timeouts

            final class Reasons {
                var all: [ConnectionTimeouts.Reason] = []
            }

            var closedFor: [ConnectionTimeouts.Reason] { reasons.all }

            init(_ proxy: TestProxy) throws {
                channel = EmbeddedChannel(loop: loop)
                timeouts = proxy.server.configuration.timeouts
                let (loop, reasons) = (self.loop, self.reasons)
                guard
                    let handler = proxy.server.makeConnectionHandler(
                        now: { loop.now }, onTimeout: { reasons.all.append($0) })
                else { throw TestFailure("the proxy is not running") }
                try channel.pipeline.syncOperations.addHandler(reads)
                try channel.pipeline.syncOperations.addHandler(handler)
                try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            }

            func send(_ text: String) throws {
                try channel.writeInbound(ByteBuffer(string: text))
            }

            /// Everything written since the last call.
            func written() throws -> [UInt8] {
                var bytes: [UInt8] = []
                while let data = try channel.readOutbound(as: IOData.self) {
                    guard case .byteBuffer(let buffer) = data else {
                        Issue.record("a file region on a memory body")
                        continue
                    }
                    bytes += buffer.readableBytesView
                }
                return bytes
            }

            func answers(headRequests: Int = 0) throws -> [RawResponse] {
                RawResponse.parseAll(try written(), headRequests: headRequests)
            }

            func advance(_ duration: Duration) {
                loop.advanceTime(by: TimeAmount(duration))
            }

            var isOpen: Bool { channel.isActive }

            func setWritable(_ writable: Bool) {
                channel.isWritable = writable
                channel.pipeline.fireChannelWritabilityChanged()
            }
        }

        static func get(_ target: String, host: String = "shop.\(TestProxy.domain)", _ extra: String = "") -> String {
            "GET \(target) HTTP/1.1\r\nHost: \(host)\r\n\(extra)\r\n"
        }

        /// A proxy serving `shop` with a 200 KB file, its manifest and bodies warm.
        func withWarmProxy(_ body: (TestProxy) async throws -> Void) async throws {
            try await withTestProxy { proxy in
                _ = try await proxy.deploy("release-1", as: "shop", extraFiles: ["big.bin": Self.big])
                for target in ["/big.bin", "/about", "/big.bin", "/about"] {
                    #expect(try await proxy.get(target, slug: "shop").status == 200)
                }
                try await body(proxy)
            }
        }

        @Test func aClientTricklingItsHeadIsClosedAtTheHeaderReadTimeoutFromItsFirstByte() async throws {
            try await withWarmProxy { proxy in
                let connection = try Connection(proxy)
                let limit = connection.timeouts.headerRead
                try connection.send("GET /about HTTP/1.1\r\nHo")
                connection.advance(limit - .milliseconds(10))
                try connection.send("st: shop.apps.test\r\nX-A: 1\r\n")
                #expect(connection.isOpen)
                connection.advance(.milliseconds(20))
                #expect(!connection.isOpen)
                #expect(connection.closedFor == [.headerTimeout])
                #expect(try connection.written().isEmpty)
            }
        }

        @Test func anIdleKeepAliveConnectionIsClosedAtTheIdleTimeout() async throws {
            try await withWarmProxy { proxy in
                let connection = try Connection(proxy)
                try connection.send(Self.get("/about"))
                #expect(try connection.answers().map(\.status) == [200])
                connection.advance(connection.timeouts.idle - .milliseconds(10))
                #expect(connection.isOpen)
                // A request restarts nothing but its own header-read clock; the idle clock starts after its answer.
                try connection.send(Self.get("/about"))
                #expect(try connection.answers().map(\.status) == [200])
                connection.advance(connection.timeouts.idle - .milliseconds(10))
                #expect(connection.isOpen)
                connection.advance(.milliseconds(20))
                #expect(!connection.isOpen)
                #expect(connection.closedFor == [.idleTimeout])
            }
        }

        @Test func aClientThatStopsReadingIsClosedAtTheWriteIdleTimeout() async throws {
            try await withWarmProxy { proxy in
                let connection = try Connection(proxy)
                connection.setWritable(false)
                try connection.send(Self.get("/big.bin"))
                connection.advance(connection.timeouts.writeIdle - .milliseconds(10))
                #expect(connection.isOpen)
                connection.advance(.milliseconds(20))
                #expect(!connection.isOpen)
                #expect(connection.closedFor == [.writeTimeout])
            }
        }

        /// A slow first answer: the second request waits in order, no more is
        /// read meanwhile, and both are answered once the client reads.
        @Test func pipelinedRequestsWaitBehindASlowAnswerWithReadsHeld() async throws {
            try await withWarmProxy { proxy in
                let connection = try Connection(proxy)
                connection.setWritable(false)
                try connection.send(
                    Self.get("/big.bin") + Self.get("/about") + Self.get("/", host: "nosite.\(TestProxy.domain)"))
                let readsBefore = connection.reads.reads
                connection.channel.read()
                #expect(connection.reads.reads == readsBefore, "held while answers are pending")
                #expect(try connection.written().isEmpty, "nothing is flushed while the client takes nothing")
                connection.setWritable(true)
                let answers = try connection.answers()
                #expect(answers.map(\.status) == [200, 200, 404])
                #expect(answers.first?.body == Array(Self.big))
                #expect(connection.reads.reads == readsBefore + 1, "the held read goes out once all is answered")
                #expect(connection.isOpen)
            }
        }

        @Test func aClientThatHalfClosesGetsItsAnswersThenTheConnectionCloses() async throws {
            try await withWarmProxy { proxy in
                let connection = try Connection(proxy)
                connection.setWritable(false)
                try connection.send(Self.get("/big.bin") + Self.get("/about"))
                connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
                #expect(connection.isOpen)
                connection.setWritable(true)
                let answers = try connection.answers()
                #expect(answers.map(\.status) == [200, 200])
                #expect(answers.last?.header("Connection") == "close")
                #expect(!connection.isOpen)

                // Half-closed with nothing pending: closed at once.
                let idle = try Connection(proxy)
                try idle.send(Self.get("/about"))
                #expect(try idle.answers().map(\.status) == [200])
                idle.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
                #expect(!idle.isOpen)
            }
        }

        @Test func aShutdownLetsTheBodyBeingWrittenFinishThenCloses() async throws {
            try await withWarmProxy { proxy in
                let connection = try Connection(proxy)
                connection.setWritable(false)
                try connection.send(Self.get("/big.bin") + Self.get("/about"))
                connection.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
                #expect(connection.isOpen)
                connection.setWritable(true)
                let answers = try connection.answers()
                // What was received is answered; nothing more is read.
                #expect(answers.map(\.status) == [200, 200])
                #expect(answers.first?.body == Array(Self.big))
                #expect(!connection.isOpen)

                let idle = try Connection(proxy)
                idle.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
                #expect(!idle.isOpen)
            }
        }

        /// Bytes after a refused request are never parsed: the refusal is
        /// answered in its place, after what came before it, and the
        /// connection closes.
        @Test func aRefusalIsAnsweredInOrderAndEndsTheConnection() async throws {
            try await withWarmProxy { proxy in
                let connection = try Connection(proxy)
                try connection.send(
                    Self.get("/about") + "GET /about HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + Self.get("/"))
                let answers = try connection.answers()
                #expect(answers.map(\.status) == [200, 400])
                #expect(answers.last?.header("Connection") == "close")
                #expect(!connection.isOpen)
            }
        }
    }
}
