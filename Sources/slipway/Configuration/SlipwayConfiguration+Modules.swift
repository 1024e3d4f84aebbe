import Builder
import Model
import Proxy
import Storage

extension SlipwayConfiguration {
    /// The build engine's settings.
    var builderConfiguration: BuilderConfiguration {
        let runner: BuilderConfiguration.RunnerKind =
            switch builds.runner {
            case .auto: .auto
            case .docker: .docker
            case .local: .local
            }
        return BuilderConfiguration(
            dataDirectory: dataDirectory, runner: runner, image: builds.image, concurrency: builds.concurrency,
            timeout: builds.timeout, memoryBytes: builds.memoryBytes, cpus: builds.cpus, pidsLimit: builds.pids,
            networkMode: builds.network, dockerHost: builds.dockerHost, allowLocalRepositories: builds.allowLocalRepos,
            gitCAFile: builds.gitCAFile,
            maxOutputFiles: builds.maxFiles, maxOutputBytes: builds.maxOutputBytes,
            keepSuccessfulBuilds: builds.keepBuilds, pollInterval: builds.pollInterval,
            // A lapsed lease is found within a third of a lease: a killed
            // builder's build is taken over after about 1.3 leases.
            sweepInterval: min(.seconds(10), queue.leaseDuration / 3), leaseDuration: queue.leaseDuration,
            drainTimeout: builds.drainTimeout)
    }
}

extension SlipwayConfiguration {
    /// How build notifications are sent; `siteURLs` as the admin API shows them.
    func notificationConfiguration(siteURLs: SiteURLs, userAgent: String) -> NotificationConfiguration {
        NotificationConfiguration(
            siteURLs: siteURLs, concurrency: notify.concurrency, requestTimeout: notify.timeout,
            retry: NotificationRetryPolicy(maxAttempts: notify.maxAttempts),
            // The lease must outlast an attempt by a wide margin.
            leaseDuration: max(.seconds(60), notify.timeout * 3),
            deliveredRetention: notify.retention, gaveUpRetention: max(notify.retention, .seconds(30 * 86_400)),
            userAgent: userAgent)
    }
}

extension SlipwayConfiguration {
    /// The dashboard's files, in the static directory.
    var dashboardDirectory: String { (staticDirectory ?? "static") + "/dashboard" }

    /// The edge proxy's settings.
    /// - Throws: when Slipway's static files (the built-in pages) cannot be found.
    func proxyConfiguration() throws(ConfigurationError) -> ProxyConfiguration {
        guard let staticDirectory else {
            throw ConfigurationError(
                "\(Setting.staticDir.label): Slipway's static files (pages/error.html, …) were not found in \(StaticFiles.candidates().joined(separator: ", ")); install Slipway with scripts/install, which puts them in share/slipway/static beside bin/slipway, or point this setting at the release's static directory"
            )
        }
        var caFile: String?
        if case .s3(let s3) = storage { caFile = s3.caCertificateFile }
        var configuration = ProxyConfiguration(
            host: proxy.host, port: proxy.port, appsDomain: appsDomain,
            pagesDirectory: staticDirectory + "/pages", pagesOverrideDirectory: pagesDirectory,
            accessLog: edge.accessLog, sendfile: edge.sendfile,
            tls: tls.map {
                ProxyConfiguration.TLS(
                    port: $0.port, certificateFile: $0.certificateFile, keyFile: $0.keyFile,
                    handshakeTimeout: $0.handshakeTimeout,
                    http2: $0.http2
                        ? ProxyConfiguration.HTTP2(maxConcurrentStreams: $0.http2MaxConcurrentStreams) : nil,
                    redirectsPlainHTTP: $0.redirectsPlainHTTP, hstsMaxAge: $0.hstsMaxAge)
            },
            clientAddresses: ProxyConfiguration.ClientAddresses(
                trustedProxies: edge.trustedProxies, proxyProtocol: edge.proxyProtocol),
            clientLimits: edge.clientLimits,
            limits: ProxyConfiguration.Limits(maxConnections: edge.maxConnections),
            timeouts: ProxyConfiguration.Timeouts(
                headerRead: edge.headerTimeout, idle: edge.idleTimeout, writeIdle: edge.writeTimeout),
            cache: ProxyConfiguration.Cache(bodyBytes: cacheBytes, maxEntryBytes: cacheMaxEntryBytes),
            upstream: ProxyConfiguration.Upstream(timeout: edge.upstreamTimeout, caCertificateFile: caFile))
        // The session keys come from the secret keyring (`Serve/Server.swift`).
        configuration.protection.sessionTTL = edge.sessionTTL
        configuration.skewWindow = edge.skewWindow
        return configuration
    }
}
