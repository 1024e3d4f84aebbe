/// One setting of `slipway serve`: its key in the configuration file, the
/// environment variable that overrides it, and what it means. The table is
/// what `slipway config` prints and what the README documents.
struct Setting: Sendable, Hashable {
    /// Dotted key in the YAML/JSON file (`storage.s3.bucket`).
    let key: String
    /// Environment variable (`SLIPWAY_S3_BUCKET`); wins over the file.
    let environment: String
    /// The default shown to people ("" when there is none).
    let defaultText: String
    /// Never printed, logged or returned.
    let secret: Bool

    init(_ key: String, _ environment: String, default defaultText: String = "", secret: Bool = false) {
        self.key = key
        self.environment = environment
        self.defaultText = defaultText
        self.secret = secret
    }

    /// How messages name the setting: both ways of giving it.
    var label: String { "\(environment) (\(key))" }
}

extension Setting {
    static let dataDir = Setting("data.dir", "SLIPWAY_DATA_DIR", default: "./.slipway")
    static let roles = Setting("roles", "SLIPWAY_ROLES", default: "proxy,builder,admin")
    static let proxyHost = Setting("proxy.host", "SLIPWAY_PROXY_HOST", default: "0.0.0.0")
    static let proxyPort = Setting("proxy.port", "SLIPWAY_PROXY_PORT", default: "8080")
    static let appsDomain = Setting("proxy.apps_domain", "SLIPWAY_APPS_DOMAIN", default: "localhost")
    static let pagesDir = Setting("proxy.pages_dir", "SLIPWAY_PAGES_DIR")
    static let staticDir = Setting(
        "static_dir", "SLIPWAY_STATIC_DIR", default: "./static, or share/slipway/static beside the binary")
    static let proxyMaxConnections = Setting("proxy.max_connections", "SLIPWAY_PROXY_MAX_CONNECTIONS", default: "10000")
    static let proxyHeaderTimeout = Setting("proxy.header_timeout", "SLIPWAY_PROXY_HEADER_TIMEOUT", default: "10s")
    static let proxyIdleTimeout = Setting("proxy.idle_timeout", "SLIPWAY_PROXY_IDLE_TIMEOUT", default: "60s")
    static let proxyWriteTimeout = Setting("proxy.write_timeout", "SLIPWAY_PROXY_WRITE_TIMEOUT", default: "30s")
    static let skewWindow = Setting("proxy.skew_window", "SLIPWAY_SKEW_WINDOW", default: "1h")
    static let proxyUpstreamTimeout = Setting(
        "proxy.upstream_timeout", "SLIPWAY_PROXY_UPSTREAM_TIMEOUT", default: "10s")
    static let proxyAccessLog = Setting("proxy.access_log", "SLIPWAY_ACCESS_LOG", default: "false")
    static let proxySendfile = Setting("proxy.sendfile", "SLIPWAY_SENDFILE", default: "true")
    static let trustedProxies = Setting("proxy.trusted_proxies", "SLIPWAY_TRUSTED_PROXIES", default: "none")
    static let proxyProtocol = Setting("proxy.proxy_protocol", "SLIPWAY_PROXY_PROTOCOL", default: "false")
    static let rateLimit = Setting("proxy.rate_limit", "SLIPWAY_RATE_LIMIT", default: "off")
    static let rateLimitBurst = Setting(
        "proxy.rate_limit_burst", "SLIPWAY_RATE_LIMIT_BURST", default: "twice the rate limit")
    static let maxConnectionsPerClient = Setting(
        "proxy.max_connections_per_client", "SLIPWAY_MAX_CONNECTIONS_PER_CLIENT", default: "off")
    static let tlsPort = Setting("proxy.tls_port", "SLIPWAY_TLS_PORT", default: "off")
    static let tlsCertFile = Setting("proxy.tls_cert_file", "SLIPWAY_TLS_CERT_FILE")
    static let tlsKeyFile = Setting("proxy.tls_key_file", "SLIPWAY_TLS_KEY_FILE")
    static let publicURL = Setting(
        "proxy.public_url", "SLIPWAY_PUBLIC_URL", default: "https on SLIPWAY_TLS_PORT when set, else http")
    static let tlsHandshakeTimeout = Setting(
        "proxy.tls_handshake_timeout", "SLIPWAY_TLS_HANDSHAKE_TIMEOUT", default: "10s")
    static let http2 = Setting("proxy.http2", "SLIPWAY_HTTP2", default: "true")
    static let httpsRedirect = Setting("proxy.https_redirect", "SLIPWAY_HTTPS_REDIRECT", default: "true")
    static let hstsMaxAge = Setting("proxy.hsts_max_age", "SLIPWAY_HSTS_MAX_AGE", default: "off")
    static let sessionTTL = Setting("proxy.session_ttl", "SLIPWAY_SESSION_TTL", default: "168h")
    static let http2MaxStreams = Setting(
        "proxy.http2_max_concurrent_streams", "SLIPWAY_HTTP2_MAX_CONCURRENT_STREAMS", default: "100")
    static let adminHost = Setting("admin.host", "SLIPWAY_ADMIN_HOST", default: "127.0.0.1")
    static let adminPort = Setting("admin.port", "SLIPWAY_ADMIN_PORT", default: "8081")
    static let adminToken = Setting("admin.token", "SLIPWAY_ADMIN_TOKEN", default: "<data>/admin-token", secret: true)
    static let secretKey = Setting(
        "secret_key", "SLIPWAY_SECRET_KEY",
        default: "<data>/secret-key on one node; required with PostgreSQL or split roles",
        secret: true)
    static let auditRetention = Setting("admin.audit_retention", "SLIPWAY_AUDIT_RETENTION", default: "2160h")
    static let uploadTTL = Setting("admin.upload_ttl", "SLIPWAY_UPLOAD_TTL", default: "24h")
    static let uploadDir = Setting("admin.upload_dir", "SLIPWAY_UPLOAD_DIR", default: "<data dir>/uploads")
    static let domainTarget = Setting("domains.target", "SLIPWAY_DOMAIN_TARGET")
    static let domainAddresses = Setting("domains.addresses", "SLIPWAY_DOMAIN_ADDRESSES")
    static let maxDomains = Setting(
        "domains.max_per_deployment", "SLIPWAY_MAX_DOMAINS_PER_DEPLOYMENT", default: "20")
    static let acmeDirectory = Setting(
        "domains.acme_directory", "SLIPWAY_ACME_DIRECTORY",
        default: "https://acme-v02.api.letsencrypt.org/directory (off: no certificates)")
    static let acmeEmail = Setting("domains.acme_email", "SLIPWAY_ACME_EMAIL")
    static let acmeCAFile = Setting("domains.acme_ca_file", "SLIPWAY_ACME_CA_FILE")
    static let dnsResolvers = Setting("domains.dns_resolvers", "SLIPWAY_DNS_RESOLVERS", default: "/etc/resolv.conf")
    static let domainProbePort = Setting("domains.probe_port", "SLIPWAY_DOMAIN_PROBE_PORT", default: "80")
    static let domainCheckInterval = Setting(
        "domains.check_interval", "SLIPWAY_DOMAIN_CHECK_INTERVAL", default: "15s")
    static let operationsHost = Setting("operations.host", "SLIPWAY_OPERATIONS_HOST", default: "127.0.0.1")
    static let operationsPort = Setting("operations.port", "SLIPWAY_OPERATIONS_PORT", default: "8082")
    static let storageKind = Setting("storage.kind", "SLIPWAY_STORAGE", default: "disk")
    static let s3Endpoint = Setting("storage.s3.endpoint", "SLIPWAY_S3_ENDPOINT")
    static let s3Bucket = Setting("storage.s3.bucket", "SLIPWAY_S3_BUCKET")
    static let s3Region = Setting("storage.s3.region", "SLIPWAY_S3_REGION", default: "auto")
    static let s3AccessKeyID = Setting("storage.s3.access_key_id", "SLIPWAY_S3_ACCESS_KEY_ID")
    static let s3SecretAccessKey = Setting("storage.s3.secret_access_key", "SLIPWAY_S3_SECRET_ACCESS_KEY", secret: true)
    static let s3PathStyle = Setting("storage.s3.path_style", "SLIPWAY_S3_PATH_STYLE", default: "true")
    static let s3Prefix = Setting("storage.s3.prefix", "SLIPWAY_S3_PREFIX")
    static let s3CAFile = Setting("storage.s3.ca_file", "SLIPWAY_S3_CA_FILE")
    static let catalogURL = Setting(
        "catalog.url", "SLIPWAY_DATABASE_URL", default: "sqlite:<data>/catalog.sqlite", secret: true)
    static let catalogListenURL = Setting(
        "catalog.listen_url", "SLIPWAY_DATABASE_LISTEN_URL", default: "SLIPWAY_DATABASE_URL", secret: true)
    static let catalogPoolSize = Setting("catalog.pool_size", "SLIPWAY_DATABASE_POOL_SIZE", default: "10")
    static let cacheBytes = Setting("cache.bytes", "SLIPWAY_CACHE_BYTES", default: "256MiB")
    static let cacheMaxEntryBytes = Setting("cache.max_entry_bytes", "SLIPWAY_CACHE_MAX_ENTRY_BYTES", default: "1MiB")
    static let buildRunner = Setting("builder.runner", "SLIPWAY_BUILD_RUNNER", default: "auto")
    static let buildImage = Setting("builder.image", "SLIPWAY_BUILD_IMAGE", default: "node:20")
    static let buildConcurrency = Setting("builder.concurrency", "SLIPWAY_BUILD_CONCURRENCY", default: "2")
    static let buildTimeout = Setting("builder.timeout", "SLIPWAY_BUILD_TIMEOUT", default: "15m")
    static let buildMemory = Setting("builder.memory", "SLIPWAY_BUILD_MEMORY", default: "2g")
    static let buildCPUs = Setting("builder.cpus", "SLIPWAY_BUILD_CPUS", default: "2")
    static let buildPids = Setting("builder.pids", "SLIPWAY_BUILD_PIDS", default: "512")
    static let buildNetwork = Setting("builder.network", "SLIPWAY_BUILD_NETWORK", default: "bridge")
    static let buildDrainTimeout = Setting(
        "builder.drain_timeout", "SLIPWAY_BUILD_DRAIN_TIMEOUT", default: "0s with SQLite, 5m with PostgreSQL")
    static let buildPollInterval = Setting(
        "builder.poll_interval", "SLIPWAY_BUILD_POLL_INTERVAL", default: "2s with SQLite, 30s with PostgreSQL")
    static let buildKeep = Setting("builder.keep_builds", "SLIPWAY_BUILD_KEEP", default: "10")
    static let buildMaxFiles = Setting("builder.max_files", "SLIPWAY_BUILD_MAX_FILES", default: "50000")
    static let buildMaxOutput = Setting("builder.max_output", "SLIPWAY_BUILD_MAX_OUTPUT", default: "2g")
    static let blobGrace = Setting("builder.blob_grace", "SLIPWAY_BLOB_GRACE", default: "1h")
    static let blobCollectInterval = Setting(
        "builder.blob_collect_interval", "SLIPWAY_BLOB_COLLECT_INTERVAL", default: "10m")
    static let allowLocalRepos = Setting("builder.allow_local_repos", "SLIPWAY_ALLOW_LOCAL_REPOS", default: "false")
    static let gitCAFile = Setting("builder.git_ca_file", "SLIPWAY_GIT_CA_FILE")
    static let dockerHost = Setting("builder.docker_host", "DOCKER_HOST", default: "unix:///var/run/docker.sock")
    static let queueMax = Setting("queue.max_queued", "SLIPWAY_QUEUE_MAX", default: "100")
    static let queueMaxAttempts = Setting("queue.max_attempts", "SLIPWAY_BUILD_MAX_ATTEMPTS", default: "3")
    static let queueLease = Setting("queue.lease", "SLIPWAY_BUILD_LEASE", default: "30s")
    static let notifyConcurrency = Setting("notify.concurrency", "SLIPWAY_NOTIFY_CONCURRENCY", default: "4")
    static let notifyTimeout = Setting("notify.timeout", "SLIPWAY_NOTIFY_TIMEOUT", default: "10s")
    static let notifyMaxAttempts = Setting("notify.max_attempts", "SLIPWAY_NOTIFY_MAX_ATTEMPTS", default: "8")
    static let notifyRetention = Setting("notify.retention", "SLIPWAY_NOTIFY_RETENTION", default: "168h")

