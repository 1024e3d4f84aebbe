import AsyncHTTPClient
import Foundation
import Metrics
import MetricsTestKit
import Model
import NIOCore
import NIOHTTP1
import NIOSSL
import SlipwayTestSupport
import Testing

@testable import Proxy

extension EndToEnd {
    /// The HTTPS listener over real sockets, with certificates a test CA
    /// issued: the same answers as plain HTTP, the certificate chosen by
    /// the name asked for, refusals at the handshake, and certificate files
    /// replaced on disk.
    @Suite struct TLSEndToEndTests {
        /// A directory with the operator's certificate files for `*.apps.test`.
        struct Files {
            let directory: String
            var certificate: String { directory + "/edge.pem" }
            var key: String { directory + "/edge.key" }

            init(authority: TestCertificateAuthority, names: [String] = ["*.apps.test"]) throws {
                directory =
                    FileManager.default.temporaryDirectory
                    .appendingPathComponent("slipway-tls-\(UUID().uuidString)").path
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try authority.write(names, certificateFile: certificate, keyFile: key)
            }

            func remove() { try? FileManager.default.removeItem(atPath: directory) }

            func configure(_ configuration: inout ProxyConfiguration) {
                configuration.tls = ProxyConfiguration.TLS(
                    port: 0, certificateFile: certificate, keyFile: key, handshakeTimeout: .seconds(5))
            }
        }

        /// `GET https://<host>:<tls port><target>` from a client that trusts
        /// `roots` and resolves `host` to 127.0.0.1 (so it sends `host` as SNI).
        static func get(
            _ target: String, host: String, port: Int, trusting roots: [NIOSSLCertificate],
            headers: [(String, String)] = [], tls configure: (inout TLSConfiguration) -> Void = { _ in }
        ) async throws -> TestResponse {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(roots)
            configure(&tls)
            var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
            configuration.dnsOverride = [host: "127.0.0.1"]
            configuration.redirectConfiguration = .disallow
            configuration.decompression = .disabled
            configuration.httpVersion = .http1Only
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            do {
                var request = HTTPClientRequest(url: "https://\(host):\(port)\(target)")
                for (name, value) in headers { request.headers.add(name: name, value: value) }
                let response = try await client.execute(request, timeout: .seconds(15))
                let body = try await response.body.collect(upTo: 64 << 20)
                try await client.shutdown()
                return TestResponse(
                    status: Int(response.status.code), headers: response.headers,
                    body: Array(body.readableBytesView))
            } catch {
                try? await client.shutdown()
                throw error
            }
        }

        @Test func sitesAreServedOverTLSAsOverPlainHTTP() async throws {
            let authority = try TestCertificateAuthority()
            let files = try Files(authority: authority)
            defer { files.remove() }
            let large = patternBytes(count: 3 << 20, seed: 4)
            try await withTestProxy(configure: {
                files.configure(&$0)
                // Plain HTTP is compared with HTTPS here, not sent to it.
                $0.tls?.redirectsPlainHTTP = false
                $0.cache.maxEntryBytes = 256 << 10
            }) { proxy in
                let site = try await proxy.deploy("docs", as: "manual", extraFiles: ["media/film.bin": large])
                let port = try #require(proxy.server.tlsPort)
                let roots = [try authority.trustRoot]
                let host = "manual.apps.test"

                let plain = try await proxy.get("/about", slug: "manual")
                let secure = try await Self.get("/about", host: host, port: port, trusting: roots)
                #expect(secure.status == 200 && secure.body == plain.body)
                #expect(secure.header("Content-Type") == plain.header("Content-Type"))
                #expect(secure.header("ETag") == plain.header("ETag"))

                // A 304, a range and a HEAD-free large body read from the disk store into buffers.
                let etag = "\"\(site.fixture.manifest.files["about.html"]!.etag)\""
                let notModified = try await Self.get(
                    "/about", host: host, port: port, trusting: roots, headers: [("If-None-Match", etag)])
                #expect(notModified.status == 304 && notModified.body.isEmpty)
                let film = try await Self.get("/media/film.bin", host: host, port: port, trusting: roots)
                #expect(film.status == 200 && film.body == Array(large))
                let part = try await Self.get(
                    "/media/film.bin", host: host, port: port, trusting: roots,
                    headers: [("Range", "bytes=1000000-1999999")])
                #expect(part.status == 206 && part.body == Array(large[1_000_000..<2_000_000]))

                // The apps domain's other hosts are covered by the wildcard too.
                let missing = try await Self.get("/", host: "nosuch.apps.test", port: port, trusting: roots)
                #expect(missing.status == 404)
            }
        }

