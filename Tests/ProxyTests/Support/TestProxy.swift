import AsyncHTTPClient
import CoreMetrics
import Foundation
import Logging
import Model
import NIOCore
import NIOHTTP1
import NIOSSL
import SlipwayTestSupport
import Storage
import Testing

@testable import Proxy

/// How a test's requests reach the edge: the suites of the site rules, the
/// HTTP semantics and the hardening run over each, with the same
/// expectations.
enum EdgeTransport: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Plain HTTP/1.1 on the plain listener.
    case plain = "HTTP/1.1"
    /// HTTP/1.1 over TLS on the HTTPS listener (ALPN `http/1.1`).
    case tls = "HTTP/1.1 over TLS"
    /// HTTP/2 over TLS on the HTTPS listener (ALPN `h2`).
    case h2 = "HTTP/2"

    var description: String { rawValue }
}

/// A real proxy server on 127.0.0.1 (port 0) over a real SQLite catalog in a
/// temporary directory, the in-process event bus, and a real object store
/// (the disk store unless the test passes another), plus an HTTP client
/// speaking the test's ``EdgeTransport``: over TLS, the edge has a
/// certificate for `*.apps.test` from a test CA the client trusts, and the
/// client connects to `edge.apps.test` and names the request's host in
/// `Host` (`:authority` on HTTP/2).
final class TestProxy: Sendable {
    static let domain = "apps.test"
    /// `static/pages` of this repository.
    static let pagesDirectory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("static/pages").path
    }()

    let directory: String
    let catalog: SQLiteCatalog
    let bus: InProcessEventBus
    let store: any ObjectStore
    let server: ProxyServer
    let client: HTTPClient
    let port: Int
    let transport: EdgeTransport
    /// The root of the test CA the edge's certificate comes from (over TLS).
    let trustRoot: NIOSSLCertificate?
    /// How a build's files reach the store (through `store` unless the test says otherwise).
    let publish: @Sendable (FixtureSite) async throws -> Void

    private init(
        directory: String, catalog: SQLiteCatalog, bus: InProcessEventBus, store: any ObjectStore, server: ProxyServer,
        client: HTTPClient, port: Int, transport: EdgeTransport, trustRoot: NIOSSLCertificate?,
        publish: (@Sendable (FixtureSite) async throws -> Void)?
    ) {
        self.transport = transport
        self.trustRoot = trustRoot
        self.directory = directory
        self.catalog = catalog
        self.bus = bus
        self.store = store
        self.server = server
        self.client = client
        self.port = port
        self.publish = publish ?? { try await $0.publish(to: store) }
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "slipway.tests.proxy")
        logger.logLevel = .critical
        return logger
    }

    /// The configuration tests start from: loopback, port 0, `apps.test`,
    /// and no prefetch after an activation, so that what a test's requests
    /// read from the store and the cache is theirs alone (the prefetch's own
    /// tests turn it on: `EndToEnd/PrefetchEndToEndTests.swift`).
    static func configuration() -> ProxyConfiguration {
        var configuration = ProxyConfiguration(
            host: "127.0.0.1", port: 0, appsDomain: domain, pagesDirectory: pagesDirectory, eventLoopThreads: 2,
            reconcileInterval: .seconds(30), prefetch: .disabled)
        configuration.upstream.timeout = .seconds(5)
        return configuration
    }

    /// Starts a proxy. `store` is the disk store under the test directory when nil.
    /// With `keyring`, the proxy serves custom domains' certificates sealed
    /// with it in `store` (``DomainCertificateObjects``), their validity
    /// compared with `certificateClock`.
    static func start(
        transport: EdgeTransport = .plain,
        store: (any ObjectStore)? = nil,
        publish: (@Sendable (FixtureSite) async throws -> Void)? = nil,
        bodyCache: BodyCache? = nil,
        metricsFactory: (any MetricsFactory)? = nil,
        logger: Logger = TestProxy.quietLogger,
        dateClock: HTTPDateClock = .system,
        rateLimitClock: (@Sendable () -> Int64)? = nil,
        keyring: SecretKeyring? = nil,
        certificateClock: @escaping @Sendable () -> Date = Date.init,
        skewClock: @escaping @Sendable () -> Date = Date.init,
        configure: (inout ProxyConfiguration) -> Void = { _ in }
    ) async throws -> TestProxy {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-proxy-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let bus = InProcessEventBus()
        let catalog = try SQLiteCatalog(dataDirectory: directory + "/data", bus: bus)
        let objectStore =
            try store ?? DiskObjectStore(root: directory + "/objects", durable: false, logger: quietLogger)
        var configuration = Self.configuration()
        var trustRoot: NIOSSLCertificate?
        if transport != .plain {
            let issuer = try TestCertificateAuthority()
            let (certificate, key) = (directory + "/edge.pem", directory + "/edge.key")
            try issuer.write(["*.\(domain)"], certificateFile: certificate, keyFile: key)
            configuration.tls = ProxyConfiguration.TLS(
                port: 0, certificateFile: certificate, keyFile: key, handshakeTimeout: .seconds(5))
            trustRoot = try issuer.trustRoot
        }
        configure(&configuration)
        let server = try ProxyServer(
            configuration: configuration, catalog: catalog, events: bus, store: objectStore, bodyCache: bodyCache,
            logger: logger, metricsFactory: metricsFactory ?? MetricsSystem.factory, dateClock: dateClock,
            rateLimitClock: rateLimitClock,
            domainCertificates: keyring.map { DomainCertificateObjects(store: objectStore, keyring: $0) },
            certificateClock: certificateClock, skewClock: skewClock)
        try await server.start()
        var clientConfiguration = HTTPClient.Configuration()
        if let trustRoot {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates([trustRoot])
            clientConfiguration = HTTPClient.Configuration(tlsConfiguration: tls)
            clientConfiguration.dnsOverride = [edgeName: "127.0.0.1"]
        }
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.decompression = .disabled
        clientConfiguration.httpVersion = transport == .h2 ? .automatic : .http1Only
        clientConfiguration.connectionPool = .init(
            idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 128)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        return TestProxy(
            directory: directory, catalog: catalog, bus: bus, store: objectStore, server: server, client: client,
            port: transport == .plain ? server.port! : server.tlsPort!, transport: transport, trustRoot: trustRoot,
            publish: publish)
    }

    /// The name the client connects to over TLS (its SNI).
    static let edgeName = "edge.\(domain)"

    /// Stops everything and removes the test directory.
    func stop() async {
        try? await client.shutdown()
        await server.shutdown(gracePeriod: .seconds(2))
        try? await catalog.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Catalog

    /// A site as the admin API would create it.
    func createSite(_ slug: String, spa: SpaMode = .auto) async throws -> Site {
        try await catalog.createSite(SiteDraft(slug: slug, repoURL: "https://github.com/example/\(slug)", spa: spa))
    }

    /// Queues a build of `site` and lets a worker claim it.
    func startBuild(of site: Site) async throws -> Build {
        let queued = try await catalog.createBuild(siteID: site.id, BuildRequest())
        let claimed = try await catalog.claimNextBuild(workerID: "test-worker", leaseDuration: .seconds(600))
        #expect(claimed?.id == queued.id)
        return claimed ?? queued
    }

    /// Publishes `fixture` as `build`'s output and records its success (not activated).
    func succeed(_ build: Build, with fixture: FixtureSite) async throws -> Build {
        try await publish(fixture)
        return try await catalog.finishBuild(
            buildID: build.id, workerID: "test-worker",
            result: .success(fileCount: fixture.manifest.files.count, bytes: fixture.manifest.totalBytes))
    }

    /// The fixture tree `name` as a build of `site`.
    func fixture(_ name: String, site: Site, build: Build, extraFiles: [String: Data] = [:]) throws -> FixtureSite {
        try FixtureSite(name, siteID: site.id.rawValue, buildID: build.id.rawValue, extraFiles: extraFiles)
    }

    struct Deployment {
        var site: Site
        var build: Build
        var fixture: FixtureSite
    }

    /// Creates a site, builds `name` into it, activates it, and waits until the proxy serves it.
    func deploy(_ name: String, as slug: String, spa: SpaMode = .auto, extraFiles: [String: Data] = [:]) async throws
        -> Deployment
    {
        let site = try await createSite(slug, spa: spa)
        let build = try await startBuild(of: site)
        let fixture = try fixture(name, site: site, build: build, extraFiles: extraFiles)
        let finished = try await succeed(build, with: fixture)
        _ = try await catalog.activate(siteID: site.id, buildID: build.id, allowOlder: false)
        try await waitUntil("\(slug) is live") { [server] in
            server.siteTable.lookup(slug: slug)?.activeBuildID == build.id
        }
        return Deployment(site: try await catalog.site(id: site.id), build: finished, fixture: fixture)
    }

    /// Polls `condition` until it holds, failing after `timeout`.
    func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: @Sendable () -> Bool) async throws {
        try await Self.waitUntil(what, timeout: timeout, condition)
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: @Sendable () -> Bool)
        async throws
    {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !condition() {
            guard clock.now < deadline else { throw TestFailure("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: HTTP

    /// Sends one request to the proxy with `Host: <host>`.
    func request(
        _ target: String, host: String, method: HTTPMethod = .GET, headers: [(String, String)] = [],
        body: String? = nil, bodyLimit: Int = 64 << 20
    ) async throws -> TestResponse {
        let base = transport == .plain ? "http://127.0.0.1:\(port)" : "https://\(Self.edgeName):\(port)"
        var request = HTTPClientRequest(url: base + target)
        request.method = method
        request.headers.add(name: "Host", value: host)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: bodyLimit)
        let expected = transport == .h2 ? 2 : 1
        guard response.version.major == expected else {
            throw TestFailure("answered over HTTP/\(response.version.major), not over \(transport)")
        }
        return TestResponse(
            status: Int(response.status.code), headers: response.headers, body: Array(body.readableBytesView))
    }

    /// `GET <target>` on `<slug>.apps.test`.
    func get(_ target: String, slug: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await request(target, host: "\(slug).\(Self.domain)", headers: headers)
    }
}

struct TestResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first(name: name) }
}

