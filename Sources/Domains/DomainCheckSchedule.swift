public import Foundation
public import Model

/// The outcome of one ownership and routing check of a custom domain.
public enum DomainCheckOutcome: Sendable, Hashable {
    /// The ownership record holds the domain's token and the name reaches a Slipway proxy.
    case verified
    /// Something the person must fix in DNS (`ownership_record_missing`,
    /// `ownership_record_mismatch`, `not_routed`).
    case refused(code: String, detail: String)
    /// The resolvers failed (timeout, SERVFAIL): says nothing about the domain.
    case dnsError(detail: String)
}

/// How checks are spaced and when they give up, and what each outcome does
/// to a domain: the routing axis of the two (``DomainStatus``).
///
/// ```
/// pending ─verified─▶ active ─refused─▶ moved ─verified─▶ active
///    │                                    │
///    └──refused for giveUpAfter──▶ failed ◀┘ (refused for giveUpAfter)
/// ```
///
/// Between checks the delay grows from ``base`` by ``factor`` per failed
/// attempt up to ``cap``; an active domain is checked again every
/// ``activeInterval`` (to notice it moved). A DNS failure keeps the status
/// and backs off like a refusal.
public struct DomainCheckSchedule: Sendable, Hashable {
    public var base: Duration = .seconds(60)
    public var factor: Double = 1.5
    public var cap: Duration = .seconds(4 * 3600)
    /// A pending domain gives up, a moved one fails, once its checks have
    /// been failing for this long.
    public var giveUpAfter: Duration = .seconds(7 * 86_400)
    public var activeInterval: Duration = .seconds(3600)

    public init() {}

    /// The wait after `attempts` failed checks in a row (the first is `base`).
    public func delay(afterFailures attempts: Int) -> Duration {
        let seconds = Double(base.components.seconds) * pow(factor, Double(max(0, attempts - 1)))
        return min(cap, .seconds(min(seconds, Double(cap.components.seconds))))
    }

    /// How long `attempts` failed checks in a row have been failing, by the schedule.
    public func elapsed(afterFailures attempts: Int) -> Duration {
        (0..<max(0, attempts)).reduce(Duration.zero) { $0 + delay(afterFailures: $1 + 1) }
    }

    /// `domain` after a check at `now` had `outcome`.
    public func apply(_ outcome: DomainCheckOutcome, to domain: CustomDomain, at now: Date) -> CustomDomain {
        var domain = domain
        switch outcome {
        case .verified:
            if domain.status != .active { domain.verifiedAt = domain.verifiedAt ?? now }
            domain.status = .active
            domain.checkAttempts = 0
            if domain.lastError.map({ !$0.code.hasPrefix("acme") && $0.code != "caa_refused" }) ?? false {
                domain.lastError = nil
            }
            domain.nextCheckAt = now.addingTimeInterval(Self.seconds(activeInterval))
        case .refused(let code, let detail):
            domain.lastError = DomainProblem(code: code, detail: detail, at: now)
            fail(&domain, now: now, changesStatus: true)
        case .dnsError(let detail):
            domain.lastError = DomainProblem(code: "dns_error", detail: detail, at: now)
            fail(&domain, now: now, changesStatus: false)
        }
        return domain
    }

    private func fail(_ domain: inout CustomDomain, now: Date, changesStatus: Bool) {
        if changesStatus, domain.status == .active {
            domain.status = .moved
            domain.checkAttempts = 0
        }
        domain.checkAttempts += 1
        if elapsed(afterFailures: domain.checkAttempts) >= giveUpAfter, domain.status != .active {
            domain.status = .failed
            domain.nextCheckAt = nil
            return
        }
        domain.nextCheckAt = now.addingTimeInterval(Self.seconds(delay(afterFailures: domain.checkAttempts)))
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
