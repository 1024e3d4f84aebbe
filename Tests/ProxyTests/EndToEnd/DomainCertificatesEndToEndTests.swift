import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import Metrics
import MetricsTestKit
import Model
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import SlipwayTestSupport
import Storage
import Synchronization
import Testing

@testable import Proxy

extension EndToEnd {
    /// Custom domains' certificates at the HTTPS listener, over real sockets,
    /// a real SQLite catalog with the in-process bus and the disk store: the
    /// listener runs without the operator's files, each routed domain's
    /// certificate is read from the store (key sealed with the keyring) and
    /// served, replaced and withdrawn as catalog events say. The reconcile
    /// interval is an hour, so what changes during a test is the events' doing.
    @Suite struct DomainCertificatesEndToEndTests {
        static let host = "app.example.test"
        static let expiry = DomainCertificateMetrics.expiryLabel
        static let failures = DomainCertificateMetrics.failuresLabel

        /// What a client saw of a completed handshake.
        struct Handshake: Sendable {
            /// SHA-256 of the leaf's DER, lower-case hex.
            var sha256: String
            /// The leaf's serial number, lower-case hex.
            var serial: String
            var applicationProtocol: String?
        }

        /// A certificate stored as the issuer stores one.
        struct Stored: Sendable {
            var record: DomainCertificate
            var serial: String
        }

        /// Starts a proxy whose HTTPS listener has no certificate files and
        /// serves custom domains' certificates sealed with `keyring`, with
        /// `blog` deployed and `app.example.test` added to it (pending).
        static func withProxy(
            keyring: SecretKeyring, metrics: TestMetrics = TestMetrics(), logger: Logger = TestProxy.quietLogger,
            clock: @escaping @Sendable () -> Date = Date.init, _ body: (TestProxy, Site) async throws -> Void
        ) async throws {
            try await withTestProxy(
                metricsFactory: metrics, logger: logger, keyring: keyring, certificateClock: clock,
                configure: {
                    $0.tls = ProxyConfiguration.TLS(port: 0, handshakeTimeout: .seconds(5))
                    $0.reconcileInterval = .seconds(3600)
                }
            ) { proxy in
                let site = try await proxy.deploy("docs", as: "blog").site
                _ = try await proxy.catalog.addDomains(
                    siteID: site.id, [CustomDomainDraft(hostname: host, apex: false)], limit: 10)
                try await body(proxy, site)
            }
        }

        static func keyring() throws -> SecretKeyring {
            try SecretKeyring(parsing: SecretKeyring.generateKeyText())
        }

        static func hex(_ bytes: some Sequence<UInt8>) -> String {
            bytes.map { String(format: "%02x", $0) }.joined()
        }

        /// Issues a certificate for `names` and stores it as the issuer
        /// does, its key sealed with `keyring`; the catalog's record says
        /// it is valid for `lifetime` from now.
        static func store(
            _ names: [String] = [host], by authority: TestCertificateAuthority, in store: any ObjectStore,
            keyring: SecretKeyring, lifetime: TimeInterval = 86_400
        ) async throws -> Stored {
            let (chain, key) = try authority.issue(names)
            let leaf = try #require(try NIOSSLCertificate.fromPEMBytes(Array(chain.utf8)).first)
            let now = Date()
            let record = try await DomainCertificateObjects(store: store, keyring: keyring).store(
                host: host, chainPEM: chain, keyPEM: key, leafSHA256: hex(SHA256.hash(data: try leaf.toDERBytes())),
                notBefore: now - 3600, notAfter: now + lifetime, renewAt: nil, source: .uploaded)
            return Stored(record: record, serial: hex(leaf.serialNumber))
        }

        /// Points the domain at `certificate`, routed and with its certificate active.
        static func activate(_ certificate: DomainCertificate, on proxy: TestProxy) async throws {
            try await proxy.catalog.updateDomain(hostname: host) {
                $0.status = .active
                $0.certificateStatus = .active
                $0.certificate = certificate
            }
        }

        /// Waits until the proxy holds no certificate for the host, then
        /// checks that a handshake for it fails and its expiry gauge is gone.
        static func expectWithdrawn(
            from proxy: TestProxy, port: Int, trusting roots: [NIOSSLCertificate], metrics: TestMetrics? = nil
        ) async throws {
            try await proxy.waitUntil("the certificate is withdrawn") {
                proxy.server.certificates.certificate(forServerName: host) == nil
            }
            await #expect(throws: (any Error).self) {
                _ = try await handshake(port: port, trusting: roots)
            }
            if let metrics {
                try await proxy.waitUntil("the expiry gauge goes") {
                    (try? metrics.expectGauge(expiry, [("host", host)])) == nil
                }
            }
        }

