import AsyncHTTPClient
public import CoreMetrics
public import Foundation
public import Logging
import Model
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
public import Storage
import Synchronization

/// Slipway's edge server: answers `http://<slug>.<apps-domain>/…` from each
/// site's active build, and `<n>--<slug>.<apps-domain>` from build `n`.
///
/// It runs on raw SwiftNIO channel handlers over NIOPosix (epoll on Linux),
/// one event loop per core it may run on. Each connection has one handler,
/// `ProxyRequestHandler`, on the socket's bytes: Slipway's own HTTP/1.1
/// parser (`HTTP1RequestParser`: framing, the request-line, header size and
/// count limits), the connection's state machine (`ConnectionStateMachine`:
/// keep-alive, pipelining in order, held reads, half-close, shutdown, the
/// header-read, idle and write-idle timeouts), prepared answers
/// (`PreparedAnswers`) and the `ServingPipeline`, then the response as raw
/// bytes: a head written by `ResponseHeadWriter` and the body.
///
/// The site table is loaded at ``start()`` and kept current by catalog events
/// and a periodic reconcile; no request waits on the catalog. Each
/// activation it hears of starts a background prefetch of the build's small
/// HTML files into the body cache (`CachePrefetcher`, `configuration.prefetch`).
/// The HTTPS listener presents the operator's certificate files and, when
/// given the objects of custom domains' certificates, each routed custom
/// domain's current certificate, loaded as the table changes
/// (`DomainCertificateLoader`).
public final class ProxyServer: Sendable {
    public let configuration: ProxyConfiguration
    /// The routing table, current as of the last event or reconcile.
    public let siteTable: SiteTable
    /// The body cache the proxy serves from; the proxy warms it with an
    /// activated build's small HTML files (`CachePrefetcher`), and a builder
    /// in the same process may share it.
    public let bodyCache: BodyCache

    private let catalog: any Catalog
    private let events: any EventBus
    private let store: any ObjectStore
    private let pages: SlipwayPages
    private let logger: Logger
    private let metrics: ProxyMetrics
    private let metricsFactory: any MetricsFactory
    private let dateClock: HTTPDateClock
    private let skewClock: @Sendable () -> Date
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let connections: ConnectionTracker
    /// Who each request's client is, and the per-client limits.
    let clients: EdgeClients
    private let state = Mutex(State.idle)
    /// The certificates the HTTPS listener presents, by name; what other
    /// parts of Slipway put here is used from the next handshake on.
    public let certificates = EdgeCertificates()
    /// Set when the HTTPS listener redirects plain requests for the hosts it has certificates for.
    private let httpsRedirect: HTTPSRedirect?
    private let certificateFiles: CertificateFiles?
    /// Serves custom domains' certificates from the object store, when the
    /// HTTPS listener is on and the server was given the objects.
    let domainCertificateLoader: DomainCertificateLoader?
    /// Who may visit protected sites, shared by every connection.
    let protection: EdgeProtection

    private enum State {
        case idle
        case starting
        case running(Running)
        case stopped
    }

    private struct Running {
        var channel: any Channel
        /// The HTTPS listener, when configured.
        var tlsChannel: (any Channel)?
        /// Checks the operator's certificate files for changes.
        var certificateWatch: Task<Void, Never>?
        /// Loads custom domains' certificates as the site table changes.
        var domainCertificateLoads: Task<Void, Never>?
        var follow: Task<Void, Never>
        var client: HTTPClient?
        var prefetcher: CachePrefetcher
        var services: ProxyServices
    }

