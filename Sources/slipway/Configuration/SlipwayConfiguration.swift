import Builder
import DNS
import Foundation
import Model
import Postgres
import Proxy
import Storage

/// Everything `slipway serve` needs, read from the configuration file and the
/// environment (see `Setting`) and checked before anything starts: a bad or
/// incomplete configuration stops the start with a message naming the setting.
struct SlipwayConfiguration: Sendable {
    enum StorageKind: Sendable {
        case disk
        case s3(S3Configuration)
    }

    enum CatalogLocation: Sendable {
        case sqlite(path: String)
        /// A fleet's shared catalog and event bus; `listen` is where the
        /// event listener connects (the same server unless the pool goes
        /// through a pooler that cannot `LISTEN`).
        case postgres(PostgresSettings, listen: PostgresSettings, poolSize: Int)

        var isShared: Bool {
            if case .postgres = self { return true }
            return false
        }
    }

    enum RunnerChoice: String, Sendable, Equatable, CaseIterable {
        case auto, docker, local
    }

    struct Listener: Sendable, Equatable {
        var host: String
        var port: Int
    }

    /// `SLIPWAY_ACME_*`, `SLIPWAY_DNS_RESOLVERS`, `SLIPWAY_DOMAIN_PROBE_PORT`,
    /// `SLIPWAY_DOMAIN_CHECK_INTERVAL`.
    static func domains(_ parser: SettingParser) throws(ConfigurationError) -> Domains {
        var domains = Domains()
        if let directory = parser.text(.acmeDirectory) {
            if directory == "off" {
                domains.acmeDirectory = nil
            } else {
                guard let url = URL(string: directory), url.scheme == "https", url.host != nil else {
                    throw ConfigurationError(
                        "\(Setting.acmeDirectory.label): '\(directory.prefix(100))' is not an https URL; give the ACME directory (e.g. \(Domains.letsEncrypt)) or off"
                    )
                }
                domains.acmeDirectory = directory
            }
        }
        if let email = parser.text(.acmeEmail) {
            guard email.contains("@"), !email.contains(" "), !email.contains(",") else {
                throw ConfigurationError("\(Setting.acmeEmail.label): '\(email.prefix(100))' is not an e-mail address")
            }
            domains.acmeEmail = email
        }
        if let file = parser.text(.acmeCAFile) {
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw ConfigurationError(
                    "\(Setting.acmeCAFile.label): cannot read \(file); give a PEM file of the CA to trust")
            }
            domains.acmeCAFile = file
        }
        if let resolvers = parser.text(.dnsResolvers) {
            do { _ = try DNSResolver.Configuration(servers: resolvers) } catch {
                throw ConfigurationError("\(Setting.dnsResolvers.label): \(error)")
            }
            domains.resolvers = resolvers
        }
        domains.probePort = try parser.int(.domainProbePort, in: 1...65535) ?? domains.probePort
        domains.checkInterval = try parser.duration(.domainCheckInterval) ?? domains.checkInterval
        guard domains.checkInterval >= .milliseconds(100) else {
            throw ConfigurationError("\(Setting.domainCheckInterval.label): at least 100ms, e.g. 15s")
        }
        return domains
    }

    /// How sites' URLs start: scheme and port (nil: the scheme's default).
    struct PublicAddress: Sendable, Equatable {
        var scheme: String
        var port: Int?
    }

    /// A single machine for one person: the embedded catalog and the admin
    /// API on loopback. Only there may `SLIPWAY_BUILD_RUNNER=auto` run
    /// builds outside containers when no Docker engine answers.
    var isLaptopShaped: Bool {
        guard case .sqlite = catalog else { return false }
        let host = admin.host.lowercased()
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// `SLIPWAY_TRUSTED_PROXIES`: addresses and CIDR ranges, or `none`.
    private static func trustedProxies(_ parser: SettingParser) throws(ConfigurationError) -> TrustedProxies {
        guard let text = parser.text(.trustedProxies), text.lowercased() != "none" else { return .none }
        do {
            return try TrustedProxies(parsing: text)
        } catch {
            throw ConfigurationError("\(Setting.trustedProxies.label): \(error); e.g. 10.0.0.0/8,192.0.2.7")
        }
    }

    /// The edge's HTTPS listener.
    struct TLS: Sendable, Equatable {
        var port: Int
        /// The operator's certificate for the apps domain; nil (with
        /// `keyFile`) when the listener serves only custom domains' certificates.
        var certificateFile: String?
        var keyFile: String?
        var handshakeTimeout: Duration
        /// HTTP/2 offered by ALPN (`SLIPWAY_HTTP2`).
        var http2: Bool = true
        var http2MaxConcurrentStreams: Int = 100
        /// Plain requests for hosts with a certificate get a 308 to https (`SLIPWAY_HTTPS_REDIRECT`).
        var redirectsPlainHTTP: Bool = true
        /// `Strict-Transport-Security` max-age in seconds (`SLIPWAY_HSTS_MAX_AGE`); nil sends none.
        var hstsMaxAge: Int?
    }

    struct Builds: Sendable, Equatable {
        var runner: RunnerChoice
        var image: String
        var concurrency: Int
        var timeout: Duration
        var memoryBytes: Int64
        var cpus: Double
        var pids: Int
        var network: String
        var keepBuilds: Int
        var maxFiles: Int
        var maxOutputBytes: Int64
        var allowLocalRepos: Bool
        /// `SLIPWAY_GIT_CA_FILE`: the PEM bundle git trusts for https; nil: the system's.
        var gitCAFile: String? = nil
        var dockerHost: String
        /// How long a stopping builder lets running builds finish before it gives them back.
        var drainTimeout: Duration
        /// How often idle workers look for queued builds when nothing woke them.
        var pollInterval: Duration
        /// How long a stored file content stays after its last use (`SLIPWAY_BLOB_GRACE`).
        var blobGrace: Duration = .seconds(3600)
        /// How often a builder looks for contents no build needs (`SLIPWAY_BLOB_COLLECT_INTERVAL`).
        var blobCollectInterval: Duration = .seconds(600)
    }

    struct Edge: Sendable, Equatable {
        var maxConnections: Int
        var headerTimeout: Duration
        var idleTimeout: Duration
        var writeTimeout: Duration
        var upstreamTimeout: Duration
        var accessLog: Bool
        /// Files of the disk store go out with `sendfile`; off: read into buffers.
        var sendfile: Bool
        /// The load balancers that may say who the client is.
        var trustedProxies: TrustedProxies = .none
        /// Connections from them start with a PROXY protocol header.
        var proxyProtocol = false
        /// Per-client request rate and connections (`SLIPWAY_RATE_LIMIT`, …).
        var clientLimits = ProxyConfiguration.ClientLimits()
        /// How long a visitor stays signed in to a password-protected site (`SLIPWAY_SESSION_TTL`).
        var sessionTTL: Duration = .seconds(7 * 86_400)
        /// `SLIPWAY_SKEW_WINDOW`: how long replaced builds' hashed assets are served; zero: not at all.
        var skewWindow: Duration = .seconds(3600)
    }

    /// How build notifications are sent.
    struct Notify: Sendable, Equatable {
        var concurrency: Int
        var timeout: Duration
        var maxAttempts: Int
        /// How long delivered notifications are kept.
        var retention: Duration
    }

    /// The parts this process runs.
    enum Role: String, Sendable, CaseIterable {
        case proxy, builder, admin
    }

    var roles: Set<Role>
    var dataDirectory: String
    /// Slipway's own static files (`pages/`, the dashboard); nil when none was found.
    var staticDirectory: String?
    var proxy: Listener
    /// Nil: no HTTPS listener.
    var tls: TLS?
    /// `SLIPWAY_PUBLIC_URL`: how sites are reached from outside when it is
    /// not what the listeners say (a load balancer terminating TLS).
    var publicURL: PublicAddress?
    var edge: Edge
    var appsDomain: String
    var pagesDirectory: String?
    var admin: Listener
    /// `/healthz`, `/readyz` and `/metrics` of a process without the admin role.
    var operations: Listener
    /// Nil: the token generated into `<data>/admin-token`.
    var adminToken: String?
    /// `SLIPWAY_SECRET_KEY`, checked; nil: the key generated into `<data>/secret-key`.
    var secretKey: SecretKeyring?
    /// How long the admin API's audit log is kept.
    var auditRetention: Duration = .seconds(90 * 86_400)
    /// How long an upload may take (`SLIPWAY_UPLOAD_TTL`).
    var uploadTTL: Duration = .seconds(24 * 3600)
    /// Where uploaded contents are checked before they are stored (`SLIPWAY_UPLOAD_DIR`).
    var uploadDirectory: String? = nil
    /// Where custom domains must point, and how many one deployment may have.
    var domainTarget = DomainTarget(hostname: nil, addresses: [])
    var maxDomainsPerDeployment = DomainRules.defaultLimitPerDeployment
    var domains = Domains()

    /// Custom domains' checks and certificates.
    struct Domains: Sendable {
        static let letsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"
        /// Nil: no certificates are requested (`SLIPWAY_ACME_DIRECTORY=off`).
        var acmeDirectory: String? = letsEncrypt
        var acmeEmail: String?
        var acmeCAFile: String?
        /// Nil: the servers of /etc/resolv.conf.
        var resolvers: String?
        var probePort = 80
        var checkInterval: Duration = .seconds(15)
    }
    var storage: StorageKind
    var catalog: CatalogLocation
    var cacheBytes: Int
    var cacheMaxEntryBytes: Int
    var builds: Builds
    var queue: QueueSettings
    var notify: Notify

    /// Reads and checks every setting.
    static func load(file: String?, environment: [String: String]) async throws(ConfigurationError)
        -> SlipwayConfiguration
    {
        try parse(await SettingValues.load(file: file, environment: environment))
    }

    static func parse(_ values: SettingValues) throws(ConfigurationError) -> SlipwayConfiguration {
        let parser = SettingParser(values: values)
        let data = parser.text(.dataDir) ?? "./.slipway"
        // Absolute from here on: builds run git and containers in other
        // working directories, and Docker mounts need absolute host paths.
        let dataDirectory = URL(fileURLWithPath: data, isDirectory: true).standardizedFileURL.path

        let storage: StorageKind
        switch parser.text(.storageKind) ?? "disk" {
        case "disk": storage = .disk
        case "s3":
            let pathStyle = try parser.bool(.s3PathStyle) ?? true
            var prefix = parser.text(.s3Prefix) ?? ""
            if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
            storage = .s3(
                S3Configuration(
                    endpoint: try parser.url(.s3Endpoint, required: "storage.kind is s3"),
                    bucket: try parser.required(.s3Bucket, because: "storage.kind is s3"),
                    region: parser.text(.s3Region) ?? "auto",
                    accessKeyID: try parser.required(.s3AccessKeyID, because: "storage.kind is s3"),
                    secretAccessKey: try parser.required(.s3SecretAccessKey, because: "storage.kind is s3"),
                    addressing: pathStyle ? .path : .virtualHosted,
                    keyPrefix: prefix,
                    caCertificateFile: parser.text(.s3CAFile)))
        case let other:
            throw ConfigurationError("\(Setting.storageKind.label): '\(other)' is not a storage kind; use disk or s3")
        }

        let catalog: CatalogLocation
        if let url = parser.text(.catalogURL) {
            if url.hasPrefix("sqlite:") {
                let path = String(url.dropFirst("sqlite:".count))
                guard !path.isEmpty else {
                    throw ConfigurationError(
                        "\(Setting.catalogURL.label): give a file after sqlite:, e.g. sqlite:/var/lib/slipway/catalog.sqlite"
                    )
                }
                catalog = .sqlite(path: path)
            } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
                let settings: PostgresSettings
                do { settings = try PostgresSettings(url: url) } catch {
                    throw ConfigurationError("\(Setting.catalogURL.label) \(error.description)")
                }
                var listen = settings
                if let listenURL = parser.text(.catalogListenURL) {
                    do { listen = try PostgresSettings(url: listenURL) } catch {
                        throw ConfigurationError("\(Setting.catalogListenURL.label) \(error.description)")
                    }
                    guard listen.schema == settings.schema else {
                        throw ConfigurationError(
                            "\(Setting.catalogListenURL.label): its search_path (\(listen.schema)) must be the catalog's (\(settings.schema)), or the listener hears another installation"
                        )
                    }
                }
                let poolSize = try parser.int(.catalogPoolSize, in: 2...500) ?? 10
                catalog = .postgres(settings, listen: listen, poolSize: poolSize)
            } else {
                throw ConfigurationError(
                    "\(Setting.catalogURL.label): expected sqlite:PATH or postgres://user:password@host:5432/database")
            }
        } else {
            catalog = .sqlite(path: dataDirectory + "/catalog.sqlite")
        }

        let cacheBytes = try parser.size(.cacheBytes) ?? 256 << 20
        let cacheMaxEntryBytes = try parser.size(.cacheMaxEntryBytes) ?? 1 << 20
        guard cacheMaxEntryBytes <= cacheBytes else {
            throw ConfigurationError(
                "\(Setting.cacheMaxEntryBytes.label) (\(cacheMaxEntryBytes) bytes) is larger than \(Setting.cacheBytes.label) (\(cacheBytes) bytes)"
            )
        }

        let runnerText = parser.text(.buildRunner) ?? "auto"
        guard let runner = RunnerChoice(rawValue: runnerText) else {
            throw ConfigurationError(
                "\(Setting.buildRunner.label): '\(runnerText)' is not a runner; use auto, docker or local")
        }
        var gitCAFile: String?
        if let path = parser.text(.gitCAFile) {
            // Absolute: git runs in the build's workspace.
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            if let problem = BuilderConfiguration.problem(withCAFile: absolute) {
                throw ConfigurationError("\(Setting.gitCAFile.label): \(problem)")
            }
            gitCAFile = absolute
        }
        let builds = Builds(
            runner: runner,
            image: parser.text(.buildImage) ?? "node:20",
            concurrency: try parser.int(.buildConcurrency, in: 1...64) ?? 2,
            timeout: try parser.duration(.buildTimeout) ?? .seconds(15 * 60),
            memoryBytes: Int64(try parser.size(.buildMemory) ?? 2 << 30),
            cpus: try parser.double(.buildCPUs, in: 0.1...256) ?? 2,
            pids: try parser.int(.buildPids, in: 16...1_000_000) ?? 512,
            network: parser.text(.buildNetwork) ?? "bridge",
            keepBuilds: try parser.int(.buildKeep, in: 1...10_000) ?? 10,
            maxFiles: try parser.int(.buildMaxFiles, in: 1...10_000_000) ?? 50_000,
            maxOutputBytes: Int64(try parser.size(.buildMaxOutput) ?? 2 << 30),
            allowLocalRepos: try parser.bool(.allowLocalRepos) ?? false,
            gitCAFile: gitCAFile,
            dockerHost: try parser.unixSocket(.dockerHost) ?? "unix:///var/run/docker.sock",
            // A fleet drains (another builder is not waiting for this one's
            // machine); one machine gives its builds back at once.
            drainTimeout: try parser.duration(.buildDrainTimeout) ?? (catalog.isShared ? .seconds(300) : .zero),
            // Queued builds wake workers through the event bus; the poll is a
            // backstop, which a fleet of builders need not run often.
            pollInterval: try parser.duration(.buildPollInterval) ?? (catalog.isShared ? .seconds(30) : .seconds(2)),
            blobGrace: try parser.duration(.blobGrace) ?? .seconds(3600),
            blobCollectInterval: try parser.duration(.blobCollectInterval) ?? .seconds(600))

        let queue = QueueSettings(
            maxQueued: try parser.int(.queueMax, in: 1...1_000_000) ?? 100,
            maxAttempts: try parser.int(.queueMaxAttempts, in: 1...100) ?? 3,
            leaseDuration: try parser.duration(.queueLease) ?? .seconds(30))

        let notify = Notify(
            concurrency: try parser.int(.notifyConcurrency, in: 1...256) ?? 4,
            timeout: try parser.duration(.notifyTimeout) ?? .seconds(10),
            maxAttempts: try parser.int(.notifyMaxAttempts, in: 1...100) ?? 8,
            retention: try parser.duration(.notifyRetention) ?? .seconds(168 * 3600))
        guard notify.timeout <= .seconds(300) else {
            throw ConfigurationError(
                "\(Setting.notifyTimeout.label): at most 5m; a receiver should answer within seconds")
        }

        let domain = (parser.text(.appsDomain) ?? "localhost").lowercased()
        guard HostRouteDomain.isValid(domain) else {
            throw ConfigurationError(
                "\(Setting.appsDomain.label): '\(domain)' is not a domain name; e.g. apps.example.com or localhost")
        }

        let edge = Edge(
            maxConnections: try parser.int(.proxyMaxConnections, in: 1...1_000_000) ?? 10_000,
            headerTimeout: try parser.duration(.proxyHeaderTimeout) ?? .seconds(10),
            idleTimeout: try parser.duration(.proxyIdleTimeout) ?? .seconds(60),
            writeTimeout: try parser.duration(.proxyWriteTimeout) ?? .seconds(30),
            upstreamTimeout: try parser.duration(.proxyUpstreamTimeout) ?? .seconds(10),
            accessLog: try parser.bool(.proxyAccessLog) ?? false,
            sendfile: try parser.bool(.proxySendfile) ?? true,
            trustedProxies: try trustedProxies(parser),
            proxyProtocol: try parser.bool(.proxyProtocol) ?? false,
            clientLimits: try clientLimits(parser),
            sessionTTL: try parser.duration(.sessionTTL) ?? .seconds(7 * 86_400),
            skewWindow: try parser.durationOrZero(.skewWindow) ?? .seconds(3600))
        guard edge.sessionTTL >= .seconds(60) && edge.sessionTTL <= .seconds(366 * 86_400) else {
            throw ConfigurationError("\(Setting.sessionTTL.label): between 1m and 8784h (366 days); e.g. 168h")
        }
        if edge.proxyProtocol && edge.trustedProxies.isEmpty {
            throw ConfigurationError(
                "\(Setting.proxyProtocol.label) is on but \(Setting.trustedProxies.label) names no load balancer; list the addresses (or CIDR ranges) whose connections start with a PROXY header"
            )
        }

        var roles: Set<Role> = []
        for name in (parser.text(.roles) ?? "proxy,builder,admin").split(separator: ",") {
            let trimmed = name.trimmingCharacters(in: .whitespaces).lowercased()
            guard let role = Role(rawValue: trimmed) else {
                throw ConfigurationError(
                    "\(Setting.roles.label): '\(trimmed)' is not a role; use a comma-separated list of proxy, builder and admin"
                )
            }
            roles.insert(role)
        }
        guard !roles.isEmpty else {
            throw ConfigurationError("\(Setting.roles.label) is empty; name at least one of proxy, builder and admin")
        }
        if catalog.isShared {
            // A fleet: what one process writes, the others must be able to read.
            if case .disk = storage, roles != Set(Role.allCases) {
                throw ConfigurationError(
                    "\(Setting.storageKind.label) is disk, which only this machine can read, while \(Setting.catalogURL.label) shares the catalog with other processes and \(Setting.roles.label) runs only \(roles.map(\.rawValue).sorted().joined(separator: ",")); use s3 storage for a fleet"
                )
            }
            if roles.contains(.admin), parser.text(.adminToken) == nil {
                throw ConfigurationError(
                    "\(Setting.adminToken.label) is not set, while \(Setting.catalogURL.label) is shared: every admin node of a fleet must accept the same token, so give each the same value (at least 32 random characters)"
                )
            }
        }

        var secretKey: SecretKeyring?
        if let text = parser.text(.secretKey) {
            do { secretKey = try SecretKeyring(parsing: text) } catch {
                throw ConfigurationError("\(Setting.secretKey.label): \(error)")
            }
        } else if catalog.isShared || roles != Set(Role.allCases) {
            // What one node seals, every other must open: a key generated
            // into one machine's data directory would lock the others out.
            throw ConfigurationError(
                "\(Setting.secretKey.label) is not set, while \(catalog.isShared ? "\(Setting.catalogURL.label) is shared by a fleet" : "\(Setting.roles.label) splits the roles between processes"): every node must open what another sealed, so give each the same key; generate one with 'slipway secret-key'"
            )
        }

        var configuration = SlipwayConfiguration(
            roles: roles,
            dataDirectory: dataDirectory,
            staticDirectory: parser.text(.staticDir) ?? StaticFiles.locate(),
            proxy: Listener(host: parser.text(.proxyHost) ?? "0.0.0.0", port: try parser.port(.proxyPort) ?? 8080),
            tls: try Self.tls(parser),
            publicURL: try Self.publicURL(parser, appsDomain: domain),
            edge: edge,
            appsDomain: domain,
            pagesDirectory: parser.text(.pagesDir),
            admin: Listener(host: parser.text(.adminHost) ?? "127.0.0.1", port: try parser.port(.adminPort) ?? 8081),
            operations: Listener(
                host: parser.text(.operationsHost) ?? "127.0.0.1", port: try parser.port(.operationsPort) ?? 8082),
            adminToken: parser.text(.adminToken), secretKey: secretKey,
            storage: storage, catalog: catalog, cacheBytes: cacheBytes, cacheMaxEntryBytes: cacheMaxEntryBytes,
            builds: builds, queue: queue, notify: notify)
        configuration.uploadTTL = try parser.duration(.uploadTTL) ?? configuration.uploadTTL
        guard configuration.uploadTTL >= .seconds(60) else {
            throw ConfigurationError("\(Setting.uploadTTL.label): at least 1m, e.g. 24h")
        }
        configuration.uploadDirectory = parser.text(.uploadDir)
        configuration.auditRetention = try parser.duration(.auditRetention) ?? configuration.auditRetention
        guard configuration.auditRetention >= .seconds(3600) else {
            throw ConfigurationError("\(Setting.auditRetention.label): at least 1h, e.g. 2160h (90 days)")
        }
        configuration.domainTarget = try Self.domainTarget(parser)
        configuration.maxDomainsPerDeployment =
            try parser.int(.maxDomains, in: 1...1000) ?? configuration.maxDomainsPerDeployment
        configuration.domains = try Self.domains(parser)
        return configuration
    }
}

