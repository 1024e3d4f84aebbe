public import Model
import NIOCore

/// Everything the edge proxy can be told, with the defaults Slipway ships.
///
/// The proxy never reads the environment: the `slipway` executable maps
/// `SLIPWAY_PROXY_HOST`, `SLIPWAY_PROXY_PORT`, `SLIPWAY_APPS_DOMAIN`,
/// `SLIPWAY_CACHE_BYTES`, `SLIPWAY_CACHE_MAX_ENTRY_BYTES`, … onto this value.
/// Limits and timeouts follow `docs/hardening.md` (Proxy sections).
public struct ProxyConfiguration: Sendable, Hashable {
    /// Address to listen on (`SLIPWAY_PROXY_HOST`).
    public var host: String
    /// Port to listen on; 0 picks a free port (`SLIPWAY_PROXY_PORT`).
    public var port: Int
    /// Sites answer at `<slug>.<appsDomain>` and previews at
    /// `<n>--<slug>.<appsDomain>` (`SLIPWAY_APPS_DOMAIN`). The default,
    /// `localhost`, makes `http://<slug>.localhost:8080/` work on a fresh machine.
    public var appsDomain: String
    /// The thumbprint of Slipway's ACME account: plain-HTTP requests for
    /// `/.well-known/acme-challenge/<token>` on a custom domain are
    /// answered `<token>.<thumbprint>`. Nil answers no challenge.
    public var acmeThumbprint: String?
    /// The keys of custom domains' routing probe (``DomainProbe/keys(_:)``;
    /// the first answers); nil answers no probe.
    public var domainProbeKeys: SessionKeys?
    /// The directory holding Slipway's own pages (`building.html`,
    /// `failed.html`, `error.html`): `static/pages` of the repository or image.
    public var pagesDirectory: String
    /// A directory whose pages, when present, replace those of `pagesDirectory`
    /// one by one (an operator's branding).
    public var pagesOverrideDirectory: String?
    /// Event loops, one per core this process may run on by default.
    public var eventLoopThreads: Int
    /// How often the site table is compared with the catalog, as a safety net
    /// behind the activation and site events.
    public var reconcileInterval: Duration
    /// Skew protection: for this long after a deploy, a hashed asset the
    /// live build lacks is served from the build it replaced (or one before
    /// it) when that build had it (`SLIPWAY_SKEW_WINDOW`); zero turns it off.
    public var skewWindow: Duration = .seconds(3600)
    /// Logs one structured line per response (method, host, path without
    /// query, status, bytes, duration, cache) at `info` level.
    public var accessLog: Bool
    /// Files of the disk store are sent with `sendfile`, straight from the
    /// page cache to the socket. Off, they are read into buffers a slice
    /// ahead of the client (for file systems where `sendfile` is unreliable,
    /// and the way every body leaves a connection that encrypts).
    public var sendfile: Bool
    /// The HTTPS listener; nil: none.
    public var tls: TLS?
    /// Which peers are load balancers that may say who the client is.
    public var clientAddresses: ClientAddresses
    /// Per-client request rate and connection limits (off by default).
    public var clientLimits: ClientLimits
    public var limits: Limits
    public var timeouts: Timeouts
    public var cache: Cache
    public var upstream: Upstream
    public var prefetch: Prefetch
    /// Protected sites: the keys that sign session cookies, their lifetime
    /// and the limit on failed sign-ins (`ProxyConfiguration+Protection.swift`).
    public var protection = Protection()

    /// Where the client's address comes from. A connection from one of the
    /// `trustedProxies` with `proxyProtocol` on starts with a PROXY protocol
    /// header (v1 or v2) naming the client, on both listeners; any other
    /// connection's client is its peer, and a PROXY header from it is not
    /// read (the request is malformed).
    public struct ClientAddresses: Sendable, Hashable {
        /// `SLIPWAY_TRUSTED_PROXIES`.
        public var trustedProxies: TrustedProxies
        /// `SLIPWAY_PROXY_PROTOCOL`.
        public var proxyProtocol: Bool

