import CoreMetrics
import NIOCore
import NIOHTTP1

/// The proxy's swift-metrics instruments, created once so counting a
/// response allocates nothing:
///
/// - `slipway_proxy_requests_total{status_class, cache}` — responses by status
///   class (`2xx`…`5xx`) and `hit`/`miss` of the body cache;
/// - `slipway_proxy_response_bytes_total` — body bytes written;
/// - `slipway_proxy_request_duration_seconds` — from the request's end to
///   the response's last byte handed to the socket;
/// - `slipway_proxy_connections_closed_total{reason}` — connections closed
///   by a timeout, refused at the connection limit (`connection_limit`) or
///   at the per-client connection limit (`client_limit`);
/// - `slipway_proxy_requests_rate_limited_total` — requests answered 429
///   for their client's rate limit;
/// - `slipway_proxy_rejected_requests_total{reason}` — requests refused
///   before routing (400, 413, 414, 431);
/// - `slipway_proxy_prefetched_objects_total` and
///   `slipway_proxy_prefetched_bytes_total` — bodies (and their bytes) the
///   prefetcher put into the body cache after an activation;
/// - `slipway_proxy_prefetches_total{result}` — prefetches of an activated
///   build that ended `completed`, `failed` (the manifest or an object could
///   not be loaded) or `canceled` (a newer activation of the site, or shutdown);
/// - `slipway_proxy_connections_total{protocol}` — connections accepted, by
///   protocol: `h1` (plain HTTP/1.1) or `h1+tls` (HTTP/1.1 over TLS);
/// - `slipway_proxy_tls_handshake_failures_total{reason}` — TLS handshakes
///   that did not complete (``TLSHandshakeFailure``: `unknown_name`,
///   `protocol_version`, `not_tls`, `timeout`, `closed`, `handshake`).
final class ProxyMetrics: Sendable {
    /// How a connection speaks.
    enum ConnectionProtocol: String, Sendable, CaseIterable {
        case h1
        case h1TLS = "h1+tls"
        case h2
    }

    /// How one activation's prefetch ended.
    enum PrefetchResult: String, Sendable, CaseIterable {
        case completed
        case failed
        case canceled
    }

    private let requests: [Counter] // index: statusClass * 2 + (hit ? 1 : 0)
    private let bytes: Counter
    private let duration: Timer
    private let closed: [ConnectionTimeouts.Reason: Counter]
    private let refused: Counter
    private let clientLimitRefused: Counter
    private let rateLimited: Counter
    private let proxyHeaderRefused: Counter
    private let rejected: [SlipwayPages.Kind: Counter]
    private let prefetchedObjects: Counter
    private let prefetchedBytes: Counter
    private let prefetches: [PrefetchResult: Counter]
    private let prepared: Counter
    private let skewFallbacks: Counter
    private let connectionsByProtocol: [ConnectionProtocol: Counter]
    private let handshakeFailures: [TLSHandshakeFailure: Counter]