extension SlipwayConfiguration {
    /// `SLIPWAY_DOMAIN_TARGET` (a host name for CNAME records) and
    /// `SLIPWAY_DOMAIN_ADDRESSES` (comma-separated IPv4/IPv6 addresses for
    /// apex A/AAAA records): what the API tells people to point their domains at.
    static func domainTarget(_ parser: SettingParser) throws(ConfigurationError) -> DomainTarget {
        var hostname: String?
        if let text = parser.text(.domainTarget) {
            do { hostname = try DomainRules.normalized(text, appsDomain: "") } catch {
                throw ConfigurationError(
                    "\(Setting.domainTarget.label): '\(text.prefix(80))' is not a host name; give the name custom domains CNAME to, e.g. edge.example.net"
                )
            }
        }
        var addresses: [String] = []
        if let text = parser.text(.domainAddresses) {
            for part in text.split(separator: ",") {
                let address = part.trimmingCharacters(in: .whitespaces)
                guard DomainRules.isIPAddress(address) else {
                    throw ConfigurationError(
                        "\(Setting.domainAddresses.label): '\(address.prefix(60))' is not an IP address; give the edge's public addresses, e.g. 203.0.113.7,2001:db8::7"
                    )
                }
                addresses.append(address)
            }
        }
        return DomainTarget(hostname: hostname, addresses: addresses)
    }