        public init(trustedProxies: TrustedProxies = .none, proxyProtocol: Bool = false) {
            self.trustedProxies = trustedProxies
            self.proxyProtocol = proxyProtocol
        }
    }

    /// Request-size and connection limits.
    public struct Limits: Sendable, Hashable {
        /// Connections held at once; more are accepted and closed at once
        /// while the existing ones keep being served.
        public var maxConnections: Int
        /// Longest request line (method, target, version); longer -> 414.
        public var maxRequestLineBytes: Int
        /// Most bytes of header names and values together; more -> 431.
        public var maxHeaderBytes: Int
        /// Most header fields; more -> 431.
        public var maxHeaderCount: Int
        /// Largest request body accepted (and discarded); larger -> 413.
        public var maxRequestBodyBytes: Int

        public init(
            maxConnections: Int = 10_000, maxRequestLineBytes: Int = 8 << 10, maxHeaderBytes: Int = 16 << 10,
            maxHeaderCount: Int = 100, maxRequestBodyBytes: Int = 1 << 10
        ) {
            self.maxConnections = maxConnections
            self.maxRequestLineBytes = maxRequestLineBytes
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxRequestBodyBytes = maxRequestBodyBytes
        }
    }

    /// Connection timeouts.
    public struct Timeouts: Sendable, Hashable {
        /// From the first byte of a request (or a new connection) until the
        /// whole request has arrived; a client trickling its headers
        /// (slowloris) is closed after this.
        public var headerRead: Duration
        /// A keep-alive connection with no request in progress is closed after this.
        public var idle: Duration
        /// A connection whose client stopped reading (nothing could be
        /// written for this long) is closed.
        public var writeIdle: Duration

        public init(
            headerRead: Duration = .seconds(10), idle: Duration = .seconds(60), writeIdle: Duration = .seconds(30)
        ) {
            self.headerRead = headerRead
            self.idle = idle
            self.writeIdle = writeIdle
        }
    }

    /// The HTTPS listener, beside the plain one: TLS 1.2 and 1.3, the
    /// certificate chosen by the name the client asks for (SNI).
    public struct TLS: Sendable, Hashable {
        /// Address to listen on (the plain listener's host).
        public var host: String?
        /// Port to listen on (`SLIPWAY_TLS_PORT`); 0 picks a free port.
        public var port: Int
        /// The operator's PEM certificate chain, leaf first (`SLIPWAY_TLS_CERT_FILE`),
        /// typically a wildcard for the apps domain; nil when certificates come
        /// only from elsewhere.
        public var certificateFile: String?
        /// Its PEM private key (`SLIPWAY_TLS_KEY_FILE`).
        public var keyFile: String?
        /// A client that has not finished its handshake in this time is closed.
        public var handshakeTimeout: Duration
        /// How often the certificate files are checked for a change.
        public var reloadInterval: Duration
        /// HTTP/2 on this listener, offered by ALPN beside HTTP/1.1; nil
        /// offers HTTP/1.1 only (`SLIPWAY_HTTP2=false`).
        public var http2: HTTP2?
        /// The plain listener answers requests for a host a certificate
        /// covers with a 308 to https (`SLIPWAY_HTTPS_REDIRECT`).
        public var redirectsPlainHTTP: Bool
        /// `Strict-Transport-Security: max-age=<seconds>` on every answer
        /// over HTTPS (`SLIPWAY_HSTS_MAX_AGE`); nil sends none.
        public var hstsMaxAge: Int?

        public init(
            host: String? = nil, port: Int = 8443, certificateFile: String? = nil, keyFile: String? = nil,
            handshakeTimeout: Duration = .seconds(10), reloadInterval: Duration = .seconds(30),
            http2: HTTP2? = HTTP2(), redirectsPlainHTTP: Bool = true, hstsMaxAge: Int? = nil
        ) {
            self.redirectsPlainHTTP = redirectsPlainHTTP
            self.hstsMaxAge = hstsMaxAge
            self.host = host
            self.port = port
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.handshakeTimeout = handshakeTimeout
            self.reloadInterval = reloadInterval
            self.http2 = http2
        }
    }