    /// Builds a server; nothing is loaded or bound before ``start()``.
    /// - Parameters:
    ///   - store: where builds are read from: a store with local files (the
    ///     disk store) has them sent with `sendfile`, any other store is read
    ///     through presigned GETs.
    ///   - bodyCache: the shared body cache; one is made from
    ///     `configuration.cache` when nil.
    ///   - eventLoopGroup: the loops to run on; by default the server makes
    ///     `configuration.eventLoopThreads` of its own and stops them at shutdown.
    ///   - dateClock: the time every answer's `Date` field says.
    ///   - rateLimitClock: the monotonic time, in nanoseconds, of the
    ///     per-client rate limit's buckets (tests inject one).
    ///   - protectionClock: the time session cookies and the sign-in attempt limiter go by.
    ///   - domainCertificates: where custom domains' certificates and their
    ///     sealed keys are (the store and this installation's keyring); with
    ///     it and an HTTPS listener, each routed custom domain's current
    ///     certificate is served (`DomainCertificateLoader`). Nil serves
    ///     only the operator's certificate files.
    ///   - certificateClock: the time custom domains' certificates' validity is compared with.
    ///   - skewClock: the time builds are replaced at and the skew window is measured in.
    /// - Throws: `ProxyError` for an invalid configuration or missing pages.
    public init(
        configuration: ProxyConfiguration,
        catalog: any Catalog,
        events: any EventBus,
        store: any ObjectStore,
        bodyCache: BodyCache? = nil,
        logger: Logger = Logger(label: "slipway.proxy"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        dateClock: HTTPDateClock = .system,
        rateLimitClock: (@Sendable () -> Int64)? = nil,
        protectionClock: @escaping @Sendable () -> Date = Date.init,
        domainCertificates: DomainCertificateObjects? = nil,
        certificateClock: @escaping @Sendable () -> Date = Date.init,
        skewClock: @escaping @Sendable () -> Date = Date.init
    ) throws {
        self.dateClock = dateClock
        self.skewClock = skewClock
        try configuration.validate()
        self.configuration = configuration
        self.catalog = catalog
        self.events = events
        self.store = store
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.pages = try SlipwayPages(
            directory: configuration.pagesDirectory, overrideDirectory: configuration.pagesOverrideDirectory)
        self.siteTable = SiteTable(clock: skewClock)
        let protection = configuration.protection
        self.protection = EdgeProtection(
            keys: protection.sessionKeys.keys, sessionTTL: protection.sessionTTL,
            limiter: AttemptLimiter(
                maxFailures: protection.maxFailures, window: protection.failureWindow, clock: protectionClock),
            pages: pages, catalog: catalog, clock: protectionClock, metricsFactory: metricsFactory)
        self.bodyCache =
            bodyCache
            ?? BodyCache(
                capacityBytes: configuration.cache.bodyBytes, maxEntryBytes: configuration.cache.maxEntryBytes,
                name: "objects", metricsFactory: metricsFactory)
        self.metrics = ProxyMetrics(factory: metricsFactory)
        self.connections = ConnectionTracker(limit: configuration.limits.maxConnections)
        self.clients = Self.makeClients(configuration, rateLimitClock: rateLimitClock)
        if let tls = configuration.tls, let certificateFile = tls.certificateFile, let keyFile = tls.keyFile {
            self.certificateFiles = CertificateFiles(
                certificateFile: certificateFile, keyFile: keyFile, certificates: certificates, logger: logger)
        } else {
            self.certificateFiles = nil
        }
        if configuration.tls != nil, let domainCertificates {
            self.domainCertificateLoader = DomainCertificateLoader(
                objects: domainCertificates, certificates: certificates, siteTable: siteTable,
                metrics: DomainCertificateMetrics(factory: metricsFactory), logger: logger, now: certificateClock)
        } else {
            self.domainCertificateLoader = nil
        }
        let redirects = configuration.tls?.redirectsPlainHTTP ?? false
        self.httpsRedirect = redirects ? HTTPSRedirect(certificates: certificates, siteTable: siteTable) : nil
        if let eventLoopGroup {
            self.group = eventLoopGroup
            self.ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopThreads)
            self.ownsGroup = true
        }
    }

    /// The address the server listens on, once started.
    public var localAddress: SocketAddress? {
        state.withLock { state in
            if case .running(let running) = state { return running.channel.localAddress }
            return nil
        }
    }

    /// The port the server listens on, once started (useful with port 0).
    public var port: Int? { localAddress?.port }

    /// The port of the HTTPS listener, once started, when there is one.
    public var tlsPort: Int? {
        state.withLock { state in
            if case .running(let running) = state { return running.tlsChannel?.localAddress?.port }
            return nil
        }
    }

    /// Reads the operator's certificate files again if either changed
    /// (what the server does every `tls.reloadInterval`).
    /// - Returns: whether a new certificate is in use.
    @discardableResult
    public func reloadCertificateFiles() -> Bool {
        certificateFiles?.reloadIfChanged() ?? false
    }

