import CoreMetrics
import Model
import Storage

/// The dispatcher's swift-metrics instruments:
///
/// - `slipway_notifications_total{result}` — attempts by how they ended:
///   `delivered`, `retrying` (due again later) or `gave_up`;
/// - `slipway_notification_duration_seconds` — each attempt's time, from
///   sending the POST to the answer read (or the failure).
final class NotificationMetrics: Sendable {
    private let delivered: Counter
    private let retrying: Counter
    private let gaveUp: Counter
    private let duration: Timer

    init(factory: any MetricsFactory) {
        func counter(_ result: String) -> Counter {
            Counter(label: "slipway_notifications_total", dimensions: [("result", result)], factory: factory)
        }
        delivered = counter("delivered")
        retrying = counter("retrying")
        gaveUp = counter("gave_up")
        duration = Timer(
            label: "slipway_notification_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
    }

    /// Counts how a notification's attempt ended.
    func count(_ result: NotificationAttemptResult) {
        switch result {
        case .delivered: delivered.increment()
        case .retry: retrying.increment()
        case .gaveUp: gaveUp.increment()
        }
    }

    /// Records the time one POST took.
    func time(_ elapsed: Duration) {
        duration.recordNanoseconds(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
