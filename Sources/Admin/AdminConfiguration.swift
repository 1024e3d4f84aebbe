public import Model
public import Storage

/// How the admin API listens and how it names the sites it reports on.
///
/// The executable fills it from Slipway's configuration; nothing here reads
/// the environment.
public struct AdminConfiguration: Sendable {
    /// Address to bind; `127.0.0.1` keeps the API off the network by default.
    public var host: String
    /// Port to bind; 0 picks a free one (tests learn it from `onServerRunning`).
    public var port: Int
    /// The bearer token every request but the health checks must carry.
    public var token: String
    /// Largest request body accepted, in bytes; larger bodies get 413.
    public var maxBodyBytes: Int
    /// Scheme of the public site URLs (`http` or `https`).
    public var publicScheme: String
    /// Sites answer at `<slug>.<appsDomain>`.
    public var appsDomain: String
    /// Port of the public listener; nil or the scheme's default port leaves it out of URLs.
    public var publicPort: Int?
    /// How often a live log stream sends a comment while no line arrives, so
    /// proxies and clients do not close an idle connection.
    public var keepAliveInterval: Duration
    /// How long a log stream waits, once its build has ended, for the
    /// builder to close the build's live log before it ends without it.
    public var logGracePeriod: Duration
    /// Largest persisted log the API reads back for a log stream, in bytes.
    public var maxPersistedLogBytes: Int
    /// Directory of the web dashboard's files (`static/dashboard`), served
    /// without the token at `/` and `/dashboard/…`; nil serves no dashboard.
    public var dashboardDirectory: String?
    /// How long the GitHub webhook remembers a delivery that queued a build:
    /// a copy with the same `X-GitHub-Delivery` id sent again within this
    /// time queues nothing. The ids are kept in the catalog, so every admin
    /// process sharing it recognises them.
    public var webhookReplayWindow: Duration
    /// The load balancers whose `X-Forwarded-For` names the client, for the
    /// audit log and the failed-attempt limit (`SLIPWAY_TRUSTED_PROXIES`).
    public var trustedProxies: TrustedProxies = .none
    /// How long audit entries are kept (`SLIPWAY_AUDIT_RETENTION`).
    public var auditRetention: Duration = Self.defaultAuditRetention
    /// Failed authentication attempts one client address may make within
    /// `failedAttemptWindow` before it is answered 429 until the window passes.
    public var maxFailedAttempts = 10
    public var failedAttemptWindow: Duration = .seconds(60)
    /// A token's last use is written at most this often.
    public var tokenUseInterval: Duration = .seconds(60)
    /// Where custom domains must point: the CNAME target and the apex
    /// addresses (`SLIPWAY_DOMAIN_TARGET`, `SLIPWAY_DOMAIN_ADDRESSES`).
    public var domainTarget = DomainTarget(hostname: nil, addresses: [])
    /// Whether deployments may name local repositories (`SLIPWAY_ALLOW_LOCAL_REPOS`).
    public var allowLocalRepositories = false
    /// Custom domains one deployment may have (`SLIPWAY_MAX_DOMAINS_PER_DEPLOYMENT`).
    public var maxDomainsPerDeployment = DomainRules.defaultLimitPerDeployment

    /// What a folder uploaded to a deployment may be, and where its blobs
    /// wait to be checked.
    public var uploads = UploadSettings()

    /// 90 days.
    public static let defaultAuditRetention: Duration = .seconds(90 * 86_400)

    public init(
        host: String = "127.0.0.1",
        port: Int = 8081,
        token: String,
        maxBodyBytes: Int = 1 << 20,
        publicScheme: String = "http",
        appsDomain: String = "localhost",
        publicPort: Int? = 8080,
        keepAliveInterval: Duration = .seconds(15),
        logGracePeriod: Duration = .seconds(5),
        maxPersistedLogBytes: Int = 32 << 20,
        dashboardDirectory: String? = nil,
        webhookReplayWindow: Duration = WebhookDeliveries.defaultWindow
    ) {
        self.host = host
        self.port = port
        self.token = token
        self.maxBodyBytes = maxBodyBytes
        self.publicScheme = publicScheme
        self.appsDomain = appsDomain
        self.publicPort = publicPort
        self.keepAliveInterval = keepAliveInterval
        self.logGracePeriod = logGracePeriod
        self.maxPersistedLogBytes = maxPersistedLogBytes
        self.dashboardDirectory = dashboardDirectory
        self.webhookReplayWindow = webhookReplayWindow
    }

    /// Where sites answer, for the URLs in answers.
    public var siteURLs: SiteURLs { SiteURLs(scheme: publicScheme, appsDomain: appsDomain, port: publicPort) }

    /// The URL the site's active build answers at: `http://<slug>.<domain>:<port>/`.
    public func siteURL(slug: String) -> String { siteURLs.siteURL(slug: slug) }

    /// The URL of one build of the site: `http://<number>--<slug>.<domain>:<port>/`.
    public func previewURL(slug: String, number: Int) -> String { siteURLs.previewURL(slug: slug, number: number) }
}

/// Limits and places of uploads (`slipway deploy --dir`).
public struct UploadSettings: Sendable {
    /// Files one upload may name (`SLIPWAY_BUILD_MAX_FILES`, as a build's output).
    public var maxFiles: Int
    /// Bytes one upload may hold (`SLIPWAY_BUILD_MAX_OUTPUT`, as a build's output).
    public var maxBytes: Int64
    /// How long an upload may take before it expires (`SLIPWAY_UPLOAD_TTL`).
    public var lifetime: Duration
    /// Where blobs are received and checked before they are stored
    /// (`SLIPWAY_UPLOAD_DIR`); nil uses the system's temporary directory.
    public var scratchDirectory: String?

    public init(
        maxFiles: Int = 50_000, maxBytes: Int64 = 2 << 30, lifetime: Duration = .seconds(24 * 3600),
        scratchDirectory: String? = nil
    ) {
        self.maxFiles = maxFiles
        self.maxBytes = maxBytes
        self.lifetime = lifetime
        self.scratchDirectory = scratchDirectory
    }

    /// Largest body of `POST /api/deployments/{slug}/uploads`: room for
    /// every file with a path of the longest length.
    var listBodyLimit: Int { min(maxFiles, 1_000_000) * (UploadRules.maxPathBytes + 200) }
}