/// Runs `body` with a started proxy and always stops it.
func withTestProxy(
    transport: EdgeTransport = .plain,
    store: (any ObjectStore)? = nil,
    publish: (@Sendable (FixtureSite) async throws -> Void)? = nil,
    bodyCache: BodyCache? = nil,
    metricsFactory: (any MetricsFactory)? = nil,
    logger: Logger = TestProxy.quietLogger,
    dateClock: HTTPDateClock = .system,
    rateLimitClock: (@Sendable () -> Int64)? = nil,
    keyring: SecretKeyring? = nil,
    certificateClock: @escaping @Sendable () -> Date = Date.init,
    skewClock: @escaping @Sendable () -> Date = Date.init,
    configure: (inout ProxyConfiguration) -> Void = { _ in },
    _ body: (TestProxy) async throws -> Void
) async throws {
    let proxy = try await TestProxy.start(
        transport: transport, store: store, publish: publish, bodyCache: bodyCache, metricsFactory: metricsFactory,
        logger: logger,
        dateClock: dateClock, rateLimitClock: rateLimitClock, keyring: keyring,
        certificateClock: certificateClock, skewClock: skewClock, configure: configure)
    do {
        try await body(proxy)
    } catch {
        await proxy.stop()
        throw error
    }
    await proxy.stop()
}
