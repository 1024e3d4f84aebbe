import Foundation
import NIOCore
import NIOHPACK
import SlipwayTestSupport
import Testing

@testable import Proxy

extension EndToEnd {
    /// HTTP/2 on the HTTPS listener from a client whose frames the test
    /// writes by hand: ALPN, requests the edge refuses on their stream, the
    /// limits and floods that end a connection with a GOAWAY, the timeouts
    /// of streams and connections, and a stream that reads slowly.
    @Suite struct HTTP2EndToEndTests {
        typealias Wire = HTTP2Wire

        /// SETTINGS_INITIAL_WINDOW_SIZE.
        static let initialWindowSize: UInt16 = 0x4

        @Test func alpnChoosesHTTP2WhenOfferedAndHTTP1Otherwise() async throws {
            try await withTestProxy(transport: .h2, configure: { $0.tls?.hstsMaxAge = 600 }) { proxy in
                let site = try await proxy.deploy("docs", as: "manual")
                let root = proxy.trustRoot!
                for (offered, chosen) in [
                    (["h2", "http/1.1"], "h2"), (["http/1.1", "h2"], "h2"), (["http/1.1"], "http/1.1"),
                    ([], nil as String?),
                ] {
                    let connection = try await RawTLSConnection.connect(
                        port: proxy.port, serverName: TestProxy.edgeName, trusting: root, alpn: offered)
                    #expect(connection.negotiatedProtocol == chosen, "\(offered)")
                    connection.close()
                }
                let client = try await Wire.Client.connect(proxy)
                defer { client.close() }
                let about = try await client.get(1, "/about")
                #expect(about.status == 200 && about.body == Array(site.fixture.data("about.html")))
                #expect(about.headers?.first(name: "x-cache") != nil && about.headers?.first(name: "date") != nil)
                #expect(about.headers?.first(name: "connection") == nil)
                #expect(about.headers?.first(name: "strict-transport-security") == "max-age=600")
                let missing = try await client.get(3, "/nothing/here")
                #expect(missing.status == 404 && missing.body == Array(site.fixture.data("404.html")))
            }
            // With HTTP/2 turned off, ALPN offers HTTP/1.1 only.
            try await withTestProxy(transport: .tls, configure: { $0.tls?.http2 = nil }) { proxy in
                let connection = try await RawTLSConnection.connect(
                    port: proxy.port, serverName: TestProxy.edgeName, trusting: proxy.trustRoot!,
                    alpn: ["h2", "http/1.1"])
                #expect(connection.negotiatedProtocol == "http/1.1")
                connection.close()
            }
        }

        /// What HTTP/1.1's parser refuses, HTTP/2 refuses on the stream, with
        /// the same statuses; the connection goes on serving.
        @Test func requestsTheEdgeRefusesAreAnsweredOnTheirStreamAndTheConnectionGoesOn() async throws {
            try await withTestProxy(transport: .h2) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let client = try await Wire.Client.connect(proxy)
                defer { client.close() }
                var stream: UInt32 = 1
                func next() -> UInt32 {
                    defer { stream += 2 }
                    return stream
                }
                for path in ["/%2e%2e/secret", "/a%2fb", "/a%00", "/%ff", "*", "about"] {
                    #expect(try await client.get(next(), path).status == 400, "\(path)")
                }
                for authority in ["manual/x.apps.test", "manual\\x.apps.test", ""] {
                    #expect(try await client.get(next(), "/", authority: authority).status == 400, "\(authority)")
                }
                let deep = "/" + Array(repeating: "a", count: RequestPath.maxSegments + 1).joined(separator: "/")
                #expect(try await client.get(next(), deep).status == 414)
                let long = "/" + String(repeating: "a", count: 9000)
                #expect(try await client.get(next(), long).status == 414)
                // A small POST is 405 with Allow; one whose body passes the limit is 413 and its stream reset.
                let post = next()
                try await client.send(
                    Wire.request(post, path: "/", method: "POST", endStream: false)
                        + Wire.data(post, Array("hello".utf8), endStream: true))
                try await client.waitUntil("the POST's answer") { $0.answers[post]?.ended == true }
                #expect(client.answers[post]?.status == 405)
                #expect(client.answers[post]?.headers?.first(name: "allow") == "GET, HEAD")
                let large = next()
                try await client.send(Wire.request(large, path: "/", method: "POST", endStream: false))
                try await client.send(Wire.data(large, Array(repeating: UInt8(ascii: "x"), count: 16_000)))
                try await client.waitUntil("the large POST's answer") { $0.answers[large]?.ended == true }
                #expect(client.answers[large]?.status == 413)
                // A redirect stays on the host.
                let redirect = try await client.get(next(), "//docs")
                #expect(redirect.status == 301 && redirect.headers?.first(name: "location") == "/docs/")
                #expect(try await client.get(next(), "/about").status == 200)
                #expect(client.goAway == nil)
            }
        }

