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
///   by a timeout or refused at the connection limit;
/// - `slipway_proxy_rejected_requests_total{reason}` — requests refused
///   before routing (400, 413, 414, 431).
final class ProxyMetrics: Sendable {
    private let requests: [Counter] // index: statusClass * 2 + (hit ? 1 : 0)
    private let bytes: Counter
    private let duration: Timer
    private let closed: [ConnectionTimeouts.Reason: Counter]
    private let refused: Counter
    private let rejected: [SlipwayPages.Kind: Counter]

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
        var rejected: [SlipwayPages.Kind: Counter] = [:]
        for kind in [SlipwayPages.Kind.badRequest, .payloadTooLarge, .uriTooLong, .headersTooLarge] {
            rejected[kind] = Counter(
                label: "slipway_proxy_rejected_requests_total", dimensions: [("reason", "\(kind.status.code)")],
                factory: factory)
        }
        self.rejected = rejected
    }

    /// Counts one response.
    func response(status: Int, cacheHit: Bool, bodyBytes: Int64, duration nanoseconds: Int64) {
        let statusClass = min(max(status / 100, 1), 5)
        requests[(statusClass - 1) * 2 + (cacheHit ? 1 : 0)].increment()
        if bodyBytes > 0 { bytes.increment(by: bodyBytes) }
        duration.recordNanoseconds(nanoseconds)
    }

    func connectionClosed(_ reason: ConnectionTimeouts.Reason) {
        closed[reason]?.increment()
    }

    func connectionRefused() {
        refused.increment()
    }

    func requestRejected(_ kind: SlipwayPages.Kind) {
        rejected[kind]?.increment()
    }
}