    /// Connections open now.
    public var connectionCount: Int { connections.count }

    /// Loads the site table from the catalog, starts following its events,
    /// and binds the listener.
    /// - Throws: `ProxyError` when the catalog cannot be read or the address
    ///   cannot be bound; the server is then left stopped.
    public func start() async throws {
        try state.withLock { state in
            guard case .idle = state else { throw ProxyError.notRunning("the proxy server was already started") }
            state = .starting
        }
        var client: HTTPClient?
        var follow: Task<Void, Never>?
        var domainCertificateLoads: Task<Void, Never>?
        var prefetcher: CachePrefetcher?
        do {
            let bodySource: BodySource
            if let files = store.localFiles {
                bodySource = .localFiles(files, store: store)
            } else {
                let made = try makeUpstreamClient()
                client = made
                bodySource = .presigned(store, made)
            }
            let services = makeServices(bodySource: bodySource)
            // The same manifests, body cache and loading path as requests.
            let warming = CachePrefetcher(
                configuration: configuration.prefetch, manifests: services.manifests, bodyCache: bodyCache,
                bodySource: bodySource, upstream: configuration.upstream, metrics: metrics, logger: logger)
            prefetcher = warming

            // Subscribe before loading, so no event falls between the two.
            let subscription = events.subscribe()
            try await siteTable.reload(from: catalog)
            // The custom domains already in the catalog get their
            // certificates before the listener opens; later changes follow
            // the table's events and reloads.
            await domainCertificateLoader?.reconcile()
            let loader = domainCertificateLoader
            domainCertificateLoads = loader.map { loader in Task { await loader.run() } }
            let (siteTable, catalog, interval, logger) = (siteTable, catalog, configuration.reconcileInterval, logger)
            let following = Task {
                await siteTable.follow(
                    subscription, catalog: catalog, reconcileInterval: interval, logger: logger,
                    onActivated: { warming.activated($0) }, onDomainsChanged: { loader?.domainsChanged() })
            }
            follow = following

            var tlsContext: NIOSSLContext?
            if configuration.tls != nil {
                // Without the operator's files the listener presents only
                // what other sources (custom domains) put in `certificates`.
                var base: EdgeCertificate?
                do {
                    base = try certificateFiles?.load()
                } catch {
                    throw ProxyError.invalidConfiguration(
                        "cannot use the TLS certificate: \(error); give the PEM chain (leaf first) in SLIPWAY_TLS_CERT_FILE and its key in SLIPWAY_TLS_KEY_FILE"
                    )
                }
                tlsContext = try NIOSSLContext(
                    configuration: EdgeTLS.serverConfiguration(
                        certificates: certificates, base: base, http2: configuration.tls?.http2 != nil))
            }
            let channel = try await bind(
                services: services, host: configuration.host, port: configuration.port, tls: nil)
            var tlsChannel: (any Channel)?
            if let tls = configuration.tls, let tlsContext {
                do {
                    tlsChannel = try await bind(
                        services: services, host: tls.host ?? configuration.host, port: tls.port,
                        tls: (tlsContext, TimeAmount(tls.handshakeTimeout), tls.http2))
                    if let port = tlsChannel?.localAddress?.port { httpsRedirect?.listening(on: port) }
                } catch {
                    try? await channel.close()
                    throw error
                }
            }
            let watch = certificateFiles.map { files in
                let interval = configuration.tls?.reloadInterval ?? .seconds(30)
                return Task { await files.watch(every: interval) }
            }
            let stillStarting = state.withLock { state in
                guard case .starting = state else { return false }
                state = .running(
                    Running(
                        channel: channel, tlsChannel: tlsChannel, certificateWatch: watch,
                        domainCertificateLoads: domainCertificateLoads, follow: following, client: client,
                        prefetcher: warming, services: services))
                return true
            }
            guard stillStarting else {
                watch?.cancel()
                try? await tlsChannel?.close()
                try? await channel.close()
                throw ProxyError.notRunning("the proxy server was shut down while it was starting")
            }
            logger.info(
                "proxy listening",
                metadata: [
                    "address": "\(channel.localAddress.map { "\($0)" } ?? "?")",
                    "tls_address": "\(tlsChannel?.localAddress.map { "\($0)" } ?? "none")",
                    "apps_domain": "\(configuration.normalizedAppsDomain)",
                ])
        } catch {
            follow?.cancel()
            await follow?.value
            domainCertificateLoads?.cancel()
            await domainCertificateLoads?.value
            await prefetcher?.stop()
            try? await client?.shutdown()
            if ownsGroup { try? await group.shutdownGracefully() }
            state.withLock { $0 = .stopped }
            throw error
        }
    }