    /// How sites' URLs start: what `SLIPWAY_PUBLIC_URL` says, else `https`
    /// and the HTTPS port when the edge has a certificate for the apps
    /// domain (the operator's files), else `http` and the plain port; no
    /// port for the scheme's default one.
    var publicSiteAddress: PublicAddress {
        if let publicURL { return publicURL }
        if let tls, tls.certificateFile != nil {
            return PublicAddress(scheme: "https", port: tls.port == 443 ? nil : tls.port)
        }
        return PublicAddress(scheme: "http", port: proxy.port == 80 ? nil : proxy.port)
    }

    /// `SLIPWAY_PUBLIC_URL`: an http or https URL of the apps domain itself,
    /// with a port only when it is not the scheme's default.
    fileprivate static func publicURL(_ parser: SettingParser, appsDomain: String) throws(ConfigurationError)
        -> PublicAddress?
    {
        guard let value = parser.text(.publicURL) else { return nil }
        let example = "e.g. https://\(appsDomain) behind a load balancer that terminates TLS"
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host?.lowercased()
        else {
            throw ConfigurationError(
                "\(Setting.publicURL.label): '\(value)' is not an http:// or https:// URL; \(example)")
        }
        guard host == appsDomain, url.path.isEmpty || url.path == "/", url.query == nil, url.user == nil else {
            throw ConfigurationError(
                "\(Setting.publicURL.label): '\(value)' must be the apps domain (\(appsDomain)) with no path, as sites' URLs are https://<slug>.\(appsDomain); \(example)"
            )
        }
        let defaultPort = scheme == "https" ? 443 : 80
        return PublicAddress(scheme: scheme, port: url.port.flatMap { $0 == defaultPort ? nil : $0 })
    }