    /// The limits of an HTTP/2 connection. A client over them gets a reset
    /// stream or, for the connection's limits, a GOAWAY and a closed
    /// connection; never more memory or work than they allow.
    public struct HTTP2: Sendable, Hashable {
        /// Streams a client may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`).
        public var maxConcurrentStreams: Int
        /// The window each stream and the connection grant the client for
        /// request bodies (`SETTINGS_INITIAL_WINDOW_SIZE`).
        public var initialWindowSize: Int
        /// The HPACK table the client may use (`SETTINGS_HEADER_TABLE_SIZE`).
        public var headerTableSize: Int
        /// Streams a client may reset, and stream errors it may cause, per
        /// ``rateWindow`` (rapid reset, CVE-2023-44487).
        public var maxResetsPerWindow: Int
        /// PING, SETTINGS and PRIORITY frames a client may send per ``rateWindow``.
        public var maxControlFramesPerWindow: Int
        public var rateWindow: Duration
        /// Control frames (PING and SETTINGS acknowledgements) queued for a
        /// client that does not read them before the connection is closed.
        public var maxBufferedControlFrames: Int
        /// CONTINUATION frames one header block may take.
        public var maxContinuationFrames: Int

        public init(
            maxConcurrentStreams: Int = 100, initialWindowSize: Int = 65_535, headerTableSize: Int = 4_096,
            maxResetsPerWindow: Int = 200, maxControlFramesPerWindow: Int = 200, rateWindow: Duration = .seconds(30),
            maxBufferedControlFrames: Int = 1_000, maxContinuationFrames: Int = 5
        ) {
            self.maxConcurrentStreams = maxConcurrentStreams
            self.initialWindowSize = initialWindowSize
            self.headerTableSize = headerTableSize
            self.maxResetsPerWindow = maxResetsPerWindow
            self.maxControlFramesPerWindow = maxControlFramesPerWindow
            self.rateWindow = rateWindow
            self.maxBufferedControlFrames = maxBufferedControlFrames
            self.maxContinuationFrames = maxContinuationFrames
        }
    }

    /// In-memory caches.
    public struct Cache: Sendable, Hashable {
        /// Byte budget of the body cache (`SLIPWAY_CACHE_BYTES`).
        public var bodyBytes: Int
        /// Largest body kept in memory (`SLIPWAY_CACHE_MAX_ENTRY_BYTES`);
        /// larger files stream from the store on every request.
        public var maxEntryBytes: Int
        /// Byte budget of the manifest cache (manifests are counted at their stored size).
        public var manifestBytes: Int
        /// Largest manifest the proxy loads.
        public var maxManifestBytes: Int

        public init(
            bodyBytes: Int = 256 << 20, maxEntryBytes: Int = 1 << 20, manifestBytes: Int = 64 << 20,
            maxManifestBytes: Int = 32 << 20
        ) {
            self.bodyBytes = bodyBytes
            self.maxEntryBytes = maxEntryBytes
            self.manifestBytes = manifestBytes
            self.maxManifestBytes = maxManifestBytes
        }
    }

    /// How the proxy talks to the object store.
    public struct Upstream: Sendable, Hashable {
        /// Connecting and receiving the response head (and, for bodies read
        /// whole into memory and manifests, the whole body) must finish within
        /// this; otherwise the client gets the 504 page.
        public var timeout: Duration
        /// A streamed body that delivers nothing for this long while the
        /// proxy is waiting for it is aborted (the client connection is
        /// closed: its headers were already sent).
        public var idleTimeout: Duration
        /// Lifetime of the presigned URLs the proxy fetches objects with.
        public var presignExpiry: Duration
        /// Pooled connections per store host and event loop.
        public var maxConnectionsPerHost: Int
        /// A PEM file of extra certificate authorities to trust for an
        /// `https://` store with a private CA (the same file as the S3
        /// store's `caCertificateFile`).
        public var caCertificateFile: String?

