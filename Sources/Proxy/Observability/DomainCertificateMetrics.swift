import CoreMetrics
import Foundation
import Synchronization

/// The swift-metrics instruments of custom domains' certificates at this proxy:
///
/// - `slipway_custom_domain_certificate_expiry_seconds{host}` — seconds
///   until the `notAfter` of the certificate the proxy serves for `host`,
///   set at every reconcile of the certificates (each catalog event about
///   domains and each periodic reconcile of the site table); the series
///   goes when the proxy stops serving a certificate for the host;
/// - `slipway_custom_domain_certificate_load_failures_total{reason}` —
///   certificates that could not be loaded: `store` (the object store did
///   not give the pair), `key` (the key does not open with this
///   installation's `SLIPWAY_SECRET_KEY`), `certificate` (the pair does not
///   parse, does not match, or does not name the host).
final class DomainCertificateMetrics: Sendable {
    /// Why a certificate could not be loaded, as the metric names it.
    enum Failure: String, Sendable, CaseIterable {
        case store
        case key
        case certificate
    }

    static let expiryLabel = "slipway_custom_domain_certificate_expiry_seconds"
    static let failuresLabel = "slipway_custom_domain_certificate_load_failures_total"

    private let factory: any MetricsFactory
    private let failures: [Failure: Counter]
    private let expiries = Mutex<[String: Gauge]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
        var failures: [Failure: Counter] = [:]
        for reason in Failure.allCases {
            failures[reason] = Counter(
                label: Self.failuresLabel, dimensions: [("reason", reason.rawValue)], factory: factory)
        }
        self.failures = failures
    }

    func loadFailed(_ reason: Failure) {
        failures[reason]?.increment()
    }

    /// Sets each served host's expiry gauge, and removes those of hosts no
    /// longer served.
    func record(notAfter byHost: [String: Date], now: Date) {
        let gone: [Gauge] = expiries.withLock { gauges in
            var gone: [Gauge] = []
            for (host, gauge) in gauges where byHost[host] == nil {
                gone.append(gauge)
                gauges[host] = nil
            }
            for (host, notAfter) in byHost {
                let gauge =
                    gauges[host]
                    ?? Gauge(label: Self.expiryLabel, dimensions: [("host", host)], factory: factory)
                gauges[host] = gauge
                gauge.record(notAfter.timeIntervalSince(now).rounded(.down))
            }
            return gone
        }
        for gauge in gone { gauge.destroy() }
    }
}