    /// The HTTPS listener's settings: a port turns it on; the certificate and
    /// key files come together or not at all (without them it serves only
    /// custom domains' certificates); files without a port are a mistake.
    fileprivate static func tls(_ parser: SettingParser) throws(ConfigurationError) -> TLS? {
        let port = parser.text(.tlsPort).flatMap { $0.lowercased() == "off" ? nil : $0 }
        let certificateFile = parser.text(.tlsCertFile)
        let keyFile = parser.text(.tlsKeyFile)
        guard port != nil else {
            if certificateFile != nil || keyFile != nil {
                throw ConfigurationError(
                    "\(Setting.tlsCertFile.label) and \(Setting.tlsKeyFile.label) are set but \(Setting.tlsPort.label) is not; set the HTTPS port (443 in production)"
                )
            }
            return nil
        }
        guard (certificateFile == nil) == (keyFile == nil) else {
            let (given, missing) =
                certificateFile == nil
                ? (Setting.tlsKeyFile, Setting.tlsCertFile) : (Setting.tlsCertFile, Setting.tlsKeyFile)
            throw ConfigurationError(
                "\(given.label) is set but \(missing.label) is not; give both \(Setting.tlsCertFile.label) (the PEM chain, leaf first, e.g. for *.apps.example.com) and \(Setting.tlsKeyFile.label) (its key), or neither to serve only custom domains' certificates over HTTPS"
            )
        }
        var hstsMaxAge: Int?
        if let age = parser.text(.hstsMaxAge), age != "off" {
            hstsMaxAge = try parser.int(.hstsMaxAge, in: 0...63_072_000)
        }
        return TLS(
            port: try parser.port(.tlsPort) ?? 443, certificateFile: certificateFile, keyFile: keyFile,
            handshakeTimeout: try parser.duration(.tlsHandshakeTimeout) ?? .seconds(10),
            http2: try parser.bool(.http2) ?? true,
            http2MaxConcurrentStreams: try parser.int(.http2MaxStreams, in: 1...10_000) ?? 100,
            redirectsPlainHTTP: try parser.bool(.httpsRedirect) ?? true, hstsMaxAge: hstsMaxAge)
    }
}

