import Foundation
import Model
import Testing

@testable import Storage

/// Writers racing on two handles, as two processes would: what a single
/// writer lock gives SQLite, a shared database must give through row locks.
/// Each race is run many times, because a wrong implementation loses only
/// some of them.
@Suite struct CatalogConcurrencyContractTests {
    /// Runs `body` on every handle at once, `perHandle` times each, and
    /// returns what each call gave.
    private static func race<T: Sendable>(
        _ handles: [any Catalog], perHandle: Int = 2, _ body: @escaping @Sendable (any Catalog, Int) async throws -> T
    ) async throws -> [T] {
        try await withThrowingTaskGroup(of: T.self) { group in
            for index in 0..<(handles.count * perHandle) {
                let handle = handles[index % handles.count]
                group.addTask { try await body(handle, index) }
            }
            var results: [T] = []
            for try await result in group { results.append(result) }
            return results
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func claimersRacingForTwoBuildsOfOneSiteNeverStartBoth(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let handles = [f.catalog, try await f.openAnother()]
            for round in 0..<25 {
                let site = try await f.makeSite("race-\(round)")
                let first = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
                _ = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
                let claimed = try await Self.race(handles) { handle, index in
                    try await handle.claimNextBuild(workerID: "w\(index)")
                }.compactMap { $0 }
                #expect(claimed.map(\.id) == [first.id], "round \(round)")
                let running = try await f.catalog.builds(siteID: site.id).builds.filter { $0.status == .building }
                #expect(running.count == 1, "round \(round)")
                // Free the site's queue for the next round.
                for build in try await f.catalog.builds(siteID: site.id).builds {
                    _ = try await f.catalog.cancelBuild(id: build.id)
                }
                if let worker = claimed.first?.leaseOwner {
                    _ = try? await f.catalog.renewLease(buildID: first.id, workerID: worker)
                }
            }
            #expect(try await f.catalog.stats().running == 0)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func sweepersRacingOverOneLapsedLeaseRequeueItOnce(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let handles = [f.catalog, try await f.openAnother()]
            for round in 0..<10 {
                let site = try await f.makeSite("sweep-\(round)")
                let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
                let claimed = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
                #expect(claimed.id == build.id)
                f.clock.advance(by: f.settings.leaseDuration)

                let reports = try await Self.race(handles) { handle, _ in try await handle.sweepExpiredLeases() }
                #expect(reports.flatMap(\.requeued).map(\.id) == [build.id], "round \(round)")
                #expect(reports.allSatisfy { $0.failed.isEmpty && $0.releasedCanceled.isEmpty })
                let after = try await f.catalog.build(id: build.id)
                #expect(after.status == .queued && after.attempt == 2 && after.leaseOwner == nil, "round \(round)")
                // Out of the way of the next round's claim.
                _ = try await f.catalog.cancelBuild(id: build.id)
            }
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func concurrentCreatorsGetDenseNumbersAndNeverOverfillTheQueue(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture(settings: QueueSettings(maxQueued: 10)) { f in
            let site = try await f.makeSite("blog")
            let handles = [f.catalog, try await f.openAnother()]
            let results = try await Self.race(handles, perHandle: 12) { handle, _ -> Build? in
                do {
                    return try await handle.createBuild(siteID: site.id, BuildRequest())
                } catch let error as CatalogError where error.code == .queueFull {
                    return nil
                }
            }
            let created = results.compactMap { $0 }
            #expect(created.count == 10)
            #expect(created.map(\.number).sorted() == Array(1...10))
            #expect(try await f.catalog.stats().queueDepth == 10)
            // Numbers go on from the counter, however the race went.
            let next = try await f.catalog.cancelBuild(id: try #require(created.first).id)
            #expect(next.status == .canceled)
            #expect(try await f.catalog.createBuild(siteID: site.id, BuildRequest()).number == 11)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func concurrentSiteEditsOnTwoHandlesLoseNoUpdate(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let handles = [f.catalog, try await f.openAnother()]
            _ = try await Self.race(handles, perHandle: 10) { handle, index in
                try await handle.updateSite(id: site.id) { settings in
                    settings.env.append(BuildVariable(name: "VAR_\(index)", value: "\(index)"))
                }
            }
            let names = try await f.catalog.site(id: site.id).env.map(\.name)
            #expect(Set(names) == Set((0..<20).map { "VAR_\($0)" }))
            #expect(names.count == 20)
        }
    }
}