    /// Every setting, in the order `slipway config` prints them.
    static let all: [Setting] = [
        dataDir, roles, staticDir, proxyHost, proxyPort, appsDomain, pagesDir, proxyMaxConnections, proxyHeaderTimeout,
        proxyIdleTimeout, proxyWriteTimeout, proxyUpstreamTimeout, skewWindow, proxyAccessLog, proxySendfile,
        trustedProxies,
        proxyProtocol, rateLimit, rateLimitBurst, maxConnectionsPerClient, tlsPort, tlsCertFile,
        tlsKeyFile, tlsHandshakeTimeout, http2, http2MaxStreams, httpsRedirect, hstsMaxAge, sessionTTL, publicURL,
        adminHost,
        adminPort,
        adminToken, secretKey, auditRetention, uploadTTL, uploadDir, domainTarget, domainAddresses, maxDomains,
        acmeDirectory, acmeEmail,
        acmeCAFile, dnsResolvers, domainProbePort, domainCheckInterval,
        operationsHost, operationsPort,
        storageKind,
        s3Endpoint, s3Bucket, s3Region, s3AccessKeyID, s3SecretAccessKey, s3PathStyle, s3Prefix, s3CAFile, catalogURL,
        catalogListenURL, catalogPoolSize, cacheBytes,
        cacheMaxEntryBytes, buildRunner, buildImage, buildConcurrency, buildTimeout, buildMemory, buildCPUs,
        buildPids, buildNetwork, buildDrainTimeout, buildPollInterval, buildKeep, blobGrace, blobCollectInterval,
        buildMaxFiles, buildMaxOutput,
        allowLocalRepos, gitCAFile,
        dockerHost, queueMax,
        queueMaxAttempts, queueLease,
        notifyConcurrency, notifyTimeout, notifyMaxAttempts, notifyRetention,
    ]
}