/// A domain name of lower-case labels (the proxy matches hosts under it).
enum HostRouteDomain {
    static func isValid(_ domain: String) -> Bool {
        guard !domain.isEmpty, domain.utf8.count <= 253, !domain.hasPrefix("."), !domain.hasSuffix(".") else {
            return false
        }
        return domain.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
    }
}

/// Where Slipway's own static files are when `SLIPWAY_STATIC_DIR` is not set:
/// `./static` in a checkout, or `share/slipway/static` next to an installed
/// binary (the layout `scripts/install` writes, `docs/install.md`).
enum StaticFiles {
    /// The directories searched, in order.
    /// The executable as the kernel knows it (`/proc/self/exe` on Linux), not
    /// `argv[0]`, which is a bare name when a shell found it on the `PATH`;
    /// a symbolic link to it is followed to the installed file.
    static func candidates() -> [String] {
        var directories = [FileManager.default.currentDirectoryPath + "/static"]
        let executables = [Bundle.main.executableURL, Bundle.main.executableURL?.resolvingSymlinksInPath()]
        for executable in executables.compactMap({ $0 }) {
            let bin = executable.deletingLastPathComponent()
            directories.append(bin.deletingLastPathComponent().path + "/share/slipway/static")
            directories.append(bin.path + "/static")
        }
        var seen = Set<String>()
        return directories.filter { seen.insert($0).inserted }
    }

    static func locate() -> String? {
        candidates().first { FileManager.default.fileExists(atPath: $0 + "/pages/error.html") }
    }
}
