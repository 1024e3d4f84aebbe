import Foundation
import Logging
import Model
import Storage
import Synchronization

/// Keeps the TLS listener's certificates (``EdgeCertificates``) in step
/// with the custom domains of the ``SiteTable``, so every proxy serves each
/// domain's current certificate without a restart.
///
/// A domain gets its certificate when its status is `active` or `moved`,
/// its deployment is known, and it has a certificate not yet past its
/// `notAfter`; the pair is read from the object store
/// (``DomainCertificateObjects``, the key opened with this installation's
/// keyring) and put under the domain's host name alone, as source
/// `domain:<host>`, whatever else the certificate names.
///
/// - ``domainsChanged()`` is called by the site table's follower after
///   every catalog event about domains or sites and after every reload. It
///   takes away at once, on the caller's task, the certificate of every
///   domain that no longer qualifies (removed, its site deleted, no longer
///   routed, expired), then wakes ``run()``.
/// - ``run()`` reconciles in the background: loads the certificates that
///   are missing or replaced (a different `sha256`), a few at a time,
///   never on an event loop nor in a request's path, and installs each one
///   for the handshakes that start afterwards.
/// - A load that fails (the store, a key that does not open, a pair that
///   does not parse) is logged without key material and counted
///   (``DomainCertificateMetrics``); the certificate served before, if any,
///   keeps serving until its `notAfter`, and the load is tried again at the
///   next reconcile (the next domain event, or the site table's periodic
///   reconcile).
final class DomainCertificateLoader: Sendable {
    /// What is served for one host.
    struct Served: Sendable, Hashable {
        var sha256: String
        var notAfter: Date
        /// The leaf's serial number in hex.
        var serial: String
    }

    /// A certificate to load: the domain's host and its record.
    private struct Wanted: Sendable {
        var host: String
        var certificate: DomainCertificate
    }

