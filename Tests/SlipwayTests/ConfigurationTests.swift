import Builder
import Foundation
import Model
import Postgres
import Proxy
import Storage
import Testing

@testable import slipway

@Suite struct ConfigurationTests {
    func load(_ environment: [String: String] = [:], file: (name: String, contents: String)? = nil)
        async throws(ConfigurationError) -> SlipwayConfiguration
    {
        var path: String?
        if let file {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "slipway-config-\(UUID().uuidString)")
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            path = directory.appendingPathComponent(file.name).path
            _ = FileManager.default.createFile(atPath: path!, contents: Data(file.contents.utf8))
        }
        return try await SlipwayConfiguration.load(file: path, environment: environment)
    }

    @Test func embeddedDefaultsNeedNoSettings() async throws {
        let config = try await load()
        #expect(config.dataDirectory.hasSuffix(".slipway"))
        // Absolute, whatever the working directory: builds use it from others.
        #expect(config.dataDirectory == FileManager.default.currentDirectoryPath + "/.slipway")
        #expect(config.proxy == .init(host: "0.0.0.0", port: 8080))
        #expect(config.admin == .init(host: "127.0.0.1", port: 8081))
        #expect(config.appsDomain == "localhost")
        guard case .disk = config.storage else {
            Issue.record("expected the disk store by default")
            return
        }
        guard case .sqlite(let path) = config.catalog else {
            Issue.record("expected the SQLite catalog by default")
            return
        }
        #expect(path == config.dataDirectory + "/catalog.sqlite")
        #expect(config.cacheBytes == 256 << 20 && config.cacheMaxEntryBytes == 1 << 20)
        #expect(config.builds.runner == .auto && config.builds.image == "node:20" && config.builds.concurrency == 2)
        #expect(
            config.builds.timeout == .seconds(900) && config.builds.memoryBytes == 2 << 30 && config.builds.pids == 512)
        #expect(config.queue == QueueSettings())
    }

    @Test func yamlFileSettingsApplyAndTheEnvironmentWins() async throws {
        let yaml = """
            data:
              dir: /srv/slipway
            proxy:
              port: 9090
              apps_domain: apps.example.com
            cache:
              bytes: 64MiB
            storage:
              kind: s3
              s3:
                endpoint: https://acct.r2.cloudflarestorage.com
                bucket: sites
                access_key_id: AKID
                secret_access_key: from-file
            queue:
              lease: 45s
            """
        let config = try await load(
            ["SLIPWAY_PROXY_PORT": "7070", "SLIPWAY_S3_SECRET_ACCESS_KEY": "from-env"],
            file: ("slipway.yaml", yaml))
        #expect(config.dataDirectory == "/srv/slipway")
        #expect(config.proxy.port == 7070)
        #expect(config.appsDomain == "apps.example.com")
        #expect(config.cacheBytes == 64 << 20)
        #expect(config.queue.leaseDuration == .seconds(45))
        guard case .s3(let s3) = config.storage else {
            Issue.record("expected s3 storage")
            return
        }
        #expect(s3.endpoint == "https://acct.r2.cloudflarestorage.com" && s3.bucket == "sites" && s3.region == "auto")
        #expect(s3.secretAccessKey == "from-env" && s3.addressing == .path)
    }

    @Test func buildSettingsReachTheBuildEngine() async throws {
        let config = try await load([
            "SLIPWAY_DATA_DIR": "/srv/s", "SLIPWAY_BUILD_RUNNER": "docker", "SLIPWAY_BUILD_IMAGE": "node:22",
            "SLIPWAY_BUILD_CONCURRENCY": "4", "SLIPWAY_BUILD_TIMEOUT": "20m", "SLIPWAY_BUILD_MEMORY": "1g",
            "SLIPWAY_BUILD_CPUS": "1.5", "SLIPWAY_BUILD_PIDS": "256", "SLIPWAY_BUILD_NETWORK": "none",
            "SLIPWAY_BUILD_KEEP": "3", "SLIPWAY_ALLOW_LOCAL_REPOS": "true", "SLIPWAY_BUILD_LEASE": "1m",
        ])
        let builder = config.builderConfiguration
        #expect(builder.dataDirectory == "/srv/s" && builder.runner == .docker && builder.image == "node:22")
        #expect(builder.concurrency == 4 && builder.timeout == .seconds(1200) && builder.memoryBytes == 1 << 30)
        #expect(builder.cpus == 1.5 && builder.pidsLimit == 256 && builder.networkMode == "none")
        #expect(
            builder.keepSuccessfulBuilds == 3 && builder.allowLocalRepositories && builder.leaseDuration == .seconds(60)
        )
        await #expect(throws: ConfigurationError.self) {
            _ = try await self.load(["DOCKER_HOST": "tcp://10.0.0.1:2375"])
        }
    }

    @Test func notificationSettingsReachTheDispatcher() async throws {
        let urls = SiteURLs(appsDomain: "apps.example.com", port: nil)
        let defaults = try await load().notificationConfiguration(siteURLs: urls, userAgent: "Slipway/9")
        #expect(defaults.concurrency == 4 && defaults.requestTimeout == .seconds(10) && defaults.retry.maxAttempts == 8)
        #expect(
            defaults.deliveredRetention == .seconds(7 * 86_400) && defaults.userAgent == "Slipway/9"
                && defaults.siteURLs == urls)
        let config = try await load([
            "SLIPWAY_NOTIFY_CONCURRENCY": "8", "SLIPWAY_NOTIFY_TIMEOUT": "30s", "SLIPWAY_NOTIFY_MAX_ATTEMPTS": "3",
            "SLIPWAY_NOTIFY_RETENTION": "24h",
        ]).notificationConfiguration(siteURLs: urls, userAgent: "Slipway/9")
        #expect(config.concurrency == 8 && config.requestTimeout == .seconds(30) && config.retry.maxAttempts == 3)
        #expect(config.deliveredRetention == .seconds(86_400) && config.leaseDuration > config.requestTimeout)
        #expect(throws: Never.self) { try config.validate() }
        for (name, value) in [
            ("SLIPWAY_NOTIFY_TIMEOUT", "1h"), ("SLIPWAY_NOTIFY_CONCURRENCY", "0"),
            ("SLIPWAY_NOTIFY_MAX_ATTEMPTS", "many"),
        ] {
            do {
                _ = try await load([name: value])
                Issue.record("\(name)=\(value) was accepted")
            } catch {
                #expect(error.message.contains(name), "\(error.message)")
            }
        }
    }

    @Test func aDeploymentFileMayNameANotifyURL() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let yaml = directory.appendingPathComponent("slipway.yaml").path
        try "repo: https://github.com/acme/docs.git\nnotifyUrl: https://hooks.example.com/in?token=1\n"
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        #expect(try await DeploymentFile.load(yaml).notifyUrl == "https://hooks.example.com/in?token=1")
        let json = directory.appendingPathComponent("slipway.json").path
        try #"{"repo": "https://github.com/acme/docs.git", "notifyUrl": "http://10.0.0.2/hook"}"#
            .write(toFile: json, atomically: true, encoding: .utf8)
        #expect(try await DeploymentFile.load(json).notifyUrl == "http://10.0.0.2/hook")
    }

    @Test func edgeSettingsReachTheProxy() async throws {
        let config = try await load([
            "SLIPWAY_PROXY_PORT": "9080", "SLIPWAY_APPS_DOMAIN": "Apps.Example.com",
            "SLIPWAY_PAGES_DIR": "/etc/slipway/pages",
            "SLIPWAY_STATIC_DIR": "/usr/share/slipway/static", "SLIPWAY_PROXY_MAX_CONNECTIONS": "500",
            "SLIPWAY_PROXY_HEADER_TIMEOUT": "5s", "SLIPWAY_PROXY_WRITE_TIMEOUT": "1m", "SLIPWAY_ACCESS_LOG": "yes",
            "SLIPWAY_CACHE_BYTES": "64m", "SLIPWAY_SENDFILE": "false",
        ])
        let proxy = try config.proxyConfiguration()
        let defaults = try await load().proxyConfiguration()
        #expect(!proxy.sendfile && defaults.sendfile)
        #expect(proxy.port == 9080 && proxy.appsDomain == "apps.example.com")
        #expect(
            proxy.pagesDirectory == "/usr/share/slipway/static/pages"
                && proxy.pagesOverrideDirectory == "/etc/slipway/pages")
        #expect(proxy.limits.maxConnections == 500 && proxy.timeouts.headerRead == .seconds(5))
        #expect(proxy.timeouts.writeIdle == .seconds(60) && proxy.accessLog && proxy.cache.bodyBytes == 64 << 20)
    }

    /// A port turns HTTPS on; the files come both or neither; files without a port are a mistake.
    @Test func theHTTPSListenerNeedsAPortAndBothFilesOrNeither() async throws {
        #expect(try await load().tls == nil)
        let files = ["SLIPWAY_TLS_CERT_FILE": "/etc/tls/edge.pem", "SLIPWAY_TLS_KEY_FILE": "/etc/tls/edge.key"]
        let config = try await load(
            files.merging(["SLIPWAY_TLS_PORT": "8443", "SLIPWAY_TLS_HANDSHAKE_TIMEOUT": "3s"]) { $1 })
        let tls = try #require(try config.proxyConfiguration().tls)
        #expect(tls.port == 8443 && tls.certificateFile == "/etc/tls/edge.pem" && tls.keyFile == "/etc/tls/edge.key")
        #expect(tls.handshakeTimeout == .seconds(3))
        // Sites' URLs say https, on the HTTPS port.
        #expect(config.publicSiteAddress == .init(scheme: "https", port: 8443))
        let standard = try await load(files.merging(["SLIPWAY_TLS_PORT": "443"]) { $1 })
        #expect(standard.publicSiteAddress == .init(scheme: "https", port: nil))
        #expect(try await load(["SLIPWAY_PROXY_PORT": "80"]).publicSiteAddress == .init(scheme: "http", port: nil))
        #expect(try await load().publicSiteAddress == .init(scheme: "http", port: 8080))
        await #expect(throws: ConfigurationError.self) { _ = try await self.load(files) }
        // One file without the other names both settings.
        for (given, missing) in [
            ("SLIPWAY_TLS_CERT_FILE", "SLIPWAY_TLS_KEY_FILE"), ("SLIPWAY_TLS_KEY_FILE", "SLIPWAY_TLS_CERT_FILE"),
        ] {
            do {
                _ = try await self.load(["SLIPWAY_TLS_PORT": "443", given: "/etc/tls/edge.x"])
                Issue.record("\(given) without \(missing) was accepted")
            } catch {
                #expect(error.message.hasPrefix("\(given) (") && error.message.contains("but \(missing) ("))
            }
        }
        // A port without files: HTTPS for custom domains only; sites' URLs stay http.
        let domainsOnly = try await load(["SLIPWAY_TLS_PORT": "8443"])
        let bare = try #require(try domainsOnly.proxyConfiguration().tls)
        #expect(bare.port == 8443 && bare.certificateFile == nil && bare.keyFile == nil)
        #expect(domainsOnly.publicSiteAddress == .init(scheme: "http", port: 8080))
        await #expect(throws: ConfigurationError.self) {
            _ = try await self.load(files.merging(["SLIPWAY_TLS_PORT": "99999"]) { $1 })
        }
        #expect(try await load(["SLIPWAY_TLS_PORT": "off"]).tls == nil)
    }

    /// Trusted proxies and the PROXY protocol: none and off by default; the
    /// protocol without a trusted proxy, or a list that does not parse, stops the start.
    @Test func trustedProxiesAndThePROXYProtocol() async throws {
        let defaults = try await load().proxyConfiguration().clientAddresses
        #expect(defaults.trustedProxies.isEmpty && !defaults.proxyProtocol)
        let set = try await load([
            "SLIPWAY_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8", "SLIPWAY_PROXY_PROTOCOL": "true",
        ]).proxyConfiguration().clientAddresses
        let expected = try TrustedProxies(parsing: "10.0.0.0/8,fd00::/8")
        #expect(set.proxyProtocol && set.trustedProxies == expected)
        for bad in [
            ["SLIPWAY_PROXY_PROTOCOL": "true"], ["SLIPWAY_TRUSTED_PROXIES": "10.0.0.0/40"],
            ["SLIPWAY_TRUSTED_PROXIES": "load-balancer.internal"],
        ] {
            await #expect(throws: ConfigurationError.self, "\(bad)") { _ = try await self.load(bad) }
        }
    }

    /// The per-client limits: off by default; the rate in requests a
    /// second (fractions too), the burst twice the rate unless set, the
    /// connections per client; bad values stop the start with a message
    /// naming the setting.
    @Test func perClientLimitsAreOffByDefaultAndValidated() async throws {
        let defaults = try await load().proxyConfiguration().clientLimits
        #expect(defaults == ProxyConfiguration.ClientLimits())
        #expect(defaults.requestsPerSecond == nil && defaults.maxConnectionsPerClient == 0)
        let set = try await load([
            "SLIPWAY_RATE_LIMIT": "20", "SLIPWAY_RATE_LIMIT_BURST": "50", "SLIPWAY_MAX_CONNECTIONS_PER_CLIENT": "64",
        ]).proxyConfiguration().clientLimits
        #expect(set.requestsPerSecond == 20 && set.burst == 50 && set.effectiveBurst == 50)
        #expect(set.maxConnectionsPerClient == 64)
        let fraction = try await load(["SLIPWAY_RATE_LIMIT": "0.5"]).proxyConfiguration().clientLimits
        #expect(fraction.requestsPerSecond == 0.5 && fraction.burst == nil && fraction.effectiveBurst == 1)
        #expect(try await load(["SLIPWAY_RATE_LIMIT": "10"]).proxyConfiguration().clientLimits.effectiveBurst == 20)
        let off = try await load(["SLIPWAY_RATE_LIMIT": "off", "SLIPWAY_MAX_CONNECTIONS_PER_CLIENT": "off"])
            .proxyConfiguration().clientLimits
        #expect(off == ProxyConfiguration.ClientLimits())
        let file = try await load(
            file: (
                "slipway.yaml",
                "proxy:\n  rate_limit: 5\n  rate_limit_burst: 10\n  max_connections_per_client: 32\n"
            )
        ).proxyConfiguration().clientLimits
        #expect(file.requestsPerSecond == 5 && file.burst == 10 && file.maxConnectionsPerClient == 32)
        for (bad, named) in [
            (["SLIPWAY_RATE_LIMIT": "fast"], "SLIPWAY_RATE_LIMIT"),
            (["SLIPWAY_RATE_LIMIT": "-3"], "SLIPWAY_RATE_LIMIT"),
            (["SLIPWAY_RATE_LIMIT": "10", "SLIPWAY_RATE_LIMIT_BURST": "0"], "SLIPWAY_RATE_LIMIT_BURST"),
            (["SLIPWAY_RATE_LIMIT": "10", "SLIPWAY_RATE_LIMIT_BURST": "2.5"], "SLIPWAY_RATE_LIMIT_BURST"),
            (["SLIPWAY_RATE_LIMIT_BURST": "10"], "SLIPWAY_RATE_LIMIT_BURST"),
            (["SLIPWAY_MAX_CONNECTIONS_PER_CLIENT": "-1"], "SLIPWAY_MAX_CONNECTIONS_PER_CLIENT"),
            (["SLIPWAY_MAX_CONNECTIONS_PER_CLIENT": "many"], "SLIPWAY_MAX_CONNECTIONS_PER_CLIENT"),
        ] {
            do {
                _ = try await load(bad)
                Issue.record("\(bad) was accepted")
            } catch {
                #expect(error.message.contains(named), "\(error.message)")
            }
        }
    }

    /// HTTP/2, the redirect of plain requests and HSTS: on, on and off by default.
    @Test func http2RedirectsAndHSTSAreSettingsOfTheHTTPSListener() async throws {
        let files = [
            "SLIPWAY_TLS_PORT": "443", "SLIPWAY_TLS_CERT_FILE": "/etc/tls/edge.pem",
            "SLIPWAY_TLS_KEY_FILE": "/etc/tls/edge.key",
        ]
        let defaults = try #require(try await load(files).proxyConfiguration().tls)
        #expect(defaults.http2?.maxConcurrentStreams == 100)
        #expect(defaults.redirectsPlainHTTP && defaults.hstsMaxAge == nil)
        let set = try #require(
            try await load(
                files.merging([
                    "SLIPWAY_HTTP2_MAX_CONCURRENT_STREAMS": "32", "SLIPWAY_HTTPS_REDIRECT": "false",
                    "SLIPWAY_HSTS_MAX_AGE": "31536000",
                ]) { $1 }
            ).proxyConfiguration().tls)
        #expect(set.http2?.maxConcurrentStreams == 32)
        #expect(!set.redirectsPlainHTTP && set.hstsMaxAge == 31_536_000)
        #expect(try await load(files.merging(["SLIPWAY_HTTP2": "false"]) { $1 }).proxyConfiguration().tls?.http2 == nil)
        for bad in [
            ["SLIPWAY_HSTS_MAX_AGE": "-1"], ["SLIPWAY_HSTS_MAX_AGE": "a year"],
            ["SLIPWAY_HTTP2_MAX_CONCURRENT_STREAMS": "0"], ["SLIPWAY_HTTP2": "maybe"],
        ] {
            await #expect(throws: ConfigurationError.self, "\(bad)") {
                _ = try await self.load(files.merging(bad) { $1 })
            }
        }
    }

    /// Behind a load balancer that terminates TLS, sites' URLs say what it serves.
    @Test func thePublicURLDecidesHowSitesURLsStart() async throws {
        let domain = ["SLIPWAY_APPS_DOMAIN": "apps.example.com"]
        func address(_ url: String) async throws -> SlipwayConfiguration.PublicAddress {
            try await load(domain.merging(["SLIPWAY_PUBLIC_URL": url]) { $1 }).publicSiteAddress
        }
        #expect(try await address("https://apps.example.com") == .init(scheme: "https", port: nil))
        #expect(try await address("https://Apps.Example.com:443/") == .init(scheme: "https", port: nil))
        #expect(try await address("https://apps.example.com:8443") == .init(scheme: "https", port: 8443))
        #expect(try await address("http://apps.example.com") == .init(scheme: "http", port: nil))
        for bad in [
            "ftp://apps.example.com", "https://other.example.com", "https://apps.example.com/sites", "nonsense",
        ] {
            await #expect(throws: ConfigurationError.self) { _ = try await address(bad) }
        }
    }

    @Test func rolesPickThePartsThisProcessRuns() async throws {
        #expect(try await load().roles == [.proxy, .builder, .admin])
        let key = SecretKeyring.generateKeyText()
        #expect(
            try await load(["SLIPWAY_ROLES": "admin, proxy", "SLIPWAY_SECRET_KEY": key]).roles == [.admin, .proxy])
        await #expect(throws: ConfigurationError.self) { _ = try await self.load(["SLIPWAY_ROLES": "admin,web"]) }
        // Split roles share what they seal: the key must be given.
        do {
            _ = try await load(["SLIPWAY_ROLES": "proxy"])
            Issue.record("split roles without SLIPWAY_SECRET_KEY were accepted")
        } catch {
            #expect(error.message.contains("SLIPWAY_SECRET_KEY") && error.message.contains("slipway secret-key"))
        }
    }

    /// A fleet's settings: PostgreSQL URLs as libpq reads them, and the
    /// combinations that cannot work across machines refused by name.
    @Test func aPostgreSQLURLSelectsTheSharedCatalogAndUnworkableFleetsAreRefused() async throws {
        let fleet = [
            "SLIPWAY_DATABASE_URL":
                "postgresql://slipway:p%40ss@db.internal:6432/slipway?sslmode=verify-full&search_path=edge&application_name=edge-1",
            "SLIPWAY_ADMIN_TOKEN": String(repeating: "t", count: 40),
            "SLIPWAY_STORAGE": "s3", "SLIPWAY_S3_ENDPOINT": "https://s3.example.com", "SLIPWAY_S3_BUCKET": "sites",
            "SLIPWAY_S3_ACCESS_KEY_ID": "id", "SLIPWAY_S3_SECRET_ACCESS_KEY": "secret",
            "SLIPWAY_DATABASE_LISTEN_URL": "postgres://slipway@db-direct.internal/slipway?search_path=edge",
            "SLIPWAY_DATABASE_POOL_SIZE": "24", "SLIPWAY_SECRET_KEY": SecretKeyring.generateKeyText(),
        ]
        let config = try await load(fleet)
        guard case .postgres(let settings, let listen, let poolSize) = config.catalog else {
            Issue.record("expected the PostgreSQL catalog")
            return
        }
        #expect(settings.host == "db.internal" && settings.port == 6432 && settings.database == "slipway")
        #expect(settings.username == "slipway" && settings.password == "p@ss")
        #expect(settings.tlsMode == .verifyFull && settings.schema == "edge" && settings.applicationName == "edge-1")
        #expect(listen.host == "db-direct.internal" && listen.port == 5432 && listen.tlsMode == .prefer)
        #expect(poolSize == 24)
        #expect(!"\(settings)".contains("p@ss") && !"\(settings)".contains("p%40ss"))

        for (change, expected) in [
            (["SLIPWAY_DATABASE_URL": "postgres://slipway@db/slipway?sslmode=strict"], "sslmode=strict"),
            (["SLIPWAY_DATABASE_URL": "postgres://slipway@db/slipway?sslmod=require"], "'sslmod'"),
            (["SLIPWAY_DATABASE_URL": "postgres://db/slipway"], "names no user"),
            (["SLIPWAY_DATABASE_URL": "postgres://slipway@db/"], "names no database"),
            (["SLIPWAY_DATABASE_URL": "mysql://slipway@db/slipway"], "sqlite:PATH or postgres://"),
            (
                ["SLIPWAY_DATABASE_LISTEN_URL": "postgres://slipway@db/slipway?search_path=other"],
                "SLIPWAY_DATABASE_LISTEN_URL"
            ),
            (["SLIPWAY_STORAGE": "disk", "SLIPWAY_ROLES": "proxy"], "SLIPWAY_STORAGE"),
            (["SLIPWAY_ADMIN_TOKEN": "", "SLIPWAY_ROLES": "admin"], "SLIPWAY_ADMIN_TOKEN"),
            (["SLIPWAY_SECRET_KEY": ""], "SLIPWAY_SECRET_KEY (secret_key) is not set"),
            (["SLIPWAY_SECRET_KEY": "not a key"], "SLIPWAY_SECRET_KEY (secret_key): key 1 is not 32 bytes"),
        ] {
            let environment = fleet.merging(change) { $1 }.filter { !$0.value.isEmpty }
            do {
                _ = try await load(environment)
                Issue.record("\(change) was accepted")
            } catch {
                #expect(error.message.contains(expected), "\(change): \(error.message)")
                #expect(!error.message.contains("p@ss") && !error.message.contains("p%40ss"))
            }
        }
        // Disk storage with every role in one process still works over PostgreSQL.
        let single = try await load(fleet.merging(["SLIPWAY_STORAGE": "disk"]) { $1 })
        #expect(single.catalog.isShared)
    }

    @Test func jsonFilesWorkToo() async throws {
        let config = try await load(
            file: ("slipway.json", #"{"admin": {"port": 9191}, "builder": {"runner": "local"}}"#))
        #expect(config.admin.port == 9191 && config.builds.runner == .local)
    }

    @Test func badValuesNameTheSettingAndTheAcceptedForm() async {
        let cases: [([String: String], String)] = [
            (["SLIPWAY_PROXY_PORT": "http"], "SLIPWAY_PROXY_PORT (proxy.port)"),
            (["SLIPWAY_CACHE_BYTES": "lots"], "SLIPWAY_CACHE_BYTES (cache.bytes)"),
            (["SLIPWAY_BUILD_TIMEOUT": "soon"], "SLIPWAY_BUILD_TIMEOUT (builder.timeout)"),
            (["SLIPWAY_BUILD_RUNNER": "podman"], "SLIPWAY_BUILD_RUNNER (builder.runner)"),
            (["SLIPWAY_STORAGE": "ftp"], "SLIPWAY_STORAGE (storage.kind)"),
            (["SLIPWAY_STORAGE": "s3"], "SLIPWAY_S3_ENDPOINT (storage.s3.endpoint)"),
            (["SLIPWAY_APPS_DOMAIN": "bad_domain!"], "SLIPWAY_APPS_DOMAIN (proxy.apps_domain)"),
            (["SLIPWAY_DATABASE_URL": "mysql://x"], "SLIPWAY_DATABASE_URL (catalog.url)"),
            (
                ["SLIPWAY_CACHE_BYTES": "1MiB", "SLIPWAY_CACHE_MAX_ENTRY_BYTES": "2MiB"],
                "SLIPWAY_CACHE_MAX_ENTRY_BYTES"
            ),
        ]
        for (environment, expected) in cases {
            do {
                _ = try await load(environment)
                Issue.record("\(environment) was accepted")
            } catch {
                #expect(error.message.contains(expected), "\(error.message)")
            }
        }
    }

    @Test func secretsNeverAppearInMessagesOrListings() async throws {
        let environment = [
            "SLIPWAY_STORAGE": "s3", "SLIPWAY_S3_ENDPOINT": "http://127.0.0.1:1", "SLIPWAY_S3_BUCKET": "b",
            "SLIPWAY_S3_ACCESS_KEY_ID": "id", "SLIPWAY_S3_SECRET_ACCESS_KEY": "hunter2-secret",
            "SLIPWAY_ADMIN_TOKEN": "tok-secret",
        ]
        let values = try await SettingValues.load(file: nil, environment: environment)
        let listing = ConfigCommand.render(values)
        #expect(!listing.contains("hunter2-secret") && !listing.contains("tok-secret"))
        #expect(listing.contains("<redacted>"))
        let config = try SlipwayConfiguration.parse(values)
        #expect(config.adminToken == "tok-secret")
        if case .s3(let s3) = config.storage { #expect(!"\(s3)".contains("hunter2-secret")) }
    }

    @Test func unreadableFilesAreReported() async {
        await #expect(throws: ConfigurationError.self) { _ = try await self.load(file: ("slipway.toml", "x = 1")) }
        await #expect(throws: ConfigurationError.self) {
            _ = try await self.load(file: ("slipway.yaml", "proxy: [unclosed"))
        }
        await #expect(throws: ConfigurationError.self) {
            _ = try await SlipwayConfiguration.load(file: "/nonexistent/slipway.yaml", environment: [:])
        }
    }

    @Test func sizesAndDurationsParseInTheirUsualForms() {
        #expect(SettingParser.parseSize("512") == 512 && SettingParser.parseSize("2g") == 2 << 30)
        #expect(SettingParser.parseSize("256 MiB") == 256 << 20 && SettingParser.parseSize("1k") == 1024)
        #expect(SettingParser.parseSize("-1") == nil && SettingParser.parseSize("1x") == nil)
        #expect(
            SettingParser.parseDuration("15m") == .seconds(900)
                && SettingParser.parseDuration("1h30m") == .seconds(5400))
        #expect(
            SettingParser.parseDuration("90") == .seconds(90)
                && SettingParser.parseDuration("250ms") == .milliseconds(250))
        #expect(SettingParser.parseDuration("m") == nil && SettingParser.parseDuration("5d") == nil)
    }
}