        public init(
            timeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(15),
            presignExpiry: Duration = .seconds(300),
            maxConnectionsPerHost: Int = 64, caCertificateFile: String? = nil
        ) {
            self.timeout = timeout
            self.idleTimeout = idleTimeout
            self.presignExpiry = presignExpiry
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.caCertificateFile = caCertificateFile
        }
    }

    /// Warming the body cache when a build is activated: the proxy loads the
    /// new build's manifest and its small HTML files (with their
    /// precompressed variants) in the background, so the first visitors after
    /// a deploy are served from memory (`Serving/CachePrefetcher.swift`).
    public struct Prefetch: Sendable, Hashable {
        /// HTML files up to this size (their identity body) are prefetched; 0
        /// turns prefetching off. Files over the body cache's entry limit
        /// never are.
        public var maxFileBytes: Int
        /// The most bytes (bodies and variants together) prefetched for one
        /// activation; 0 turns prefetching off.
        public var maxBytes: Int
        /// Objects one activation loads from the store at once.
        public var concurrency: Int

        public init(maxFileBytes: Int = 64 << 10, maxBytes: Int = 4 << 20, concurrency: Int = 4) {
            self.maxFileBytes = maxFileBytes
            self.maxBytes = maxBytes
            self.concurrency = concurrency
        }

        /// Prefetching off: nothing is loaded when a build is activated.
        public static let disabled = Prefetch(maxFileBytes: 0, maxBytes: 0)

        /// Whether an activation prefetches anything.
        public var isEnabled: Bool { maxFileBytes > 0 && maxBytes > 0 }
    }

    public init(
        host: String = "0.0.0.0",
        port: Int = 8080,
        appsDomain: String = "localhost",
        pagesDirectory: String = "static/pages",
        pagesOverrideDirectory: String? = nil,
        eventLoopThreads: Int = ProxyConfiguration.defaultEventLoopThreads,
        reconcileInterval: Duration = .seconds(60),
        accessLog: Bool = false,
        sendfile: Bool = true,
        tls: TLS? = nil,
        clientAddresses: ClientAddresses = ClientAddresses(),
        clientLimits: ClientLimits = ClientLimits(),
        limits: Limits = Limits(),
        timeouts: Timeouts = Timeouts(),
        cache: Cache = Cache(),
        upstream: Upstream = Upstream(),
        prefetch: Prefetch = Prefetch()
    ) {
        self.host = host
        self.port = port
        self.appsDomain = appsDomain
        self.pagesDirectory = pagesDirectory
        self.pagesOverrideDirectory = pagesOverrideDirectory
        self.eventLoopThreads = eventLoopThreads
        self.reconcileInterval = reconcileInterval
        self.accessLog = accessLog
        self.sendfile = sendfile
        self.tls = tls
        self.clientAddresses = clientAddresses
        self.clientLimits = clientLimits
        self.limits = limits
        self.timeouts = timeouts
        self.cache = cache
        self.upstream = upstream
        self.prefetch = prefetch
    }

    /// One event loop per core this process may run on: the cores of its
    /// CPU affinity mask (`taskset`, `docker --cpuset-cpus`), within the
    /// cgroup quota NIO reads. More loops than cores would only take turns
    /// on the same core, switching threads between requests.
    public static var defaultEventLoopThreads: Int {
        let quota = System.coreCount
        guard let allowed = CPUAffinity.allowedCoreCount() else { return quota }
        return max(1, min(quota, allowed))
    }

    /// The apps domain as routing compares it: lower-cased, without
    /// surrounding dots.
    var normalizedAppsDomain: String {
        var domain = Substring(appsDomain.lowercased())
        while domain.hasPrefix(".") { domain = domain.dropFirst() }
        while domain.hasSuffix(".") { domain = domain.dropLast() }
        return String(domain)
    }

