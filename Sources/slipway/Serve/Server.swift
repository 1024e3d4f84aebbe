import ACME
import Admin
import ArgumentParser
import Builder
import Domains
import Foundation
import Logging
import Metrics
import Model
import Postgres
import Prometheus
import Proxy
import ServiceLifecycle
import Storage
import Synchronization
import UnixSignals

/// A start failure that is not a configuration mistake (a data directory
/// that cannot be written, a catalog that cannot be opened), said plainly.
struct ServeError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Builds every part of a running Slipway from its configuration and runs
/// them as one service group: the edge proxy, the build workers and the
/// admin API, stopped together and gracefully on SIGTERM or SIGINT.
struct Server {
    let configuration: SlipwayConfiguration

    func run() async throws {
        let logger = Logger(label: "slipway")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        // Before anything is written: an incomplete installation stops here.
        var proxyConfiguration: ProxyConfiguration
        do { proxyConfiguration = try configuration.proxyConfiguration() } catch { throw ServeError(error.message) }
        if configuration.roles.contains(.admin) {
            let missing = AdminInstallation.missingFiles(dashboardDirectory: configuration.dashboardDirectory)
            guard missing.isEmpty else {
                throw ServeError(
                    "this Slipway installation is incomplete: \(missing.joined(separator: "; ")) not found; install Slipway with scripts/install, which puts them in share/slipway beside bin/slipway (docs/install.md)"
                )
            }
        }

        let data = configuration.dataDirectory
        do {
            try FileManager.default.createDirectory(
                atPath: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ServeError(
                "cannot create the data directory \(data): \(error.localizedDescription); set SLIPWAY_DATA_DIR to a writable directory"
            )
        }
        let token = try AdminTokenFile.resolve(configured: configuration.adminToken, dataDirectory: data)
        let keyring = try SecretKeyFile.resolve(configured: configuration.secretKey, dataDirectory: data)
        // Protected sites' session cookies: signed with a key derived from the
        // first secret key, accepted under any (a rotation signs no one out).
        proxyConfiguration.protection.sessionKeys = .init(keyring.derivedKeys(purpose: "edge-session"))
        // Custom domains: the routing probe's key, and the ACME account's
        // thumbprint every proxy answers HTTP-01 challenges with.
        proxyConfiguration.domainProbeKeys = .init(DomainProbe.keys(keyring))
        if configuration.domains.acmeDirectory != nil {
            proxyConfiguration.acmeThumbprint = ACMEAccountKeys.derive(keyring: keyring).thumbprint
        }
        let bus: any EventBus
        let catalog: any Catalog
        var fleetBus: PostgresEventBus?
        switch configuration.catalog {
        case .sqlite(let path):
            let local = InProcessEventBus()
            bus = local
            do {
                catalog = try SQLiteCatalog(path: path, settings: configuration.queue, bus: local, keyring: keyring)
            } catch {
                throw ServeError("cannot open the catalog at \(path): \(error)")
            }
        case .postgres(let settings, let listen, let poolSize):
            // The catalog first: it migrates the schema the bus reads.
            do {
                catalog = try await PostgresCatalog.open(
                    settings: settings, queue: configuration.queue, maximumConnections: poolSize, keyring: keyring,
                    logger: Logger(label: "slipway.catalog"))
            } catch {
                throw ServeError("cannot open the catalog at \(settings): \(error)")
            }
            do {
                var options = PostgresEventBus.Options()
                options.keyring = keyring
                let shared = try await PostgresEventBus.start(
                    settings: listen, options: options, logger: Logger(label: "slipway.events"))
                fleetBus = shared
                bus = shared
            } catch {
                try? await catalog.close()
                throw ServeError("cannot listen for events at \(listen): \(error)")
            }
        }
        let store: any ObjectStore
        var s3Store: S3ObjectStore?
        switch configuration.storage {
        case .disk:
            store = try DiskObjectStore(root: data, logger: Logger(label: "slipway.storage"))
        case .s3(let s3):
            let s3 = try S3ObjectStore(configuration: s3, logger: Logger(label: "slipway.storage"))
            s3Store = s3
            store = s3
        }
        let cache = BodyCache(capacityBytes: configuration.cacheBytes, maxEntryBytes: configuration.cacheMaxEntryBytes)
        // The build workers and their runner exist only in a process with the builder role.
        var workers: BuildWorkerPool?
        var runner: (any BuildRunner)?
        var buildsUnavailable: String?
        if configuration.roles.contains(.builder) {
            let builderConfiguration = configuration.builderConfiguration
            let builderLogger = Logger(label: "slipway.builder")
            do {
                let selected = try await RunnerSelection.makeRunner(
                    configuration: builderConfiguration, allowsLocalFallback: configuration.isLaptopShaped,
                    logger: builderLogger)
                runner = selected
                workers = BuildWorkerPool(
                    configuration: builderConfiguration, catalog: catalog, store: store, bus: bus, cache: cache,
                    runner: selected, logger: builderLogger)
            } catch  where error.code == .engineUnavailable && builderConfiguration.runner == .auto {
                // Everything else is served; builds are refused with the reason.
                builderLogger.error("builds cannot run on this node: \(error.message)")
                buildsUnavailable = error.message
            } catch {
                throw ServeError("the build runner cannot start: \(error)")
            }
        }
        // Only a process with the proxy role has the edge's event loops.
        let proxy: ProxyServer? =
            configuration.roles.contains(.proxy)
            ? try ProxyServer(
                configuration: proxyConfiguration, catalog: catalog, events: bus, store: store, bodyCache: cache,
                logger: Logger(label: "slipway.proxy"),
                domainCertificates: DomainCertificateObjects(store: store, keyring: keyring)) : nil

        let address = configuration.publicSiteAddress
        var adminConfiguration = AdminConfiguration(
            host: configuration.admin.host, port: configuration.admin.port, token: token.token,
            publicScheme: address.scheme, appsDomain: configuration.appsDomain, publicPort: address.port,
            dashboardDirectory: configuration.dashboardDirectory)
        adminConfiguration.trustedProxies = configuration.edge.trustedProxies
        adminConfiguration.auditRetention = configuration.auditRetention
        adminConfiguration.domainTarget = configuration.domainTarget
        adminConfiguration.allowLocalRepositories = configuration.builds.allowLocalRepos
        adminConfiguration.maxDomainsPerDeployment = configuration.maxDomainsPerDeployment
        adminConfiguration.uploads = UploadSettings(
            maxFiles: configuration.builds.maxFiles, maxBytes: configuration.builds.maxOutputBytes,
            lifetime: configuration.uploadTTL,
            scratchDirectory: try Self.uploadDirectory(
                configuration.uploadDirectory ?? configuration.dataDirectory + "/uploads"))
        // Build notifications go out from the processes that run builds.
        var notifications: NotificationDispatcher?
        if configuration.roles.contains(.builder) {
            notifications = NotificationDispatcher(
                configuration: configuration.notificationConfiguration(
                    siteURLs: adminConfiguration.siteURLs, userAgent: "Slipway/\(Slipway.configuration.version)"),
                catalog: catalog, bus: bus, logger: Logger(label: "slipway.notify"))
        }

        // What /readyz asks besides the catalog and the store.
        var readiness: [ReadinessCheck] = []
        if let fleetBus {
            readiness.append(
                ReadinessCheck { fleetBus.isListening ? nil : "the event listener is not connected to PostgreSQL" })
        }
        let proxyStarted = ProxyStarted()
        if configuration.roles.contains(.proxy) {
            readiness.append(
                ReadinessCheck { proxyStarted.value ? nil : "the proxy has not loaded its site table yet" })
        }

        let pool = workers
        // One process's own count, unless the catalog is shared: then the
        // catalog's count covers every builder of the fleet.
        var runningBuilds: (@Sendable () -> Int)?
        if let pool, !configuration.catalog.isShared { runningBuilds = { pool.runningBuilds.count } }
        var adminServices = AdminServices(
            catalog: catalog, bus: bus, store: store, buildsQueued: { pool?.wake() },
            runningBuilds: runningBuilds,
            cacheFigures: {
                let figures = cache.statistics
                return CacheFigures(
                    hits: figures.hits, misses: figures.misses, bytes: figures.bytes, entries: figures.entries,
                    capacityBytes: figures.capacityBytes)
            },
            metricsText: { registry.emitToString() }, readinessChecks: readiness,
            buildsUnavailable: buildsUnavailable)
        adminServices.certificateObjects = DomainCertificateObjects(store: store, keyring: keyring)
        let admin = AdminServer(
            configuration: adminConfiguration, services: adminServices, logger: Logger(label: "slipway.admin"))

        // Every role by default; `SLIPWAY_ROLES` picks a subset (several
        // processes over one catalog, or an API without build workers).
        var services: [any Service] = []
        if let proxy {
            services.append(
                LifecycleService(
                    description: "proxy",
                    start: {
                        try await proxy.start()
                        proxyStarted.value = true
                        // Printed once the group runs (its signal handlers are
                        // in place) and the edge listener is bound.
                        printBanner(token: token)
                    },
                    stop: { await proxy.shutdown(gracePeriod: .seconds(10)) }))
        }
        if let pool, let runner {
            services.append(
                LifecycleService(
                    description: "builder",
                    start: { try pool.start() },
                    stop: {
                        await pool.shutdown()
                        await runner.shutdown()
                    }))
        }
        if pool != nil {
            // Stored contents no build needs go, on one builder of the fleet at a time.
            let collector = BlobCollectorService(
                collector: BlobCollector(
                    catalog: catalog, store: store, grace: configuration.builds.blobGrace,
                    logger: Logger(label: "slipway.blobs")),
                interval: configuration.builds.blobCollectInterval,
                nodeID: "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8))")
            services.append(
                LifecycleService(
                    description: "blob collection", start: { collector.start() }, stop: { await collector.shutdown() }))
        }
        if let notifications {
            services.append(
                LifecycleService(
                    description: "notifications",
                    start: { try notifications.start() },
                    stop: { await notifications.shutdown() }))
        }
        if configuration.roles.contains(.admin) {
            services.append(admin)
            services.append(try domainService(keyring: keyring, catalog: catalog, bus: bus, store: store))
        } else {
            // A proxy or builder of a fleet answers its load balancer and scraper here.
            services.append(
                OperationsServer(
                    host: configuration.operations.host, port: configuration.operations.port,
                    services: admin.services, logger: Logger(label: "slipway.operations")))
        }
        if !configuration.roles.contains(.proxy) {
            services.append(LifecycleService(description: "banner", start: { printBanner(token: token) }, stop: {}))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))

        do {
            try await group.run()
        } catch {
            logger.error("Slipway stopped because a part failed", metadata: ["error": "\(error)"])
            try? await s3Store?.shutdown()
            await fleetBus?.shutdown()
            try? await catalog.close()
            throw ServeError("stopped: \(error)")
        }
        try? await s3Store?.shutdown()
        // The bus writes the lines it still holds through the database: before the catalog closes.
        await fleetBus?.shutdown()
        try? await catalog.close()
    }

