import Foundation
import Model
import Testing

@testable import Storage

/// Activation and rollback: the catalog contract.
@Suite struct CatalogActivationContractTests {
    @Test(arguments: CatalogUnderTest.all)
    func activatingASuccessfulBuildMakesItActiveAndPublishesIt(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let first = try await f.makeSuccessfulBuild(of: site)
            let second = try await f.makeSuccessfulBuild(of: site)
            var events = await f.subscribe()

            #expect(
                try await f.catalog.activate(siteID: site.id, buildID: first.id, allowOlder: false)
                    == .activated(previous: nil))
            #expect(try await f.catalog.site(id: site.id).activeBuildID == first.id)
            #expect(
                try await f.catalog.activate(siteID: site.id, buildID: second.id, allowOlder: false)
                    == .activated(previous: first.id))
            #expect(
                try await f.catalog.activate(siteID: site.id, buildID: second.id, allowOlder: false) == .alreadyActive)
            let current = try await f.catalog.site(id: site.id)
            #expect(current.activeBuildID == second.id)
            // Activation is not a settings change.
            #expect(current.updatedAt == site.updatedAt)

            let sentinel = CatalogEvent.siteDeleted(site)
            f.bus.publish(sentinel)
            #expect(
                await drain(&events, until: sentinel) == [
                    .value(
                        .activated(Activation(siteID: site.id, buildID: first.id, buildNumber: 1, previousBuildID: nil))
                    ),
                    .value(
                        .activated(
                            Activation(siteID: site.id, buildID: second.id, buildNumber: 2, previousBuildID: first.id))),
                ]
            )
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aSuccessFinishedWithActivationIsLiveInTheSameCommit(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.catalog.createSite(
                SiteDraft(slug: "blog", repoURL: "https://github.com/acme/blog.git", notifyURL: CatalogFixture.receiver)
            )
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            let other = try await f.openAnother()
            var events = await f.subscribe()

            let (finished, activation) = try await f.catalog.finishBuild(
                buildID: build.id, workerID: "w1", result: .success(fileCount: 3, bytes: 300), activate: true)
            #expect(finished.status == .success && finished.leaseOwner == nil)
            #expect(activation == .activated(previous: nil))
            // Another process sees both at once: there is no moment when the
            // success is recorded and not live.
            #expect(try await other.build(id: build.id) == finished)
            #expect(try await other.site(id: site.id).activeBuildID == build.id)
            // The notification did not wait for a separate activation.
            #expect(try await f.notification(of: finished).nextAttemptAt == f.clock.now)
            // Nothing was left for the sweep to rescue.
            #expect(try await f.catalog.sweepExpiredLeases().isEmpty)

            let sentinel = CatalogEvent.siteDeleted(site)
            f.bus.publish(sentinel)
            #expect(
                await drain(&events, until: sentinel) == [
                    .value(.buildChanged(finished)),
                    .value(
                        .activated(Activation(siteID: site.id, buildID: build.id, buildNumber: 1, previousBuildID: nil))
                    ),
                ]
            )
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func finishingWithActivationActivatesNoFailureAndNeverMovesBack(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let broken = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            let failed = try await f.catalog.finishBuild(
                buildID: broken.id, workerID: "w1", result: .failure(message: "exit 1", retryable: false),
                activate: true)
            #expect(failed.build.status == .failed && failed.activation == nil)
            #expect(try await f.catalog.site(id: site.id).activeBuildID == nil)

            // Build #2 loses its worker and is retried; #3 goes live meanwhile.
            let older = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w2"))
            f.clock.advance(by: f.settings.leaseDuration)
            #expect(try await f.catalog.sweepExpiredLeases().requeued.map(\.id) == [older.id])
            let newer = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            #expect(try await f.catalog.claimNextBuild(workerID: "w3")?.id == newer.id)
            let live = try await f.catalog.finishBuild(
                buildID: newer.id, workerID: "w3", result: .success(fileCount: 1, bytes: 1), activate: true)
            #expect(live.activation == .activated(previous: nil))

            // The retried older build succeeds late: it stays a success and is not served.
            f.clock.advance(by: f.settings.backoffCap)
            #expect(try await f.catalog.claimNextBuild(workerID: "w4")?.id == older.id)
            let late = try await f.catalog.finishBuild(
                buildID: older.id, workerID: "w4", result: .success(fileCount: 1, bytes: 1), activate: true)
            #expect(late.build.status == .success)
            #expect(late.activation == .skippedOlder(active: newer.id))
            #expect(try await f.catalog.site(id: site.id).activeBuildID == newer.id)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func theSweepActivatesAFirstSuccessAWorkerNeverActivated(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            // The worker recorded success, then vanished before activating.
            let site = try await f.makeSite("blog")
            _ = try await f.makeSuccessfulBuild(of: site)
            let latest = try await f.makeSuccessfulBuild(of: site)
            let report = try await f.catalog.sweepExpiredLeases()
            #expect(report.activated.map(\.id) == [latest.id])
            #expect(try await f.catalog.site(id: site.id).activeBuildID == latest.id)
            #expect(try await f.catalog.sweepExpiredLeases().isEmpty)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func theSweepLeavesARolledBackSiteAlone(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let older = try await f.makeSuccessfulBuild(of: site)
            let newer = try await f.makeSuccessfulBuild(of: site)
            _ = try await f.catalog.activate(siteID: site.id, buildID: newer.id, allowOlder: false)
            _ = try await f.catalog.activate(siteID: site.id, buildID: older.id, allowOlder: true)
            #expect(try await f.catalog.sweepExpiredLeases().activated.isEmpty)
            #expect(try await f.catalog.site(id: site.id).activeBuildID == older.id)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func anOlderBuildFinishingLaterNeverReplacesANewerOne(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let older = try await f.makeSuccessfulBuild(of: site)
            let newer = try await f.makeSuccessfulBuild(of: site)
            // The newer build is activated first, as when it finishes first.
            _ = try await f.catalog.activate(siteID: site.id, buildID: newer.id, allowOlder: false)
            let outcome = try await f.catalog.activate(siteID: site.id, buildID: older.id, allowOlder: false)
            #expect(outcome == .skippedOlder(active: newer.id))
            #expect(try await f.catalog.site(id: site.id).activeBuildID == newer.id)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func rollbackActivatesAnOlderBuildOnlyWhenAskedExplicitly(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let older = try await f.makeSuccessfulBuild(of: site)
            let newer = try await f.makeSuccessfulBuild(of: site)
            _ = try await f.catalog.activate(siteID: site.id, buildID: newer.id, allowOlder: false)
            #expect(
                try await f.catalog.activate(siteID: site.id, buildID: older.id, allowOlder: true)
                    == .activated(previous: newer.id))
            #expect(try await f.catalog.site(id: site.id).activeBuildID == older.id)
            // Moving forward again needs no permission.
            #expect(
                try await f.catalog.activate(siteID: site.id, buildID: newer.id, allowOlder: false)
                    == .activated(previous: older.id))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func activatingAFailedRunningOrForeignBuildIsRefusedWithNothingChanged(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let other = try await f.makeSite("shop")
            let good = try await f.makeSuccessfulBuild(of: site)
            _ = try await f.catalog.activate(siteID: site.id, buildID: good.id, allowOlder: false)
            let failed = try await f.makeFailedBuild(of: site)
            let foreign = try await f.makeSuccessfulBuild(of: other)
            let running = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            let queued = try await f.catalog.createBuild(siteID: site.id, BuildRequest())

            for (build, hint) in [
                (failed, "failed"), (running, "building"), (queued, "queued"), (foreign, "another deployment"),
            ] {
                let error = await catalogError {
                    try await f.catalog.activate(siteID: site.id, buildID: build.id, allowOlder: true)
                }
                #expect(error?.code == .notActivatable)
                #expect(error?.message.contains(hint) == true, "\(error?.message ?? "")")
            }
            let unknownSite = await catalogError {
                try await f.catalog.activate(siteID: SiteID.generate(), buildID: good.id, allowOlder: false)
            }
            #expect(unknownSite?.code == .siteNotFound)
            #expect(try await f.catalog.site(id: site.id).activeBuildID == good.id)
            #expect(try await f.catalog.site(id: other.id).activeBuildID == nil)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func concurrentActivationsLeaveTheSitePointingAtTheNewestBuild(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            var builds: [Build] = []
            for _ in 1...12 { builds.append(try await f.makeSuccessfulBuild(of: site)) }
            var events = await f.subscribe()
            let handles = [f.catalog, try await f.openAnother()]

            let outcomes = try await withThrowingTaskGroup(of: ActivationOutcome.self) { group in
                for (index, build) in builds.shuffled().enumerated() {
                    let handle = handles[index % 2]
                    group.addTask { try await handle.activate(siteID: site.id, buildID: build.id, allowOlder: false) }
                }
                var all: [ActivationOutcome] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            let newest = try #require(builds.last)
            #expect(try await f.catalog.site(id: site.id).activeBuildID == newest.id)
            #expect(outcomes.count == builds.count)

            // Every activation that happened moved the site forward; the last was the newest.
            let sentinel = CatalogEvent.siteDeleted(site)
            f.bus.publish(sentinel)
            let activated = await drain(&events, until: sentinel).compactMap { element -> Activation? in
                if case .value(.activated(let activation)) = element { return activation }
                return nil
            }
            #expect(activated.count == outcomes.filter { if case .activated = $0 { true } else { false } }.count)
            #expect(activated.map(\.buildNumber) == activated.map(\.buildNumber).sorted())
            #expect(activated.last?.buildID == newest.id)
        }
    }
}