        /// With HTTPS on, a plain request for a host a certificate covers is
        /// redirected to the same URL over https; other hosts are served over
        /// plain HTTP. HSTS is opt-in and only ever sent over HTTPS.
        @Test func plainRequestsForCoveredHostsAreRedirectedAndHSTSIsOptIn() async throws {
            try await withTestProxy(transport: .tls, configure: { $0.tls?.hstsMaxAge = 31_536_000 }) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let plainPort = try #require(proxy.server.port)
                let tlsPort = proxy.port
                for (request, location) in [
                    (
                        "GET /about?x=1 HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n",
                        "https://manual.apps.test:\(tlsPort)/about?x=1"
                    ),
                    (
                        "POST /form HTTP/1.1\r\nHost: MANUAL.apps.test.:80\r\nContent-Length: 2\r\n\r\nhi",
                        "https://manual.apps.test:\(tlsPort)/form"
                    ),
                    ("GET / HTTP/1.1\r\nHost: 3--manual.apps.test\r\n\r\n", "https://3--manual.apps.test:\(tlsPort)/"),
                ] {
                    let connection = try await RawConnection.connect(port: plainPort)
                    try await connection.send(request)
                    let response = try #require(try await connection.readResponses(1).first)
                    connection.close()
                    #expect(response.status == 308, "\(request.debugDescription)")
                    #expect(response.header("Location") == location)
                    #expect(response.header("Strict-Transport-Security") == nil)
                }
                // No certificate covers these: served over plain HTTP as before.
                for host in ["localhost", "deep.manual.apps.test", "127.0.0.1"] {
                    let connection = try await RawConnection.connect(port: plainPort)
                    try await connection.send("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
                    let response = try #require(try await connection.readResponses(1).first)
                    connection.close()
                    #expect(response.status != 308, "\(host)")
                    #expect(response.header("Strict-Transport-Security") == nil)
                }
                // Over HTTPS every answer carries HSTS (a hit answered from its prepared form too).
                for _ in 0..<3 {
                    let about = try await proxy.get("/about", slug: "manual")
                    #expect(about.status == 200 && about.header("Strict-Transport-Security") == "max-age=31536000")
                }
                let missing = try await proxy.get("/nothing", slug: "manual")
                #expect(missing.status == 404 && missing.header("Strict-Transport-Security") == "max-age=31536000")
            }
            // Redirects off: plain HTTP is served for every host; no HSTS by default.
            try await withTestProxy(transport: .tls, configure: { $0.tls?.redirectsPlainHTTP = false }) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let connection = try await RawConnection.connect(port: try #require(proxy.server.port))
                defer { connection.close() }
                try await connection.send("GET /about HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                #expect(try await connection.readResponses(1).first?.status == 200)
                #expect(try await proxy.get("/about", slug: "manual").header("Strict-Transport-Security") == nil)
            }
        }

        @Test func namesWithoutACertificateOldProtocolsAndPlainBytesAreRefusedAtTheHandshake() async throws {
            let authority = try TestCertificateAuthority()
            let files = try Files(authority: authority)
            defer { files.remove() }
            let metrics = TestMetrics()
            try await withTestProxy(metricsFactory: metrics, configure: files.configure) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let port = try #require(proxy.server.tlsPort)
                let roots = [try authority.trustRoot]
                @Sendable func failures(_ reason: String) -> Int64 {
                    (try? metrics.expectCounter("slipway_proxy_tls_handshake_failures_total", [("reason", reason)])
                        .totalValue) ?? 0
                }

                // A name no certificate covers: no default certificate, the handshake fails.
                await #expect(throws: (any Error).self) {
                    _ = try await Self.get("/", host: "www.example.test", port: port, trusting: roots)
                }
                // A wildcard covers one label, not two.
                await #expect(throws: (any Error).self) {
                    _ = try await Self.get("/", host: "a.manual.apps.test", port: port, trusting: roots)
                }
                // No name at all (an address): refused too.
                await #expect(throws: (any Error).self) {
                    _ = try await Self.get("/", host: "127.0.0.1", port: port, trusting: roots) {
                        $0.certificateVerification = .none
                    }
                }
                try await proxy.waitUntil("the unknown names are counted") { failures("unknown_name") == 3 }

