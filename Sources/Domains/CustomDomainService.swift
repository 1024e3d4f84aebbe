public import Foundation
public import Logging
import Metrics
import Model
public import Storage
import Synchronization

/// The background work of custom domains, on nodes with the admin role:
/// every ``Configuration/tick`` (and at once when a domain is added or a
/// check is asked for), the node holding the fleet lease `custom-domains`
/// checks the domains whose check is due (``DomainVerifier``, applied with
/// ``DomainCheckSchedule``) and issues or renews the certificates that are
/// due (``CertificateIssuer``). Other admin nodes wait: one node of a fleet
/// talks to the CA at a time, and a node that dies hands over when its
/// lease expires.
public final class CustomDomainService: Sendable {
    public struct Configuration: Sendable {
        /// Who holds the lease (unique per process).
        public var nodeID: String
        public var tick: Duration = .seconds(15)
        /// Longer than a tick's work (an issuance polls the CA for up to 2 minutes).
        public var leaseDuration: Duration = .seconds(300)
        public var schedule = DomainCheckSchedule()
        /// Domains checked per tick at most.
        public var batch = 50

        public init(nodeID: String) {
            self.nodeID = nodeID
        }
    }

    /// The lease's name in the catalog.
    public static let leaseName = "custom-domains"

    let configuration: Configuration
    let catalog: any Catalog
    let bus: any EventBus
    let verifier: DomainVerifier
    let issuer: CertificateIssuer?
    let now: @Sendable () -> Date
    let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    public init(
        configuration: Configuration, catalog: any Catalog, bus: any EventBus, verifier: DomainVerifier,
        issuer: CertificateIssuer?, now: @escaping @Sendable () -> Date = Date.init, logger: Logger
    ) {
        self.configuration = configuration
        self.catalog = catalog
        self.bus = bus
        self.verifier = verifier
        self.issuer = issuer
        self.now = now
        self.logger = logger
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Starts the loop; returns at once.
    public func start() {
        let subscription = bus.subscribe()
        let started = Task { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Added domains and asked-for checks are due now: no wait for the tick.
                    for await delivery in subscription {
                        if case .value(.domainChanged(let domain)) = delivery,
                            domain.nextCheckAt.map({ $0 <= self.now() }) ?? false
                                || domain.status == .active && domain.certificateStatus == .none
                        {
                            self.wake.yield()
                        }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.configuration.tick)
                        self.wake.yield()
                    }
                }
                group.addTask {
                    self.wake.yield()
                    for await _ in self.wakes {
                        if Task.isCancelled { break }
                        await self.runOnce()
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
        task.withLock { $0 = started }
    }

    /// Stops the loop after the work in progress; gives the lease up.
    public func shutdown() async {
        let running = task.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        wake.finish()
        running?.cancel()
        await running?.value
        try? await catalog.releaseLease(Self.leaseName, owner: configuration.nodeID)
    }

    /// One tick: when this node holds the lease, the due checks, then the
    /// due certificates. Returns whether it held the lease.
    @discardableResult
    public func runOnce() async -> Bool {
        do {
            guard
                try await catalog.acquireLease(
                    Self.leaseName, owner: configuration.nodeID, duration: configuration.leaseDuration)
            else { return false }
        } catch {
            logger.warning("cannot take the custom-domain lease: \(error)")
            return false
        }
        do {
            for domain in try await catalog.domainsDue(at: now(), limit: configuration.batch) {
                await check(domain)
            }
            if let issuer {
                for domain in try await catalog.allDomains() where issuer.isDue(domain, at: now()) {
                    if Task.isCancelled { break }
                    await issuer.issue(domain, now: now)
                }
            }
        } catch {
            logger.warning("custom-domain work failed; retried at the next tick: \(error)")
        }
        return true
    }

    private func check(_ domain: CustomDomain) async {
        let outcome = await verifier.check(domain)
        let schedule = configuration.schedule
        let at = now()
        do {
            let updated = try await catalog.updateDomain(hostname: domain.hostname) { current in
                current = schedule.apply(outcome, to: current, at: at)
            }
            Counter(label: "slipway_domain_checks_total", dimensions: [("outcome", Self.label(outcome))]).increment()
            if updated.status != domain.status {
                logger.info(
                    "custom domain \(updated.status.rawValue)",
                    metadata: [
                        "host": "\(domain.hostname)", "was": "\(domain.status.rawValue)",
                        "problem": "\(updated.lastError?.detail ?? "-")",
                    ])
            }
        } catch let error as CatalogError where error.code == .domainNotFound {
            // Removed while it was being checked.
        } catch {
            logger.warning("cannot record the check of \(domain.hostname): \(error)")
        }
    }

    static func label(_ outcome: DomainCheckOutcome) -> String {
        switch outcome {
        case .verified: "verified"
        case .refused(let code, _): code
        case .dnsError: "dns_error"
        }
    }
}