    /// Stops the server gracefully: stops accepting, lets every connection
    /// finish the response it is writing (idle ones close at once), and
    /// closes what is still open after `gracePeriod`. Then stops following
    /// the catalog and releases the upstream client and the event loops.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        let (running, alreadyStopped): (Running?, Bool) = state.withLock { state in
            defer { state = .stopped }
            switch state {
            case .running(let running): return (running, false)
            case .stopped: return (nil, true)
            case .idle, .starting: return (nil, false)
            }
        }
        // A second call, or one after a failed start, has nothing left to stop.
        guard !alreadyStopped else { return }
        if let running {
            running.certificateWatch?.cancel()
            try? await running.channel.close()
            try? await running.tlsChannel?.close()
            let open = connections.stopAccepting()
            for channel in open {
                channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }
            if await !waitForConnectionsToClose(within: gracePeriod) {
                let remaining = connections.channels
                logger.warning(
                    "closing connections still open at the shutdown deadline", metadata: ["count": "\(remaining.count)"]
                )
                for channel in remaining { channel.close(promise: nil) }
                _ = await waitForConnectionsToClose(within: .seconds(2))
            }
            running.follow.cancel()
            await running.follow.value
            running.domainCertificateLoads?.cancel()
            await running.domainCertificateLoads?.value
            await running.prefetcher.stop()
            try? await running.client?.shutdown()
        }
        if ownsGroup { try? await group.shutdownGracefully() }
    }

    // MARK: Wiring

    private func makeUpstreamClient() throws -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        if let caFile = self.configuration.upstream.caCertificateFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(caFile)
                guard !certificates.isEmpty else { throw NIOSSLError.failedToLoadCertificate }
                tls.additionalTrustRoots = [.certificates(certificates)]
            } catch {
                throw ProxyError.invalidConfiguration(
                    "cannot read CA certificates from '\(caFile)' (\(error)); point the upstream CA file at a PEM file")
            }
            configuration.tlsConfiguration = tls
        }
        // Presigned URLs are fetched as they are: a redirect or a transparent
        // decompression would change what the manifest describes.
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.httpVersion = .http1Only
        configuration.timeout = HTTPClient.Configuration.Timeout(
            connect: TimeAmount(self.configuration.upstream.timeout), read: nil)
        var pool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: self.configuration.upstream.maxConnectionsPerHost)
        // A store that refuses connections is a 502 at once, not a 504 after
        // the client kept retrying until the upstream timeout.
        pool.retryConnectionEstablishment = false
        configuration.connectionPool = pool
        return HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
    }

    private func makeServices(bodySource: BodySource) -> ProxyServices {
        let cache = configuration.cache
        let limits = configuration.limits
        var accessLogger: Logger?
        if configuration.accessLog {
            // The server's own logger (and so its handler), at info level at
            // least, marked as the access log.
            var access = logger
            access[metadataKey: "log"] = "access"
            access.logLevel = min(access.logLevel, .info)
            accessLogger = access
        }
        return ProxyServices(
            pipeline: ServingPipeline(
                appsDomain: configuration.normalizedAppsDomain, siteTable: siteTable, pages: pages,
                maxCachedBodyBytes: bodyCache.maxEntryBytes, acmeThumbprint: configuration.acmeThumbprint,
                domainProbeKey: configuration.domainProbeKeys?.bytes.first, skewWindow: configuration.skewWindow,
                now: skewClock),
            manifests: ManifestStore(
                store: store, capacityBytes: cache.manifestBytes, maxBytes: cache.maxManifestBytes,
                timeout: configuration.upstream.timeout, metricsFactory: metricsFactory),
            bodyCache: bodyCache,
            bodySource: bodySource, fileDelivery: configuration.sendfile ? .sendfile : .buffers,
            metrics: metrics,
            accessLog: AccessLog(logger: accessLogger),
            intakeLimits: RequestIntake.Limits(
                maxRequestLineBytes: limits.maxRequestLineBytes, maxHeaderBytes: limits.maxHeaderBytes,
                maxHeaderCount: limits.maxHeaderCount, maxRequestBodyBytes: limits.maxRequestBodyBytes),
            upstream: configuration.upstream,
            dateClock: dateClock,
            preparedAnswers: Self.preparedAnswerLimits(bodyCacheBytes: bodyCache.capacityBytes),
            httpsRedirect: httpsRedirect,
            strictTransportSecurity: configuration.tls?.hstsMaxAge.map { "max-age=\($0)" }, clients: clients,
            protection: protection,
            logger: logger)
    }

    /// Each event loop keeps up to 8,192 prepared answers, holding at most an
    /// eighth of the body cache's size (64 MiB at most) in bodies the body
    /// cache has itself evicted since.
    static func preparedAnswerLimits(bodyCacheBytes: Int) -> PreparedAnswers.Limits {
        PreparedAnswers.Limits(maxEntries: 8192, maxBytes: min(bodyCacheBytes / 8, 64 << 20))
    }

    /// The connections' timeouts.
    private var connectionTimeouts: ConnectionTimeouts.Configuration {
        ConnectionTimeouts.Configuration(
            headerRead: TimeAmount(configuration.timeouts.headerRead), idle: TimeAmount(configuration.timeouts.idle),
            writeIdle: TimeAmount(configuration.timeouts.writeIdle))
    }

    /// A handler for one connection of this running server on a channel the
    /// caller made, with the caller's clock: what every accepted connection
    /// gets, for tests that drive a connection without a socket.
    func makeConnectionHandler(
        now: @escaping () -> NIODeadline, onTimeout: @escaping (ConnectionTimeouts.Reason) -> Void
    ) -> ProxyRequestHandler? {
        let services: ProxyServices? = state.withLock { state in
            if case .running(let running) = state { return running.services }
            return nil
        }
        guard let services else { return nil }
        return ProxyRequestHandler(services: services, timeouts: connectionTimeouts, now: now, onTimeout: onTimeout)
    }

    /// Binds a listener: plain HTTP/1.1, or with `tls` TLS (its handshake
    /// watched by `TLSHandshakeGuard`) then HTTP/2 or HTTP/1.1 as ALPN
    /// decides, file bodies sent as buffers: a `FileRegion` cannot pass
    /// through the TLS handler.
    private func bind(
        services: ProxyServices, host: String, port: Int,
        tls: (context: NIOSSLContext, handshakeTimeout: TimeAmount, http2: ProxyConfiguration.HTTP2?)?
    ) async throws -> any Channel {
        let timeouts = connectionTimeouts
        let (connections, metrics, logger) = (self.connections, self.metrics, self.logger)
        let clientAddresses = configuration.clientAddresses
        let admitClient = clientAdmission(services: services, plain: tls == nil)

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard connections.admit(channel) else {
                    // Over the limit: accepted and closed at once, so the
                    // connections already held keep being served.
                    metrics.connectionRefused()
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    // Set here, synchronously, rather than as the bootstrap's
                    // child options, which chain a future per option on
                    // every accepted connection.
                    if let options = channel.syncOptions {
                        try options.setOption(.tcpOption(.tcp_nodelay), value: 1)
                        try options.setOption(.allowRemoteHalfClosure, value: true)
                        try options.setOption(.maxMessagesPerRead, value: 16)
                    }
                    let pipeline = channel.pipeline.syncOperations
                    let connection = EdgeConnection(peer: channel.remoteAddress)
                    if clientAddresses.proxyProtocol, clientAddresses.trustedProxies.contains(channel.remoteAddress) {
                        try pipeline.addHandler(
                            ProxyProtocolHandler(
                                connection: connection,
                                onRefused: { reason in
                                    metrics.proxyProtocolRefused()
                                    logger.notice(
                                        "closed a connection from a trusted proxy: \(reason)",
                                        metadata: ["peer": "\(channel.remoteAddress?.ipAddress ?? "-")"])
                                },
                                // The client is known once the header is read.
                                onClient: { context in
                                    _ = admitClient(connection.clientAddress, channel, .after(context.handler))
                                }))
                    } else if !admitClient(connection.clientAddress, channel, .last) {
                        return
                    }
                    guard let tls else {
                        metrics.connectionAccepted(.h1)
                        try pipeline.addHandler(
                            ProxyRequestHandler(
                                services: services, timeouts: timeouts, connection: connection,
                                onTimeout: { metrics.connectionClosed($0) }))
                        return
                    }
                    try pipeline.addHandler(NIOSSLServerHandler(context: tls.context))
                    try pipeline.addHandler(
                        TLSHandshakeGuard(timeout: tls.handshakeTimeout) { metrics.tlsHandshakeFailed($0) })
                    let http2 = tls.http2
                    try pipeline.addHandler(
                        ApplicationProtocolNegotiationHandler { result, channel in
                            channel.eventLoop.makeCompletedFuture {
                                let pipeline = channel.pipeline.syncOperations
                                if let http2, case .negotiated("h2") = result {
                                    metrics.connectionAccepted(.h2)
                                    try HTTP2Edge.configure(
                                        channel, limits: http2, services: services, timeouts: timeouts,
                                        connection: connection, metrics: metrics)
                                } else {
                                    metrics.connectionAccepted(.h1TLS)
                                    try pipeline.addHandler(
                                        ProxyRequestHandler(
                                            services: services, timeouts: timeouts, isSecure: true,
                                            connection: connection, onTimeout: { metrics.connectionClosed($0) }))
                                }
                            }
                        })
                }
            }
        do {
            return try await bootstrap.bind(host: host, port: port).get()
        } catch {
            throw ProxyError.bindFailed(
                "cannot listen on \(host):\(port)\(tls == nil ? "" : " (TLS)"): \(error); pick a free port or another address"
            )
        }
    }

    /// Counts a connection against its client's connection limit
    /// (``ClientConnectionLimiter``): a function of the client's address, the
    /// channel and where a refusal's handler goes, returning false when it
    /// refused the connection. A refused plain connection gets its 429
    /// (``ClientLimitRefusal``) and closes; over TLS it closes at once. The
    /// addresses of trusted proxies (a balancer without the PROXY protocol)
    /// are not limited: they carry many clients.
    private func clientAdmission(
        services: ProxyServices, plain: Bool
    ) -> @Sendable (String, any Channel, ChannelPipeline.SynchronousOperations.Position) -> Bool {
        guard let limiter = clients.connectionLimiter else { return { _, _, _ in true } }
        let (metrics, trusted, headerTimeout) = (
            metrics, configuration.clientAddresses.trustedProxies, TimeAmount(configuration.timeouts.headerRead)
        )
        return { client, channel, position in
            if limiter.admit(client, on: channel) || trusted.contains(ipAddress: client) { return true }
            metrics.connectionRefusedForClient()
            guard plain else {
                channel.close(promise: nil)
                return false
            }
            let refusal = ClientLimitRefusal(timeout: headerTimeout) {
                TooManyRequests.connectionLimitResponse(
                    limit: limiter.limit, date: services.loopStates.current.endings.date())
            }
            do {
                try channel.pipeline.syncOperations.addHandler(refusal, position: position)
            } catch {
                channel.close(promise: nil)
            }
            return false
        }
    }

    /// Who each request's client is, and the per-client limits, from the configuration.
    static func makeClients(_ configuration: ProxyConfiguration, rateLimitClock: (@Sendable () -> Int64)?)
        -> EdgeClients
    {
        let limits = configuration.clientLimits
        let rateLimiter = limits.requestsPerSecond.map { rate in
            if let rateLimitClock {
                return ClientRateLimiter(
                    rate: rate, burst: limits.effectiveBurst, capacity: limits.maxTrackedClients,
                    clock: rateLimitClock)
            }
            return ClientRateLimiter(rate: rate, burst: limits.effectiveBurst, capacity: limits.maxTrackedClients)
        }
        let connectionLimiter =
            limits.maxConnectionsPerClient > 0 ? ClientConnectionLimiter(limit: limits.maxConnectionsPerClient) : nil
        return EdgeClients(
            trustedProxies: configuration.clientAddresses.trustedProxies, rateLimiter: rateLimiter,
            connectionLimiter: connectionLimiter)
    }

    /// Waits until every connection has closed, at most `limit`.
    /// - Returns: whether none is left.
    private func waitForConnectionsToClose(within limit: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while connections.count > 0 {
            guard clock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