    init(factory: any MetricsFactory) {
        var requests: [Counter] = []
        for statusClass in 1...5 {
            for cache in ["miss", "hit"] {
                requests.append(
                    Counter(
                        label: "slipway_proxy_requests_total",
                        dimensions: [("status_class", "\(statusClass)xx"), ("cache", cache)], factory: factory))
            }
        }
        self.requests = requests
        bytes = Counter(label: "slipway_proxy_response_bytes_total", factory: factory)
        duration = Timer(
            label: "slipway_proxy_request_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        var closed: [ConnectionTimeouts.Reason: Counter] = [:]
        for reason in [ConnectionTimeouts.Reason.headerTimeout, .idleTimeout, .writeTimeout] {
            closed[reason] = Counter(
                label: "slipway_proxy_connections_closed_total", dimensions: [("reason", reason.rawValue)],
                factory: factory)
        }
        self.closed = closed
        refused = Counter(
            label: "slipway_proxy_connections_closed_total", dimensions: [("reason", "connection_limit")],
            factory: factory)
        clientLimitRefused = Counter(
            label: "slipway_proxy_connections_closed_total", dimensions: [("reason", "client_limit")],
            factory: factory)
        rateLimited = Counter(label: "slipway_proxy_requests_rate_limited_total", factory: factory)
        var rejected: [SlipwayPages.Kind: Counter] = [:]
        for kind in [SlipwayPages.Kind.badRequest, .payloadTooLarge, .uriTooLong, .headersTooLarge] {
            rejected[kind] = Counter(
                label: "slipway_proxy_rejected_requests_total", dimensions: [("reason", "\(kind.status.code)")],
                factory: factory)
        }
        self.rejected = rejected
        proxyHeaderRefused = Counter(
            label: "slipway_proxy_connections_closed_total", dimensions: [("reason", "proxy_protocol")],
            factory: factory)
        prefetchedObjects = Counter(label: "slipway_proxy_prefetched_objects_total", factory: factory)
        prefetchedBytes = Counter(label: "slipway_proxy_prefetched_bytes_total", factory: factory)
        var prefetches: [PrefetchResult: Counter] = [:]
        for result in PrefetchResult.allCases {
            prefetches[result] = Counter(
                label: "slipway_proxy_prefetches_total", dimensions: [("result", result.rawValue)], factory: factory)
        }
        self.prefetches = prefetches
        prepared = Counter(label: "slipway_proxy_prepared_answers_total", factory: factory)
        skewFallbacks = Counter(label: "slipway_proxy_skew_fallbacks_total", factory: factory)
        var connectionsByProtocol: [ConnectionProtocol: Counter] = [:]
        for kind in ConnectionProtocol.allCases {
            connectionsByProtocol[kind] = Counter(
                label: "slipway_proxy_connections_total", dimensions: [("protocol", kind.rawValue)], factory: factory)
        }
        self.connectionsByProtocol = connectionsByProtocol
        var handshakeFailures: [TLSHandshakeFailure: Counter] = [:]
        for reason in TLSHandshakeFailure.allCases {
            handshakeFailures[reason] = Counter(
                label: "slipway_proxy_tls_handshake_failures_total", dimensions: [("reason", reason.rawValue)],
                factory: factory)
        }
        self.handshakeFailures = handshakeFailures
    }

    /// Counts one response.
    func response(status: Int, cacheHit: Bool, bodyBytes: Int64, duration nanoseconds: Int64) {
        let statusClass = min(max(status / 100, 1), 5)
        requests[(statusClass - 1) * 2 + (cacheHit ? 1 : 0)].increment()
        if bodyBytes > 0 { bytes.increment(by: bodyBytes) }
        duration.recordNanoseconds(nanoseconds)
    }

    /// Counts one answer sent from its prepared form (``PreparedAnswers``),
    /// besides ``response(status:cacheHit:bodyBytes:duration:)``.
    func preparedAnswerSent() {
        prepared.increment()
    }

    /// Counts one hashed asset served from a replaced build (skew protection).
    func skewFallback() {
        skewFallbacks.increment()
    }

    func connectionClosed(_ reason: ConnectionTimeouts.Reason) {
        closed[reason]?.increment()
    }

    /// A connection from a trusted proxy that did not start with a valid PROXY protocol header.
    func proxyProtocolRefused() {
        proxyHeaderRefused.increment()
    }

    func connectionAccepted(_ kind: ConnectionProtocol) {
        connectionsByProtocol[kind]?.increment()
    }

    func tlsHandshakeFailed(_ reason: TLSHandshakeFailure) {
        handshakeFailures[reason]?.increment()
    }

    func connectionRefused() {
        refused.increment()
    }

    /// A connection refused at the per-client connection limit.
    func connectionRefusedForClient() {
        clientLimitRefused.increment()
    }

    /// A request answered 429 for its client's rate limit.
    func requestRateLimited() {
        rateLimited.increment()
    }

    func requestRejected(_ kind: SlipwayPages.Kind) {
        rejected[kind]?.increment()
    }

    /// Counts one body the prefetcher put into the body cache.
    func prefetched(bytes: Int) {
        prefetchedObjects.increment()
        prefetchedBytes.increment(by: Int64(bytes))
    }

    /// Counts one activation's prefetch by how it ended.
    func prefetchEnded(_ result: PrefetchResult) {
        prefetches[result]?.increment()
    }
}