    private let objects: DomainCertificateObjects
    private let certificates: EdgeCertificates
    private let siteTable: SiteTable
    private let metrics: DomainCertificateMetrics
    private let logger: Logger
    private let maxConcurrentLoads: Int
    private let now: @Sendable () -> Date
    /// What is installed in `certificates`, by host. Installs and removals
    /// happen under this lock after reading the site table, so an install
    /// racing with a removal never outlives it.
    private let served = Mutex<[String: Served]>([:])
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - maxConcurrentLoads: pairs read from the store at once.
    ///   - now: the time certificates' validity is compared with.
    init(
        objects: DomainCertificateObjects, certificates: EdgeCertificates, siteTable: SiteTable,
        metrics: DomainCertificateMetrics, logger: Logger, maxConcurrentLoads: Int = 4,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.objects = objects
        self.certificates = certificates
        self.siteTable = siteTable
        self.metrics = metrics
        self.logger = logger
        self.maxConcurrentLoads = max(1, maxConcurrentLoads)
        self.now = now
        (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The source under which a domain's certificate is held in ``EdgeCertificates``.
    static func source(host: String) -> String { "domain:" + host }

    /// What is served now, by host.
    var servedCertificates: [String: Served] { served.withLock { $0 } }

    /// The site table changed in a way that may concern domains: drops at
    /// once what no longer qualifies and wakes ``run()``. Returns at once.
    func domainsChanged() {
        dropUnwanted()
        wake.yield()
    }

    /// Reconciles after each ``domainsChanged()`` (several in a row make
    /// one reconcile) until the calling task is cancelled.
    func run() async {
        for await _ in wakeUps {
            await reconcile()
        }
    }

    /// Makes the served certificates what the site table asks for now:
    /// drops what no longer qualifies, loads what is missing or replaced,
    /// and sets the expiry gauges. The proxy runs one before it listens,
    /// so domains already in the catalog are served from the first handshake.
    func reconcile() async {
        dropUnwanted()
        let wanted = wantedCertificates()
        let current = servedCertificates
        let loads = wanted.values.filter { current[$0.host]?.sha256 != $0.certificate.sha256 }
            .sorted { $0.host < $1.host }
        if !loads.isEmpty {
            await withTaskGroup(of: Void.self) { group in
                var next = loads.makeIterator()
                for _ in 0..<maxConcurrentLoads {
                    guard let wanted = next.next() else { break }
                    group.addTask { await self.load(wanted) }
                }
                while await group.next() != nil {
                    if let wanted = next.next() { group.addTask { await self.load(wanted) } }
                }
            }
        }
        metrics.record(notAfter: servedCertificates.mapValues(\.notAfter), now: now())
    }

    // MARK: Loading

    private func load(_ wanted: Wanted) async {
        let (host, record) = (wanted.host, wanted.certificate)
        let certificate: EdgeCertificate
        do {
            let pair = try await objects.load(record, host: host)
            certificate = try EdgeCertificate(chainPEM: pair.chainPEM, keyPEM: pair.keyPEM)
            guard certificate.covers(host) else {
                throw EdgeTLSError(
                    "the certificate names \(certificate.names.joined(separator: ", ")), not \(host); issue or upload one for \(host)"
                )
            }
        } catch {
            failed(host: host, record: record, error: error)
            return
        }
        let installed = served.withLock { served -> Bool in
            // The domain may have changed while the pair was read.
            guard wantedCertificate(for: host)?.sha256 == record.sha256 else { return false }
            certificates.replace(source: Self.source(host: host), with: certificate, names: [host])
            served[host] = Served(sha256: record.sha256, notAfter: record.notAfter, serial: certificate.serial)
            return true
        }
        if installed {
            logger.info(
                "custom domain certificate in use",
                metadata: [
                    "host": "\(host)", "sha256": "\(record.sha256)", "serial": "\(certificate.serial)",
                    "not_after": "\(record.notAfter)",
                ])
        }
    }

    private func failed(host: String, record: DomainCertificate, error: any Error) {
        let reason: DomainCertificateMetrics.Failure =
            switch error {
            case is SecretKeyringError: .key
            case is EdgeTLSError: .certificate
            default: .store
            }
        metrics.loadFailed(reason)
        let previous = served.withLock { $0[host] }
        // The errors of the store, the keyring and the certificate parser
        // name objects and problems, never key material.
        logger.error(
            "cannot load a custom domain's certificate; \(previous == nil ? "the host has no certificate until it loads" : "the previous certificate keeps serving until its notAfter"); retried at the next reconcile",
            metadata: [
                "host": "\(host)", "sha256": "\(record.sha256)", "reason": "\(reason.rawValue)", "error": "\(error)",
                "serving": "\(previous?.sha256 ?? "none")",
            ])
    }

    // MARK: What qualifies

    /// Takes away the certificate of every served host whose domain no
    /// longer qualifies, and of every served certificate past its `notAfter`.
    private func dropUnwanted() {
        let now = now()
        let dropped: [String] = served.withLock { served in
            var dropped: [String] = []
            for (host, current) in served where current.notAfter <= now || wantedCertificate(for: host) == nil {
                certificates.replace(source: Self.source(host: host), with: nil)
                served[host] = nil
                dropped.append(host)
            }
            return dropped
        }
        for host in dropped.sorted() {
            logger.info("custom domain certificate no longer served", metadata: ["host": "\(host)"])
        }
        if !dropped.isEmpty {
            metrics.record(notAfter: servedCertificates.mapValues(\.notAfter), now: now)
        }
    }

    /// The certificate `host` should serve now, if any.
    private func wantedCertificate(for host: String) -> DomainCertificate? {
        siteTable.domain(host: host).flatMap(qualifying)
    }

    /// Every host's certificate that should be served now.
    private func wantedCertificates() -> [String: Wanted] {
        var wanted: [String: Wanted] = [:]
        for (host, domain) in siteTable.domains {
            if let certificate = qualifying(domain) { wanted[host] = Wanted(host: host, certificate: certificate) }
        }
        return wanted
    }

    /// The domain's certificate when the domain routes (`active`, `moved`)
    /// to a deployment the table knows and the certificate has not expired.
    private func qualifying(_ domain: CustomDomain) -> DomainCertificate? {
        guard domain.status == .active || domain.status == .moved, let certificate = domain.certificate,
            certificate.notAfter > now(), siteTable.lookup(siteID: domain.siteID) != nil
        else { return nil }
        return certificate
    }
}