        /// Opening and resetting streams at once (CVE-2023-44487) is cut off
        /// with a GOAWAY; the edge serves the next connection.
        @Test func rapidResetEndsTheConnectionWithAGoAway() async throws {
            try await withTestProxy(transport: .h2) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let client = try await Wire.Client.connect(proxy)
                defer { client.close() }
                var burst: [UInt8] = []
                for index in 0..<400 {
                    let stream = UInt32(2 * index + 1)
                    burst += Wire.request(stream, path: "/about") + Wire.rstStream(stream)
                }
                try await client.send(burst)
                try await client.waitUntilClosed()
                #expect(client.goAway?.code == Wire.enhanceYourCalm)
                let next = try await Wire.Client.connect(proxy)
                defer { next.close() }
                #expect(try await next.get(1, "/about").status == 200)
            }
        }

        enum Flood: String, CaseIterable, Sendable {
            case ping, settings, continuation
        }

        /// PING and SETTINGS floods pass the control-frame rate; a header
        /// block split over endless CONTINUATION frames passes their limit.
        @Test(arguments: Flood.allCases)
        func floodsEndTheConnection(_ flood: Flood) async throws {
            try await withTestProxy(transport: .h2) { proxy in
                let client = try await Wire.Client.connect(proxy)
                defer { client.close() }
                var bytes: [UInt8] = []
                switch flood {
                case .ping:
                    for index in 0..<500 { bytes += Wire.ping(UInt64(index)) }
                case .settings:
                    for _ in 0..<500 { bytes += Wire.settings([(0x3, 100)]) }
                case .continuation:
                    let block = Wire.headerBlock([
                        (":method", "GET"), (":scheme", "https"), (":authority", "manual.apps.test"), (":path", "/"),
                    ])
                    bytes += Wire.frame(.headers, flags: Wire.endStream, stream: 1, block)
                    for index in 0..<500 {
                        bytes += Wire.frame(.continuation, stream: 1, Wire.headerBlock([("x-\(index)", "y")]))
                    }
                }
                try await client.send(bytes)
                try await client.waitUntilClosed()
                #expect(client.goAway != nil)
                #expect(client.goAway?.code != Wire.noError)
            }
        }

        /// As many streams at once as SETTINGS_MAX_CONCURRENT_STREAMS says
        /// are served; a client that opens more than it was told it may
        /// gets a GOAWAY and the connection closes.
        @Test func streamsOverTheConcurrencyLimitEndTheConnection() async throws {
            try await withTestProxy(transport: .h2, configure: { $0.tls?.http2?.maxConcurrentStreams = 3 }) { proxy in
                let site = try await proxy.deploy("docs", as: "manual")
                let client = try await Wire.Client.connect(proxy)
                defer { client.close() }
                try await client.waitUntil("the edge's settings") { $0.frames.contains { $0.type == 4 } }
                let settings = try #require(client.frames.first { $0.type == 4 })
                #expect(settings.payload.starts(with: [0, 3, 0, 0, 0, 3]), "SETTINGS_MAX_CONCURRENT_STREAMS = 3")
                let streams: [UInt32] = [1, 3, 5]
                try await client.send(streams.flatMap { Wire.request($0, path: "/about", endStream: false) })
                try await client.send(streams.flatMap { Wire.data($0, [], endStream: true) })
                try await client.waitUntil("the answers") { client in
                    streams.allSatisfy { client.answers[$0]?.ended == true }
                }
                for stream in streams {
                    #expect(client.answers[stream]?.body == Array(site.fixture.data("about.html")))
                }
                let over = try await Wire.Client.connect(proxy)
                defer { over.close() }
                // The limit holds once the client has acknowledged the edge's SETTINGS.
                try await over.waitUntil("the edge's settings") { $0.frames.contains { $0.type == 4 } }
                try await over.send([1, 3, 5, 7].flatMap { Wire.request($0, path: "/about", endStream: false) })
                try await over.waitUntilClosed()
                #expect(over.goAway?.code == Wire.protocolError)
            }
        }

        /// A stream whose request never ends is reset at the header-read
        /// timeout; a stream the client grants no window is reset at the
        /// write-idle timeout; the connection serves on.
        @Test func streamsThatStallAreResetAtTheirTimeouts() async throws {
            try await withTestProxy(
                transport: .h2,
                configure: {
                    $0.timeouts.headerRead = .milliseconds(500)
                    $0.timeouts.writeIdle = .milliseconds(500)
                }
            ) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let client = try await Wire.Client.connect(proxy, settings: [(Self.initialWindowSize, 0)])
                defer { client.close() }
                try await client.send(Wire.request(1, path: "/about", endStream: false))
                try await client.waitUntil("the reset of the unfinished request") { $0.answers[1]?.resetCode != nil }
                #expect(client.answers[1]?.headers == nil)
                // A window of zero: the head comes, no body, then the reset.
                try await client.send(Wire.request(3, path: "/about"))
                try await client.waitUntil("the reset of the stream without window") {
                    $0.answers[3]?.resetCode != nil
                }
                #expect(client.answers[3]?.status == 200 && client.answers[3]?.body.isEmpty == true)
                #expect(client.goAway == nil && !client.connection.isClosed)
            }
        }

        /// A connection with no stream open gets a GOAWAY at the idle timeout.
        @Test func anIdleConnectionGetsAGoAwayAtTheIdleTimeout() async throws {
            try await withTestProxy(transport: .h2, configure: { $0.timeouts.idle = .milliseconds(500) }) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let client = try await Wire.Client.connect(proxy)
                defer { client.close() }
                #expect(try await client.get(1, "/about").status == 200)
                try await client.waitUntilClosed()
                #expect(client.goAway?.code == Wire.noError && client.goAway?.lastStream == 1)
            }
        }

        /// When the server shuts down, a GOAWAY names the last stream taken;
        /// the stream in flight still gets its whole answer.
        @Test func aShutdownSendsAGoAwayAndFinishesTheStreamsInFlight() async throws {
            let size = 4 << 20
            let proxy = try await TestProxy.start(transport: .h2, configure: { $0.cache.maxEntryBytes = 256 << 10 })
            do {
                _ = try await proxy.deploy(
                    "docs", as: "manual", extraFiles: ["big.bin": patternBytes(count: size, seed: 3)])
                let client = try await Wire.Client.connect(proxy, settings: [(Self.initialWindowSize, 0)])
                defer { client.close() }
                client.grantsWindow = false
                try await client.send(Wire.request(1, path: "/big.bin"))
                try await client.waitUntil("the head") { $0.answers[1]?.headers != nil }
                let shutdown = Task { await proxy.server.shutdown(gracePeriod: .seconds(10)) }
                try await client.waitUntil("the GOAWAY") { $0.goAway != nil }
                #expect(client.goAway?.lastStream == 1 && client.goAway?.code == Wire.noError)
                client.grantsWindow = true
                try await client.send(
                    Wire.settings([(Self.initialWindowSize, 1 << 20)]) + Wire.windowUpdate(stream: 0, 16 << 20))
                try await client.waitUntil("the whole body", timeout: .seconds(30)) { $0.answers[1]?.ended == true }
                #expect(client.answers[1]?.body.count == size)
                await shutdown.value
            } catch {
                await proxy.stop()
                throw error
            }
            await proxy.stop()
        }

        /// A stream that reads a large file slowly holds no more than a
        /// slice or two of it, then gets all of it.
        @Test func aSlowStreamReadingALargeFileDoesNotGrowMemory() async throws {
            let size = 64 << 20
            try await withTestProxy(transport: .h2, configure: { $0.cache.maxEntryBytes = 256 << 10 }) { proxy in
                _ = try await proxy.deploy(
                    "docs", as: "manual", extraFiles: ["huge.bin": patternBytes(count: size, seed: 9)])
                let baseline = try residentBytes()
                let client = try await Wire.Client.connect(proxy, receiveBuffer: 16 << 10)
                defer { client.close() }
                client.grantsWindow = false
                try await client.send(Wire.request(1, path: "/huge.bin"))
                // The default window: 65,535 bytes, then the client stops granting more.
                try await client.waitUntil("the first window's bytes") { ($0.answers[1]?.body.count ?? 0) >= 65_535 }
                try await Task.sleep(for: .seconds(1))
                let paused = try residentBytes()
                #expect(
                    paused - baseline < 24 << 20,
                    "memory grew by \(paused - baseline) bytes for a stream that read 64 KiB")
                client.grantsWindow = true
                try await client.send(
                    Wire.windowUpdate(stream: 0, UInt32(size)) + Wire.windowUpdate(stream: 1, UInt32(size)))
                try await client.waitUntil("the whole body", timeout: .seconds(60)) { $0.answers[1]?.ended == true }
                #expect(client.answers[1]?.body.count == size)
                #expect(client.answers[1]?.body == Array(patternBytes(count: size, seed: 9)))
            }
        }
    }
}
