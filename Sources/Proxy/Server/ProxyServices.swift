import Logging
import NIOCore
import Storage

/// What every connection's request handler shares: the serving pipeline and
/// the caches, stores and instruments behind it. A class, so that handing it
/// around on the hot path is one reference, not a copy of every field.
final class ProxyServices: Sendable {
    /// Bodies are written in slices of this size, each when the client can
    /// take it, so that progress (or its absence) is visible to the
    /// write-idle timeout and no connection buffers more than a slice or two
    /// beyond the channel's high watermark.
    static let chunkSize = 64 << 10

    let pipeline: ServingPipeline
    let manifests: ManifestStore
    let bodyCache: BodyCache
    let bodySource: BodySource
    /// How a file of the disk store leaves the connection.
    let fileDelivery: FileDelivery
    let metrics: ProxyMetrics
    let accessLog: AccessLog
    let intakeLimits: RequestIntake.Limits
    let upstream: ProxyConfiguration.Upstream
    /// Each event loop's prepared answers and head endings (whose `Date` comes from the server's clock).
    let loopStates: EdgeLoopStates
    /// Plain requests for hosts with a certificate go to https (nil: served as they come).
    let httpsRedirect: HTTPSRedirect?
    /// The `Strict-Transport-Security` value of answers over HTTPS (nil: none).
    let strictTransportSecurity: String?
    /// Who each request's client is, and the per-client limits.
    let clients: EdgeClients
    /// Who may visit protected sites (`Sources/Proxy/Protection`).
    let protection: EdgeProtection
    let logger: Logger

    init(
        pipeline: ServingPipeline, manifests: ManifestStore, bodyCache: BodyCache, bodySource: BodySource,
        fileDelivery: FileDelivery, metrics: ProxyMetrics,
        accessLog: AccessLog, intakeLimits: RequestIntake.Limits, upstream: ProxyConfiguration.Upstream,
        dateClock: HTTPDateClock, preparedAnswers: PreparedAnswers.Limits, httpsRedirect: HTTPSRedirect?,
        strictTransportSecurity: String?, clients: EdgeClients = .none, protection: EdgeProtection, logger: Logger
    ) {
        self.clients = clients
        self.protection = protection
        self.httpsRedirect = httpsRedirect
        self.strictTransportSecurity = strictTransportSecurity
        self.pipeline = pipeline
        self.manifests = manifests
        self.bodyCache = bodyCache
        self.bodySource = bodySource
        self.fileDelivery = fileDelivery
        self.metrics = metrics
        self.accessLog = accessLog
        self.intakeLimits = intakeLimits
        self.upstream = upstream
        self.loopStates = EdgeLoopStates(limits: preparedAnswers, clock: dateClock)
        self.logger = logger
    }
}

/// How the body of a file of the disk store is written to a connection.
enum FileDelivery: Sendable, Hashable {
    /// Straight from the page cache to the socket with `sendfile` (NIO's
    /// `FileRegion`), a slice at a time: only on a connection whose bytes
    /// go to the socket as they are.
    case sendfile
    /// Read into a buffer a slice at a time, off the event loop, at most one
    /// slice ahead of what the client has taken: for a connection whose
    /// bytes are transformed on the way out (encrypted, framed), where a
    /// `FileRegion` cannot go, and where `sendfile` is turned off.
    case buffers
}
