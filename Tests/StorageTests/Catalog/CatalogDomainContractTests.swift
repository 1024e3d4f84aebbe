import Foundation
import Model
import Testing

@testable import Storage

/// Custom domains and fleet leases in the catalog: the contract every implementation keeps.
@Suite struct CatalogDomainContractTests {
    static func pair(_ apex: String, primary: String? = nil) -> [CustomDomainDraft] {
        let www = "www." + apex
        let token = DomainRules.generateToken()
        let primaryHost = primary ?? apex
        return [
            CustomDomainDraft(
                hostname: apex, apex: true, pairedWith: www, redirectTo: primaryHost == apex ? nil : primaryHost,
                verificationToken: token),
            CustomDomainDraft(
                hostname: www, apex: false, pairedWith: apex, redirectTo: primaryHost == www ? nil : primaryHost,
                verificationToken: token),
        ]
    }

    @Test(arguments: CatalogUnderTest.all)
    func aPairIsAddedPendingSeenOnEveryHandleAndAnnounced(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            var events = await f.subscribe()
            let added = try await f.catalog.addDomains(siteID: site.id, Self.pair("example.com"), limit: 10)
            #expect(added.map(\.hostname) == ["example.com", "www.example.com"])
            for domain in added {
                #expect(domain.status == .pending && domain.certificateStatus == .none)
                #expect(domain.siteID == site.id && domain.createdAt == f.clock.now)
                #expect(domain.nextCheckAt == f.clock.now, "the first check is due at once")
                #expect(domain.ownershipRecordName == "_slipway-challenge.example.com")
            }
            #expect(added[1].redirectTo == "example.com" && added[0].redirectTo == nil)
            let other = try await f.openAnother()
            #expect(try await other.domains(siteID: site.id) == added)
            #expect(try await other.domain(hostname: "www.example.com") == added[1])
            #expect(try await other.allDomains() == added)
            #expect(try await other.domain(hostname: "example.org") == nil)
            let sentinel = CatalogEvent.siteDeleted(site)
            f.bus.publish(sentinel)
            #expect(await drain(&events, until: sentinel) == added.map { .value(.domainChanged($0)) })
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aHostNameBelongsToOneDeploymentAndTheLimitHoldsWithNothingHalfAdded(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let blog = try await f.makeSite("blog")
            let shop = try await f.makeSite("shop")
            _ = try await f.catalog.addDomains(
                siteID: blog.id, [CustomDomainDraft(hostname: "www.example.com", apex: false)], limit: 10)
            let taken = await catalogError {
                try await f.catalog.addDomains(siteID: shop.id, Self.pair("example.com"), limit: 10)
            }
            #expect(taken?.code == .domainTaken && taken?.httpStatus == 409)
            #expect(try await f.catalog.domain(hostname: "example.com") == nil, "the pair's apex was not kept")
            let again = await catalogError {
                try await f.catalog.addDomains(
                    siteID: blog.id, [CustomDomainDraft(hostname: "www.example.com", apex: false)], limit: 10)
            }
            #expect(again?.code == .domainTaken)
            let limited = await catalogError {
                try await f.catalog.addDomains(siteID: blog.id, Self.pair("example.org"), limit: 2)
            }
            #expect(limited?.code == .domainLimit && limited?.httpStatus == 422)
            #expect(try await f.catalog.domains(siteID: blog.id).map(\.hostname) == ["www.example.com"])
            let missing = await catalogError {
                try await f.catalog.addDomains(
                    siteID: SiteID.generate(), [CustomDomainDraft(hostname: "a.example.net", apex: false)], limit: 2)
            }
            #expect(missing?.code == .siteNotFound)
            let badAge = await catalogError {
                try await f.catalog.addDomains(
                    siteID: blog.id, [CustomDomainDraft(hostname: "b.example.net", apex: false, hstsMaxAge: -1)],
                    limit: 10)
            }
            #expect(badAge?.code == .invalidInput)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func statesAndTheCertificateAreUpdatedInOneTransactionAndReadBackWhole(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            _ = try await f.catalog.addDomains(
                siteID: site.id, [CustomDomainDraft(hostname: "app.example.com", apex: false)], limit: 10)
            f.clock.advance(by: .seconds(30))
            let now = f.clock.now
            let certificate = DomainCertificate(
                chainKey: "tls/certs/app.example.com/ab.pem", keyKey: "tls/keys/app.example.com/ab.key.enc",
                sha256: String(repeating: "ab", count: 32), notBefore: now, notAfter: now.addingTimeInterval(7_776_000),
                renewAt: now.addingTimeInterval(5_184_000), source: .acme)
            let updated = try await f.catalog.updateDomain(hostname: "app.example.com") { domain in
                domain.status = .active
                domain.verifiedAt = now
                domain.certificateStatus = .active
                domain.certificate = certificate
                domain.lastError = DomainProblem(
                    code: "dns_error", detail: String(repeating: "x", count: 5000), at: now)
                domain.checkAttempts = 3
                domain.nextCheckAt = now.addingTimeInterval(3600)
                domain.hstsMaxAge = 31_536_000
            }
            #expect(updated.updatedAt == now && updated.certificate == certificate)
            #expect(updated.lastError?.detail.count == 2000, "a problem's detail is bounded")
            let other = try await f.openAnother()
            #expect(try await other.domain(hostname: "app.example.com") == updated)

            // What never changes, and what a change may not hold, is refused with nothing written.
            let renamed = await catalogError {
                try await f.catalog.updateDomain(hostname: "app.example.com") { $0.hostname = "other.example.com" }
            }
            #expect(renamed?.code == .invalidInput)
            let badAge = await catalogError {
                try await f.catalog.updateDomain(hostname: "app.example.com") { $0.hstsMaxAge = 99_999_999 }
            }
            #expect(badAge?.code == .invalidInput)
            #expect(try await other.domain(hostname: "app.example.com") == updated)
            let missing = await catalogError {
                try await f.catalog.updateDomain(hostname: "nothing.example.com") { $0.status = .active }
            }
            #expect(missing?.code == .domainNotFound && missing?.httpStatus == 404)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func dueChecksComeSoonestFirstAndOnlyOnceDue(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            for name in ["a.example.com", "b.example.com", "c.example.com"] {
                _ = try await f.catalog.addDomains(
                    siteID: site.id, [CustomDomainDraft(hostname: name, apex: false)], limit: 10)
            }
            let now = f.clock.now
            try await f.catalog.updateDomain(hostname: "a.example.com") { $0.nextCheckAt = now.addingTimeInterval(60) }
            try await f.catalog.updateDomain(hostname: "c.example.com") { $0.nextCheckAt = nil }
            #expect(try await f.catalog.domainsDue(at: now, limit: 10).map(\.hostname) == ["b.example.com"])
            #expect(
                try await f.catalog.domainsDue(at: now.addingTimeInterval(61), limit: 10).map(\.hostname) == [
                    "b.example.com", "a.example.com",
                ])
            #expect(try await f.catalog.domainsDue(at: now.addingTimeInterval(61), limit: 1).count == 1)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func removingOneHalfRemovesThePairAndDeletingTheSiteRemovesItsDomains(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let shop = try await f.makeSite("shop")
            let pair = try await f.catalog.addDomains(siteID: site.id, Self.pair("example.com"), limit: 10)
            let single = try await f.catalog.addDomains(
                siteID: site.id, [CustomDomainDraft(hostname: "docs.example.com", apex: false)], limit: 10)
            let wrongSite = await catalogError {
                try await f.catalog.removeDomain(siteID: shop.id, hostname: "example.com")
            }
            #expect(wrongSite?.code == .domainNotFound)
            var events = await f.subscribe()
            let removed = try await f.catalog.removeDomain(siteID: site.id, hostname: "www.example.com")
            #expect(removed.map(\.hostname) == ["www.example.com", "example.com"])
            #expect(try await f.catalog.domains(siteID: site.id) == single)
            _ = try await f.catalog.deleteSite(id: site.id)
            #expect(try await f.catalog.allDomains().isEmpty)
            // The freed name can be added again, by another deployment.
            _ = try await f.catalog.addDomains(
                siteID: shop.id, [CustomDomainDraft(hostname: "docs.example.com", apex: false)], limit: 10)
            let sentinel = CatalogEvent.siteDeleted(shop)
            f.bus.publish(sentinel)
            let seen = await drain(&events, until: sentinel).compactMap { delivery -> String? in
                guard case .value(let event) = delivery else { return nil }
                switch event {
                case .domainRemoved(let domain): return "removed \(domain.hostname)"
                case .siteDeleted: return "site deleted"
                case .domainChanged(let domain): return "changed \(domain.hostname)"
                default: return nil
                }
            }
            #expect(
                seen == [
                    "removed www.example.com", "removed example.com", "removed docs.example.com", "site deleted",
                    "changed docs.example.com",
                ])
            _ = pair
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func oneOwnerHoldsALeaseUntilItExpiresOrIsReleased(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let other = try await f.openAnother()
            #expect(try await f.catalog.acquireLease("certificates", owner: "node-a", duration: .seconds(60)))
            #expect(try await !other.acquireLease("certificates", owner: "node-b", duration: .seconds(60)))
            #expect(try await other.lease("certificates")?.owner == "node-a")
            f.clock.advance(by: .seconds(30))
            #expect(
                try await f.catalog.acquireLease("certificates", owner: "node-a", duration: .seconds(60)), "renewed")
            f.clock.advance(by: .seconds(59))
            #expect(try await !other.acquireLease("certificates", owner: "node-b", duration: .seconds(60)))
            f.clock.advance(by: .seconds(1))
            #expect(try await other.lease("certificates") == nil, "expired")
            #expect(try await other.acquireLease("certificates", owner: "node-b", duration: .seconds(60)))
            try await f.catalog.releaseLease("certificates", owner: "node-a")
            #expect(try await other.lease("certificates")?.owner == "node-b", "only the holder releases")
            try await other.releaseLease("certificates", owner: "node-b")
            #expect(try await f.catalog.acquireLease("certificates", owner: "node-a", duration: .seconds(60)))
            // Names are separate leases; bad input is refused.
            #expect(try await other.acquireLease("domain-checks", owner: "node-b", duration: .seconds(60)))
            let bad = await catalogError { try await other.acquireLease("", owner: "node-b", duration: .seconds(1)) }
            #expect(bad?.code == .invalidInput)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func ofManyTakersAtOnceOneHoldsTheLease(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            var handles: [any Catalog] = [f.catalog]
            for _ in 0..<3 { handles.append(try await f.openAnother()) }
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for (index, handle) in handles.enumerated() {
                    for attempt in 0..<4 {
                        group.addTask {
                            try await handle.acquireLease(
                                "issuer", owner: "node-\(index)-\(attempt)", duration: .seconds(60))
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
        }
    }
}