    /// Where everything is, printed once at start (and the admin token on the
    /// first start only).
    private func printBanner(token: AdminTokenFile.Resolved) {
        let proxy = configuration.proxy
        let admin = configuration.admin
        let sitePort = proxy.port == 80 ? "" : ":\(proxy.port)"
        var lines = [
            "Slipway is starting",
            "  sites:      http://<slug>.\(configuration.appsDomain)\(sitePort)/   (listening on \(proxy.host):\(proxy.port))",
        ]
        if let tls = configuration.tls {
            let port = tls.port == 443 ? "" : ":\(tls.port)"
            let served =
                tls.certificateFile == nil
                ? "custom domains only" : "https://<slug>.\(configuration.appsDomain)\(port)/"
            lines.append("  HTTPS:      \(served)   (listening on \(proxy.host):\(tls.port))")
        }
        lines += [
            "  admin API:  http://\(admin.host):\(admin.port)/api",
            "  dashboard:  http://\(admin.host):\(admin.port)/",
            "  data:       \(configuration.dataDirectory)",
        ]
        if token.isNew, let path = token.path {
            lines.append("  admin token (shown once; also in \(path), mode 0600):")
            lines.append("    \(token.token)")
        }
        // Written straight to the descriptor so that it shows before the log
        // lines even when stdout is a pipe.
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// Makes the directory uploads are checked in (mode 0700) and removes
    /// what a stopped process left there: nothing in it outlives a request.
    static func uploadDirectory(_ path: String) throws -> String {
        let manager = FileManager.default
        do {
            try manager.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            for leftover in try manager.contentsOfDirectory(atPath: path) {
                try? manager.removeItem(atPath: path + "/" + leftover)
            }
        } catch {
            throw ServeError(
                "the upload directory \(path) cannot be used (\(error.localizedDescription)); set SLIPWAY_UPLOAD_DIR to a writable directory"
            )
        }
        return path
    }
}

/// Whether the proxy has started (its site table is loaded), for `/readyz`.
final class ProxyStarted: Sendable {
    private let started = Mutex(false)
    var value: Bool {
        get { started.withLock { $0 } }
        set { started.withLock { $0 = newValue } }
    }
}
