import Domains
import Foundation
import Model
import Testing

/// The routing axis of custom domains: what each check outcome does, how
/// checks back off, and when they give up.
@Suite struct DomainCheckScheduleTests {
    let start = Date(timeIntervalSince1970: 1_750_000_000)

    func domain(_ status: DomainStatus = .pending) -> CustomDomain {
        CustomDomain(
            hostname: "app.example.com", siteID: SiteID.generate(), apex: false, verificationToken: "t",
            status: status, createdAt: start, updatedAt: start)
    }

    @Test func checksBackOffFromAMinuteToFourHours() {
        let schedule = DomainCheckSchedule()
        #expect(schedule.delay(afterFailures: 1) == .seconds(60))
        #expect(schedule.delay(afterFailures: 2) == .seconds(90))
        #expect(schedule.delay(afterFailures: 3) == .seconds(135))
        #expect(schedule.delay(afterFailures: 40) == .seconds(4 * 3600))
        #expect(schedule.elapsed(afterFailures: 2) == .seconds(150))
    }

    @Test func aPendingDomainBecomesActiveWhenVerifiedAndIsCheckedAgainHourly() {
        let schedule = DomainCheckSchedule()
        var domain = schedule.apply(.refused(code: "ownership_record_missing", detail: "none"), to: domain(), at: start)
        #expect(domain.status == .pending && domain.checkAttempts == 1)
        #expect(domain.nextCheckAt == start.addingTimeInterval(60))
        domain = schedule.apply(.verified, to: domain, at: start.addingTimeInterval(60))
        #expect(domain.status == .active && domain.checkAttempts == 0 && domain.lastError == nil)
        #expect(domain.verifiedAt == start.addingTimeInterval(60))
        #expect(domain.nextCheckAt == start.addingTimeInterval(60 + 3600))
    }

    @Test func aPendingDomainGivesUpAfterAWeekOfRefusalsButNotOfDNSErrorsWhileActive() {
        let schedule = DomainCheckSchedule()
        var domain = domain()
        var now = start
        var checks = 0
        while domain.status == .pending {
            domain = schedule.apply(.refused(code: "not_routed", detail: "elsewhere"), to: domain, at: now)
            now = domain.nextCheckAt ?? now
            checks += 1
            #expect(checks < 100)
        }
        #expect(domain.status == .failed && domain.nextCheckAt == nil)
        #expect(schedule.elapsed(afterFailures: domain.checkAttempts) >= .seconds(7 * 86_400))
        #expect(checks > 40 && checks < 60, "\(checks) checks over a week")

        var active = self.domain(.active)
        for _ in 0..<200 { active = schedule.apply(.dnsError(detail: "timeout"), to: active, at: start) }
        #expect(active.status == .active && active.lastError?.code == "dns_error", "resolver trouble moves nothing")
    }

    @Test func anActiveDomainThatStopsPointingHereIsMovedAndComesBack() {
        let schedule = DomainCheckSchedule()
        var domain = schedule.apply(.refused(code: "not_routed", detail: "x"), to: domain(.active), at: start)
        #expect(domain.status == .moved && domain.checkAttempts == 1)
        domain = schedule.apply(.verified, to: domain, at: start)
        #expect(domain.status == .active && domain.lastError == nil)
        // A certificate problem is the other axis's: a check does not clear it.
        domain.lastError = DomainProblem(code: "acme:unauthorized", detail: "no", at: start)
        domain = schedule.apply(.verified, to: domain, at: start)
        #expect(domain.lastError?.code == "acme:unauthorized")
    }
}