    /// Checks that the values can work together.
    /// - Throws: `ProxyError.invalidConfiguration` naming the setting to fix.
    func validate() throws(ProxyError) {
        func require(_ condition: Bool, _ message: String) throws(ProxyError) {
            if !condition { throw ProxyError.invalidConfiguration(message) }
        }
        try require((0...65_535).contains(port), "proxy port \(port) is not between 0 and 65535")
        try require(!host.isEmpty, "proxy host is empty; use 0.0.0.0 to listen on every interface")
        try require(
            protection.sessionTTL >= .seconds(60) && protection.sessionTTL <= .seconds(366 * 86_400),
            "the session lifetime of protected sites must be between 1 minute and 366 days")
        try require(
            protection.maxFailures > 0 && protection.failureWindow > .zero,
            "the sign-in attempt limit needs at least one attempt and a window above zero")
        let domain = normalizedAppsDomain
        try require(
            !domain.isEmpty && HostRoute.normalizedHost(domain) == domain,
            "apps domain '\(appsDomain.prefix(100))' is not a host name such as apps.example.com or localhost")
        try require(eventLoopThreads >= 1, "event loop threads must be at least 1")
        try require(limits.maxConnections >= 1, "maximum connections must be at least 1")
        try require(limits.maxRequestLineBytes >= 64, "the request line limit must be at least 64 bytes")
        try require(limits.maxHeaderBytes >= 256, "the header size limit must be at least 256 bytes")
        try require(limits.maxHeaderCount >= 8, "the header count limit must be at least 8")
        try require(limits.maxRequestBodyBytes >= 0, "the request body limit must not be negative")
        for (name, value) in [
            ("header read timeout", timeouts.headerRead), ("idle timeout", timeouts.idle),
            ("write idle timeout", timeouts.writeIdle), ("upstream timeout", upstream.timeout),
            ("upstream idle timeout", upstream.idleTimeout), ("presign expiry", upstream.presignExpiry),
            ("reconcile interval", reconcileInterval),
        ] {
            try require(value > .zero, "the \(name) must be positive")
        }
        try require(cache.bodyBytes >= 0 && cache.maxEntryBytes >= 0, "cache sizes must not be negative")
        try require(cache.manifestBytes > 0 && cache.maxManifestBytes > 0, "manifest cache sizes must be positive")
        try require(upstream.maxConnectionsPerHost >= 1, "upstream connections per host must be at least 1")
        try require(
            prefetch.maxFileBytes >= 0 && prefetch.maxBytes >= 0, "prefetch sizes must not be negative (0 turns it off)"
        )
        try require(prefetch.concurrency >= 1, "prefetch concurrency must be at least 1")
        try clientLimits.validate()
        try require(
            !clientAddresses.proxyProtocol || !clientAddresses.trustedProxies.isEmpty,
            "the PROXY protocol is on but no trusted proxy is set; name the load balancers' addresses in SLIPWAY_TRUSTED_PROXIES"
        )
        if let tls {
            try require((0...65_535).contains(tls.port), "TLS port \(tls.port) is not between 0 and 65535")
            try require(
                (tls.certificateFile == nil) == (tls.keyFile == nil),
                "a TLS certificate file needs its key file and a key file its certificate file; set both")
            try require(
                tls.handshakeTimeout > .zero && tls.reloadInterval > .zero,
                "the TLS handshake timeout and reload interval must be positive")
            if let age = tls.hstsMaxAge {
                try require(age >= 0, "the HSTS max-age must not be negative")
            }
            if let http2 = tls.http2 {
                try require(
                    (1...10_000).contains(http2.maxConcurrentStreams),
                    "HTTP/2 concurrent streams must be between 1 and 10000")
                try require(
                    (65_535...(1 << 31) - 1).contains(http2.initialWindowSize),
                    "the HTTP/2 window must be between 65535 and 2147483647 bytes")
                try require(
                    http2.headerTableSize >= 0 && http2.maxResetsPerWindow >= 1 && http2.maxControlFramesPerWindow >= 1
                        && http2.maxBufferedControlFrames >= 1 && http2.maxContinuationFrames >= 1
                        && http2.rateWindow > .zero,
                    "HTTP/2 limits must be positive")
            }
        }
    }
}