                // TLS 1.1 and below are refused.
                await #expect(throws: (any Error).self) {
                    _ = try await Self.get("/", host: "manual.apps.test", port: port, trusting: roots) {
                        $0.minimumTLSVersion = .tlsv1
                        $0.maximumTLSVersion = .tlsv11
                    }
                }
                try await proxy.waitUntil("the old protocol is counted") { failures("protocol_version") == 1 }

                // Plain HTTP to the HTTPS port: the connection is closed, nothing is answered in clear.
                let plain = try await RawConnection.connect(port: port)
                try await plain.send("GET / HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                let answer = try await plain.readUntilClosed()
                plain.close()
                #expect(!String(decoding: answer.bytes, as: UTF8.self).contains("HTTP/1.1"))
                try await proxy.waitUntil("the plain request is counted") { failures("not_tls") == 1 }

                // The listener still serves.
                let fine = try await Self.get("/", host: "manual.apps.test", port: port, trusting: roots)
                #expect(fine.status == 200)
                // A connection is counted by protocol once ALPN has chosen; the
                // refused handshakes above are counted by reason instead.
                #expect(
                    try metrics.expectCounter("slipway_proxy_connections_total", [("protocol", "h1+tls")]).totalValue
                        == 1)
            }
        }

        @Test func certificateFilesReplacedOnDiskArePickedUpWithoutARestart() async throws {
            let first = try TestCertificateAuthority("first CA")
            let files = try Files(authority: first)
            defer { files.remove() }
            try await withTestProxy(configure: files.configure) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let port = try #require(proxy.server.tlsPort)
                let host = "manual.apps.test"
                #expect(try await Self.get("/", host: host, port: port, trusting: [first.trustRoot]).status == 200)
                #expect(!proxy.server.reloadCertificateFiles()) // nothing changed

                // A renewal from another CA, written by rename.
                let second = try TestCertificateAuthority("second CA")
                try second.write(["*.apps.test"], certificateFile: files.certificate, keyFile: files.key)
                #expect(proxy.server.reloadCertificateFiles())
                #expect(try await Self.get("/", host: host, port: port, trusting: [second.trustRoot]).status == 200)
                await #expect(throws: (any Error).self) {
                    _ = try await Self.get("/", host: host, port: port, trusting: [first.trustRoot])
                }

                // A key that does not match (half a renewal): the certificate in use stays.
                try Data(try first.issue(["*.apps.test"]).key.utf8).write(
                    to: URL(fileURLWithPath: files.key), options: .atomic)
                #expect(!proxy.server.reloadCertificateFiles())
                #expect(try await Self.get("/", host: host, port: port, trusting: [second.trustRoot]).status == 200)
            }
        }

        @Test func aProxyWithUnusableCertificateFilesDoesNotStart() async throws {
            let authority = try TestCertificateAuthority()
            let files = try Files(authority: authority)
            defer { files.remove() }
            try Data("not a key".utf8).write(to: URL(fileURLWithPath: files.key))
            await #expect(throws: ProxyError.self) {
                try await withTestProxy(configure: files.configure) { _ in }
            }
        }
    }
}