        static func loader(_ proxy: TestProxy) throws -> DomainCertificateLoader {
            try #require(proxy.server.domainCertificateLoader)
        }

        /// Completes a TLS handshake with SNI `serverName` and reports the
        /// certificate presented; throws when the handshake fails.
        static func handshake(
            port: Int, serverName: String = host, trusting roots: [NIOSSLCertificate],
            alpn: [String] = ["http/1.1"]
        ) async throws -> Handshake {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(roots)
            tls.applicationProtocols = alpn
            // Closed right after the handshake: do not wait the default 5
            // seconds for the edge's close_notify (an HTTP/2 connection that
            // has only exchanged its SETTINGS took that long).
            tls.shutdownTimeout = .milliseconds(200)
            let context = try NIOSSLContext(configuration: tls)
            let group = MultiThreadedEventLoopGroup.singleton
            let promise = group.next().makePromise(of: Handshake.self)
            let channel = try await ClientBootstrap(group: group).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: context, serverHostname: serverName))
                    try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: promise))
                }
            }.connect(host: "127.0.0.1", port: port).get()
            do {
                let result = try await promise.futureResult.get()
                try? await channel.close()
                return result
            } catch {
                try? await channel.close()
                throw error
            }
        }

        /// `GET https://<host>:<port><target>` (HTTP/2 when `http2`).
        static func get(
            _ target: String, host: String = host, port: Int, trusting roots: [NIOSSLCertificate], http2: Bool = false
        ) async throws -> (status: Int, version: Int, body: [UInt8]) {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(roots)
            var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
            configuration.dnsOverride = [host: "127.0.0.1"]
            configuration.redirectConfiguration = .disallow
            configuration.httpVersion = http2 ? .automatic : .http1Only
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            do {
                let response = try await client.execute(
                    HTTPClientRequest(url: "https://\(host):\(port)\(target)"), timeout: .seconds(15))
                let body = try await response.body.collect(upTo: 1 << 20)
                try await client.shutdown()
                return (Int(response.status.code), response.version.major, Array(body.readableBytesView))
            } catch {
                try? await client.shutdown()
                throw error
            }
        }

        @Test func anActiveDomainsCertificateIsServedThenRenewedThenWithdrawnByEvents() async throws {
            let metrics = TestMetrics()
            let keyring = try Self.keyring()
            try await Self.withProxy(keyring: keyring, metrics: metrics) { proxy, site in
                let loader = try Self.loader(proxy)
                let port = try #require(proxy.server.tlsPort)
                let first = try TestCertificateAuthority("first CA")
                let roots = [try first.trustRoot]

                // Pending with no certificate, and names nothing covers: refused at the handshake.
                await #expect(throws: (any Error).self) {
                    _ = try await Self.handshake(port: port, trusting: roots)
                }
                await #expect(throws: (any Error).self) {
                    _ = try await Self.handshake(port: port, serverName: "blog.apps.test", trusting: roots)
                }

                let issued = try await Self.store(by: first, in: proxy.store, keyring: keyring)
                // A certificate on a domain that does not route yet is not served.
                try await proxy.catalog.updateDomain(hostname: Self.host) { $0.certificate = issued.record }
                try await proxy.waitUntil("the table has the certificate") {
                    proxy.server.siteTable.domain(host: Self.host)?.certificate != nil
                }
                await loader.reconcile()
                #expect(loader.servedCertificates.isEmpty)

                try await Self.activate(issued.record, on: proxy)
                try await proxy.waitUntil("the certificate is served") {
                    loader.servedCertificates[Self.host]?.sha256 == issued.record.sha256
                }
                let shown = try await Self.handshake(port: port, trusting: roots)
                #expect(shown.sha256 == issued.record.sha256 && shown.serial == issued.serial)
                #expect(loader.servedCertificates[Self.host]?.serial == issued.serial)
                // The site's page, over HTTP/1.1 and over HTTP/2 (ALPN h2 when offered).
                let plain = try await proxy.get("/", slug: "blog")
                let page = try await Self.get("/", port: port, trusting: roots)
                #expect(page.status == 200 && page.body == plain.body)
                #expect(
                    try await Self.handshake(port: port, trusting: roots, alpn: ["h2", "http/1.1"])
                        .applicationProtocol == "h2")
                let overH2 = try await Self.get("/", port: port, trusting: roots, http2: true)
                #expect(overH2.status == 200 && overH2.version == 2 && overH2.body == plain.body)
                try await proxy.waitUntil("the expiry is recorded") {
                    (try? metrics.expectGauge(Self.expiry, [("host", Self.host)])) != nil
                }
                let seconds = try #require(try metrics.expectGauge(Self.expiry, [("host", Self.host)]).lastValue)
                #expect(seconds > 86_000 && seconds <= 86_400)

                // A renewal: the next handshake gets the new certificate, without a restart.
                let second = try TestCertificateAuthority("second CA")
                let renewed = try await Self.store(by: second, in: proxy.store, keyring: keyring)
                try await proxy.catalog.updateDomain(hostname: Self.host) {
                    $0.certificate = renewed.record
                    $0.certificateStatus = .active
                }
                try await proxy.waitUntil("the renewed certificate is served") {
                    loader.servedCertificates[Self.host]?.sha256 == renewed.record.sha256
                }
                let both = [try first.trustRoot, try second.trustRoot]
                let after = try await Self.handshake(port: port, trusting: both)
                #expect(after.sha256 == renewed.record.sha256 && after.serial == renewed.serial)

                // Removed: the next handshake for the name fails at once, and its gauge goes.
                _ = try await proxy.catalog.removeDomain(siteID: site.id, hostname: Self.host)
                try await Self.expectWithdrawn(from: proxy, port: port, trusting: both, metrics: metrics)
                // Events did all of it: the table was loaded once, at the start.
                #expect(proxy.server.siteTable.reloadCount == 1)
            }
        }

        @Test func deletingTheSiteWithdrawsItsDomainsCertificateAtOnce() async throws {
            let keyring = try Self.keyring()
            try await Self.withProxy(keyring: keyring) { proxy, site in
                let loader = try Self.loader(proxy)
                let port = try #require(proxy.server.tlsPort)
                let authority = try TestCertificateAuthority()
                let issued = try await Self.store(by: authority, in: proxy.store, keyring: keyring)
                try await Self.activate(issued.record, on: proxy)
                try await proxy.waitUntil("the certificate is served") { loader.servedCertificates[Self.host] != nil }
                #expect(try await Self.handshake(port: port, trusting: [authority.trustRoot]).serial == issued.serial)

                _ = try await proxy.catalog.deleteSite(id: site.id)
                try await Self.expectWithdrawn(from: proxy, port: port, trusting: [authority.trustRoot])
                #expect(loader.servedCertificates.isEmpty && proxy.server.siteTable.reloadCount == 1)
            }
        }

        @Test func aKeyThatDoesNotOpenIsLoggedAndCountedAndThePreviousCertificateKeepsServing() async throws {
            let metrics = TestMetrics()
            let logs = CapturedLogs()
            let logger = Logger(label: "slipway.tests.domain-certificates") { _ in CapturingLogHandler(logs) }
            let keyring = try Self.keyring()
            try await Self.withProxy(keyring: keyring, metrics: metrics, logger: logger) { proxy, _ in
                let loader = try Self.loader(proxy)
                let port = try #require(proxy.server.tlsPort)
                let authority = try TestCertificateAuthority()
                let roots = [try authority.trustRoot]
                @Sendable func failed(_ reason: String) -> Int64 {
                    (try? metrics.expectCounter(Self.failures, [("reason", reason)]).totalValue) ?? 0
                }

                // With no certificate before it: the host has none.
                let foreign = try await Self.store(by: authority, in: proxy.store, keyring: try Self.keyring())
                try await Self.activate(foreign.record, on: proxy)
                try await proxy.waitUntil("the failed load is counted") { failed("key") >= 1 }
                await #expect(throws: (any Error).self) {
                    _ = try await Self.handshake(port: port, trusting: roots)
                }

                // A good certificate, then a renewal whose key another installation sealed.
                let good = try await Self.store(by: authority, in: proxy.store, keyring: keyring)
                try await Self.activate(good.record, on: proxy)
                try await proxy.waitUntil("the good certificate is served") {
                    loader.servedCertificates[Self.host]?.sha256 == good.record.sha256
                }
                let before = failed("key")
                let sealedElsewhere = try await Self.store(by: authority, in: proxy.store, keyring: try Self.keyring())
                try await Self.activate(sealedElsewhere.record, on: proxy)
                try await proxy.waitUntil("the second failed load is counted") { failed("key") > before }
                #expect(try await Self.handshake(port: port, trusting: roots).serial == good.serial)
                #expect(loader.servedCertificates[Self.host]?.sha256 == good.record.sha256)

                // A certificate for another name is refused the same way.
                let elsewhere = try await Self.store(
                    ["other.example.test"], by: authority, in: proxy.store, keyring: keyring)
                try await Self.activate(elsewhere.record, on: proxy)
                try await proxy.waitUntil("the wrong name is counted") { failed("certificate") >= 1 }
                #expect(try await Self.handshake(port: port, trusting: roots).serial == good.serial)

                // Logged with the host and the reason, never the key.
                let errors = logs.all.filter { $0["host"] == Self.host && $0["reason"] != nil }
                #expect(errors.contains { $0["reason"] == "key" && $0["serving"] == "none" })
                #expect(errors.contains { $0["reason"] == "key" && $0["serving"] == good.record.sha256 })
                #expect(errors.contains { $0["reason"] == "certificate" && $0["serving"] == good.record.sha256 })
                #expect(!logs.all.contains { record in record.values.contains { $0.contains("PRIVATE KEY") } })
            }
        }

        @Test func thePreviousCertificateKeepsServingUntilItsNotAfterWhileItsRenewalDoesNotLoad() async throws {
            let start = Date()
            let clock = Mutex(start)
            let metrics = TestMetrics()
            let keyring = try Self.keyring()
            try await Self.withProxy(keyring: keyring, metrics: metrics, clock: { clock.withLock { $0 } }) {
                proxy, _ in
                let loader = try Self.loader(proxy)
                let port = try #require(proxy.server.tlsPort)
                let authority = try TestCertificateAuthority()
                let roots = [try authority.trustRoot]
                let good = try await Self.store(by: authority, in: proxy.store, keyring: keyring, lifetime: 3600)
                try await Self.activate(good.record, on: proxy)
                // The gauge is set by the reconcile that follows the load.
                try await proxy.waitUntil("the certificate is served and its expiry recorded") {
                    loader.servedCertificates[Self.host] != nil
                        && (try? metrics.expectGauge(Self.expiry, [("host", Self.host)])) != nil
                }
                let seconds = try #require(try metrics.expectGauge(Self.expiry, [("host", Self.host)]).lastValue)
                #expect(seconds > 3500 && seconds <= 3600)

                let renewal = try await Self.store(by: authority, in: proxy.store, keyring: try Self.keyring())
                try await Self.activate(renewal.record, on: proxy)
                try await proxy.waitUntil("the renewal's failure is counted") {
                    ((try? metrics.expectCounter(Self.failures, [("reason", "key")]).totalValue) ?? 0) >= 1
                }
                #expect(try await Self.handshake(port: port, trusting: roots).serial == good.serial)

                // Past the old certificate's notAfter, the next event about the domain withdraws it.
                clock.withLock { $0 = start + 3601 }
                try await proxy.catalog.updateDomain(hostname: Self.host) { $0.certificateStatus = .renewing }
                try await Self.expectWithdrawn(from: proxy, port: port, trusting: roots, metrics: metrics)
            }
        }

        @Test func aProxyStartingWithDomainsInTheCatalogServesThemFromTheFirstHandshake() async throws {
            let keyring = try Self.keyring()
            try await Self.withProxy(keyring: keyring) { proxy, _ in
                let authority = try TestCertificateAuthority()
                let issued = try await Self.store(by: authority, in: proxy.store, keyring: keyring)
                try await Self.activate(issued.record, on: proxy)

                // Another proxy over the same catalog and store: start()
                // returns once its certificates are loaded, so its first
                // handshake already has the domain's.
                var configuration = TestProxy.configuration()
                configuration.tls = ProxyConfiguration.TLS(port: 0, handshakeTimeout: .seconds(5))
                configuration.reconcileInterval = .seconds(3600)
                let second = try ProxyServer(
                    configuration: configuration, catalog: proxy.catalog, events: proxy.bus, store: proxy.store,
                    logger: TestProxy.quietLogger, metricsFactory: TestMetrics(),
                    domainCertificates: DomainCertificateObjects(store: proxy.store, keyring: keyring))
                try await second.start()
                do {
                    let port = try #require(second.tlsPort)
                    let shown = try await Self.handshake(port: port, trusting: [authority.trustRoot])
                    #expect(shown.serial == issued.serial)
                    #expect(try await Self.get("/", port: port, trusting: [authority.trustRoot]).status == 200)
                } catch {
                    await second.shutdown(gracePeriod: .seconds(1))
                    throw error
                }
                await second.shutdown(gracePeriod: .seconds(1))
            }
        }
    }
}

/// Reports the outcome of a client's TLS handshake: the presented leaf and
/// the protocol ALPN chose, or the error.
private final class HandshakeWatcher: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias Handshake = EndToEnd.DomainCertificatesEndToEndTests.Handshake

    private let promise: EventLoopPromise<Handshake>

    init(promise: EventLoopPromise<Handshake>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event {
            do {
                let tls = try context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
                guard let leaf = tls.peerCertificate else { throw TestFailure("no certificate was presented") }
                typealias Suite = EndToEnd.DomainCertificatesEndToEndTests
                promise.succeed(
                    Handshake(
                        sha256: Suite.hex(SHA256.hash(data: try leaf.toDERBytes())),
                        serial: Suite.hex(leaf.serialNumber), applicationProtocol: negotiated))
            } catch {
                promise.fail(error)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(TestFailure("the connection closed before the handshake completed"))
        context.fireChannelInactive()
    }
}
