import Foundation
import Model
import Testing

@testable import Storage

/// The audit log in the catalog: the contract every implementation keeps.
@Suite struct CatalogAuditContractTests {
    static func entry(_ action: String, token: String? = "tok", target: String? = nil, outcome: Int = 200)
        -> AuditEventDraft
    {
        AuditEventDraft(
            tokenID: token, tokenName: token.map { "name of \($0)" }, action: action, target: target,
            outcome: outcome, clientAddress: "192.0.2.7")
    }

    @Test(arguments: CatalogUnderTest.all)
    func entriesComeBackNewestFirstInPagesOnEveryHandle(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            for index in 0..<5 {
                try await f.catalog.recordAuditEvents([Self.entry("build.trigger", target: "site-\(index)")])
                f.clock.advance(by: .seconds(1))
            }
            let other = try await f.openAnother()
            let first = try await other.auditEvents(AuditQuery(limit: 2))
            #expect(first.events.map(\.target) == ["site-4", "site-3"])
            #expect(first.events.first?.time == f.clock.now.addingTimeInterval(-1))
            #expect(first.events.first?.clientAddress == "192.0.2.7")
            #expect(first.events.first?.tokenName == "name of tok")
            #expect(first.events.first?.count == 1)
            let before = try #require(first.nextBefore)
            let second = try await other.auditEvents(AuditQuery(limit: 2, before: before))
            #expect(second.events.map(\.target) == ["site-2", "site-1"])
            let last = try await other.auditEvents(AuditQuery(limit: 2, before: second.nextBefore))
            #expect(last.events.map(\.target) == ["site-0"])
            #expect(last.nextBefore == nil)
            let ids = (first.events + second.events + last.events).map(\.id)
            #expect(ids == ids.sorted(by: >))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func entriesAreFilteredByActionAndToken(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            try await f.catalog.recordAuditEvents([
                Self.entry("token.create", token: "a"), Self.entry("build.trigger", token: "b"),
                Self.entry("build.trigger", token: "a"),
                AuditEventDraft(
                    tokenID: nil, tokenName: nil, action: "auth.failed", target: nil, outcome: 401,
                    clientAddress: "203.0.113.9", count: 12),
            ])
            let triggers = try await f.catalog.auditEvents(AuditQuery(action: "build.trigger"))
            #expect(triggers.events.map(\.tokenID) == ["a", "b"])
            let ofA = try await f.catalog.auditEvents(AuditQuery(tokenID: "a"))
            #expect(ofA.events.map(\.action) == ["build.trigger", "token.create"])
            let both = try await f.catalog.auditEvents(AuditQuery(action: "build.trigger", tokenID: "b"))
            #expect(both.events.count == 1)
            let failed = try #require(try await f.catalog.auditEvents(AuditQuery(action: "auth.failed")).events.first)
            #expect(failed.count == 12 && failed.outcome == 401 && failed.tokenID == nil)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func pruningDeletesOnlyEntriesOlderThanTheCutoff(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            try await f.catalog.recordAuditEvents([Self.entry("old")])
            let oldTime = f.clock.now
            f.clock.advance(by: .seconds(86_400))
            try await f.catalog.recordAuditEvents([Self.entry("new")])
            #expect(try await f.catalog.pruneAuditEvents(before: oldTime) == 0)
            #expect(try await f.catalog.pruneAuditEvents(before: oldTime.addingTimeInterval(0.001)) == 1)
            #expect(try await f.catalog.auditEvents(AuditQuery()).events.map(\.action) == ["new"])
            #expect(try await f.catalog.pruneAuditEvents(before: oldTime.addingTimeInterval(0.001)) == 0)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func badPageSizesAreRefusedAndLongFieldsCut(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            for limit in [0, -1, AuditLog.maxPageSize + 1] {
                #expect(
                    await catalogError { try await f.catalog.auditEvents(AuditQuery(limit: limit)) }?.code
                        == .invalidInput)
            }
            try await f.catalog.recordAuditEvents([Self.entry("x", target: String(repeating: "t", count: 5000))])
            let stored = try #require(try await f.catalog.auditEvents(AuditQuery()).events.first)
            #expect((stored.target?.count ?? 0) <= 200)
            try await f.catalog.recordAuditEvents([])
        }
    }
}
