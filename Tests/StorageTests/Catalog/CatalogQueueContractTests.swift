import Foundation
import Model
import Testing

@testable import Storage

/// Claims, leases, retries and the sweep: the queue half of the catalog contract.
@Suite struct CatalogQueueContractTests {
    @Test(arguments: CatalogUnderTest.all)
    func claimTakesTheHighestPriorityThenTheOldestBuild(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            var sites: [Site] = []
            for slug in ["a", "b", "c", "d"] { sites.append(try await f.makeSite(slug)) }
            let oldLow = try await f.catalog.createBuild(siteID: sites[0].id, BuildRequest(priority: 0))
            f.clock.advance(by: .seconds(1))
            let high = try await f.catalog.createBuild(siteID: sites[1].id, BuildRequest(priority: 5))
            f.clock.advance(by: .seconds(1))
            let newLow = try await f.catalog.createBuild(siteID: sites[2].id, BuildRequest(priority: 0))
            let negative = try await f.catalog.createBuild(siteID: sites[3].id, BuildRequest(priority: -1))

            var order: [BuildID] = []
            while let build = try await f.catalog.claimNextBuild(workerID: "w1") { order.append(build.id) }
            #expect(order == [high.id, oldLow.id, newLow.id, negative.id])
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func claimLeasesTheBuildToTheWorker(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            f.clock.advance(by: .seconds(2))
            let claimed = try #require(try await f.catalog.claimNextBuild(workerID: "w1", leaseDuration: .seconds(45)))
            #expect(claimed.id == build.id)
            #expect(claimed.status == .building)
            #expect(claimed.startedAt == f.clock.now)
            #expect(claimed.leaseOwner == "w1")
            #expect(claimed.leaseExpiresAt == f.clock.now.addingTimeInterval(45))
            #expect(try await f.catalog.build(id: build.id) == claimed)

            f.clock.advance(by: .seconds(20))
            let renewed = try await f.catalog.renewLease(buildID: build.id, workerID: "w1")
            #expect(renewed.leaseExpiresAt == f.clock.now.addingTimeInterval(30))
            // The renewed lease outlives the original expiry: the sweep leaves it alone.
            f.clock.advance(by: .seconds(29))
            #expect(try await f.catalog.sweepExpiredLeases().isEmpty)
            #expect(try await f.catalog.build(id: build.id).status == .building)

            let commit = try await f.catalog.recordCommit(
                buildID: build.id, workerID: "w1", sha: "0123456789abcdef0123456789abcdef01234567",
                message: "Add page\nbody"
            )
            #expect(
                commit.commitSHA == "0123456789abcdef0123456789abcdef01234567" && commit.commitMessage == "Add page")
            let done = try await f.catalog.finishBuild(
                buildID: build.id, workerID: "w1", result: .success(fileCount: 12, bytes: 3456))
            #expect(done.status == .success)
            #expect(done.finishedAt == f.clock.now)
            #expect(done.fileCount == 12 && done.bytes == 3456)
            #expect(done.leaseOwner == nil && done.leaseExpiresAt == nil && done.error == nil)
            #expect(done.attempt == 1)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func twoClaimersRacingForOneBuildExactlyOneGetsIt(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            // Two handles on one database, as two processes would have.
            let handles = [f.catalog, try await f.openAnother()]
            let winners = try await withThrowingTaskGroup(of: Build?.self) { group in
                for index in 0..<16 {
                    let handle = handles[index % 2]
                    group.addTask { try await handle.claimNextBuild(workerID: "w\(index)") }
                }
                var claimed: [Build] = []
                for try await result in group { if let result { claimed.append(result) } }
                return claimed
            }
            #expect(winners.count == 1)
            #expect(winners.first?.id == build.id)
            let stored = try await f.catalog.build(id: build.id)
            #expect(stored.leaseOwner == winners.first?.leaseOwner)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func manyClaimersOnTwoHandlesClaimEveryBuildExactlyOnce(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            var created: Set<BuildID> = []
            for index in 0..<12 {
                let site = try await f.makeSite("site-\(index)")
                created.insert(try await f.catalog.createBuild(siteID: site.id, BuildRequest()).id)
            }
            let handles = [f.catalog, try await f.openAnother()]
            let claimed = try await withThrowingTaskGroup(of: [BuildID].self) { group in
                for worker in 0..<6 {
                    let handle = handles[worker % 2]
                    group.addTask {
                        var mine: [BuildID] = []
                        while let build = try await handle.claimNextBuild(workerID: "w\(worker)") {
                            mine.append(build.id)
                        }
                        return mine
                    }
                }
                var all: [BuildID] = []
                for try await ids in group { all += ids }
                return all
            }
            #expect(claimed.count == created.count)
            #expect(Set(claimed) == created)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func onlyOneBuildOfASiteRunsAtATime(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let blog = try await f.makeSite("blog")
            let shop = try await f.makeSite("shop")
            let first = try await f.catalog.createBuild(siteID: blog.id, BuildRequest())
            let second = try await f.catalog.createBuild(siteID: blog.id, BuildRequest(priority: 9))
            let other = try await f.catalog.createBuild(siteID: shop.id, BuildRequest())

            let a = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            #expect(a.id == second.id)
            // blog is busy: its other build waits even though it is older than shop'.
            let b = try #require(try await f.catalog.claimNextBuild(workerID: "w2"))
            #expect(b.id == other.id)
            #expect(try await f.catalog.claimNextBuild(workerID: "w3") == nil)

            _ = try await f.catalog.finishBuild(
                buildID: a.id, workerID: "w1", result: .failure(message: "exit 1", retryable: false))
            let c = try #require(try await f.catalog.claimNextBuild(workerID: "w3"))
            #expect(c.id == first.id)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func anExpiredLeaseIsReclaimedAndTheAttemptCounted(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))

            f.clock.advance(by: .seconds(29))
            #expect(try await f.catalog.sweepExpiredLeases().isEmpty)
            f.clock.advance(by: .seconds(1))
            let report = try await f.catalog.sweepExpiredLeases()
            let requeued = try #require(report.requeued.first)
            #expect(report.requeued.count == 1 && report.failed.isEmpty)
            #expect(requeued.id == build.id)
            #expect(requeued.status == .queued)
            #expect(requeued.attempt == 2)
            #expect(requeued.leaseOwner == nil && requeued.startedAt == nil)
            #expect(requeued.notBefore == f.clock.now.addingTimeInterval(5))
            #expect(requeued.error?.contains("w1") == true)
            #expect(try await f.catalog.build(id: build.id) == requeued)

            // Not before the backoff delay, which idle workers can ask for.
            #expect(try await f.catalog.claimNextBuild(workerID: "w2") == nil)
            #expect(try await f.catalog.nextQueuedBuildDelay() == .seconds(5))
            f.clock.advance(by: .seconds(2))
            #expect(try await f.catalog.nextQueuedBuildDelay() == .seconds(3))
            f.clock.advance(by: .seconds(3))
            #expect(try await f.catalog.nextQueuedBuildDelay() == nil, "claimable now: no delay left to wait for")
            let reclaimed = try #require(try await f.catalog.claimNextBuild(workerID: "w2"))
            #expect(reclaimed.id == build.id && reclaimed.attempt == 2 && reclaimed.leaseOwner == "w2")

            // The first worker has lost it, whatever it tries.
            let renew = await catalogError { try await f.catalog.renewLease(buildID: build.id, workerID: "w1") }
            #expect(renew?.code == .leaseLost)
            #expect(renew?.message.contains("w2") == true)
            let finish = await catalogError {
                try await f.catalog.finishBuild(
                    buildID: build.id, workerID: "w1", result: .success(fileCount: 1, bytes: 1))
            }
            #expect(finish?.code == .leaseLost)
            #expect(try await f.catalog.build(id: build.id) == reclaimed)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aBuildFailsWithItsReasonOnceEveryAttemptLostItsLease(_ implementation: CatalogUnderTest) async throws {
        let settings = QueueSettings(
            maxAttempts: 3, leaseDuration: .seconds(10), backoffBase: .seconds(4), backoffCap: .seconds(6))
        try await implementation.withFixture(settings: settings) { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            var delays: [TimeInterval] = []
            for attempt in 1...3 {
                let claimed = try #require(try await f.catalog.claimNextBuild(workerID: "w\(attempt)"))
                #expect(claimed.attempt == attempt)
                f.clock.advance(by: .seconds(10))
                let report = try await f.catalog.sweepExpiredLeases()
                if let requeued = report.requeued.first {
                    delays.append(requeued.notBefore.timeIntervalSince(f.clock.now))
                    f.clock.advance(by: .seconds(6))
                } else {
                    let failed = try #require(report.failed.first)
                    #expect(attempt == 3)
                    #expect(failed.status == .failed)
                    #expect(failed.finishedAt == f.clock.now)
                    #expect(failed.error?.contains("3 attempts") == true)
                    #expect(failed.error?.contains("w3") == true)
                }
            }
            // Capped exponential backoff: 4 s, then min(8 s, 6 s).
            #expect(delays == [4, 6])
            let final = try await f.catalog.build(id: build.id)
            #expect(final.status == .failed && final.attempt == 3 && final.leaseOwner == nil)
            #expect(try await f.catalog.claimNextBuild(workerID: "w4") == nil)
            #expect(try await f.catalog.stats().running == 0)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aRetryableFailureIsRetriedAfterBackoffAndAFailingCommandFailsAtOnce(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture(settings: QueueSettings(maxAttempts: 2)) { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            let retried = try await f.catalog.finishBuild(
                buildID: build.id, workerID: "w1",
                result: .failure(message: "object store answered 503", retryable: true)
            )
            #expect(retried.status == .queued && retried.attempt == 2)
            #expect(retried.notBefore == f.clock.now.addingTimeInterval(5))
            #expect(retried.error?.contains("503") == true)
            f.clock.advance(by: .seconds(5))
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            let exhausted = try await f.catalog.finishBuild(
                buildID: build.id, workerID: "w1",
                result: .failure(message: "object store answered 503", retryable: true)
            )
            #expect(exhausted.status == .failed && exhausted.attempt == 2)
            #expect(exhausted.error?.contains("gave up after 2 attempts") == true)

            let other = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            let failed = try await f.catalog.finishBuild(
                buildID: other.id, workerID: "w1",
                result: .failure(message: "npm run build exited with 1", retryable: false)
            )
            #expect(failed.status == .failed && failed.attempt == 1)
            #expect(failed.error == "npm run build exited with 1")
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func releaseGivesTheBuildBackWithoutCountingAnAttempt(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            let other = await catalogError { try await f.catalog.releaseBuild(buildID: build.id, workerID: "w2") }
            #expect(other?.code == .leaseLost)
            let released = try await f.catalog.releaseBuild(buildID: build.id, workerID: "w1")
            #expect(
                released.status == .queued && released.attempt == 1 && released.leaseOwner == nil
                    && released.startedAt == nil)
            let again = try #require(try await f.catalog.claimNextBuild(workerID: "w2"))
            #expect(again.id == build.id && again.attempt == 1)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func renewAfterCancelFailsAndTheSiteIsFreedOnceTheWorkerLetsGo(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            let next = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))

            let canceled = try await f.catalog.cancelBuild(id: build.id)
            #expect(canceled.status == .canceled && canceled.finishedAt == f.clock.now)
            // The canceled build's worker may still be running it: the site stays busy.
            #expect(try await f.catalog.claimNextBuild(workerID: "w2") == nil)

            let renew = await catalogError { try await f.catalog.renewLease(buildID: build.id, workerID: "w1") }
            #expect(renew?.code == .buildCanceled)
            #expect(renew?.message.contains("canceled") == true)
            #expect(try await f.catalog.build(id: build.id).leaseOwner == nil)
            let finish = await catalogError {
                try await f.catalog.finishBuild(
                    buildID: build.id, workerID: "w1", result: .success(fileCount: 1, bytes: 1))
            }
            #expect(finish?.code == .buildCanceled)
            #expect(try await f.catalog.build(id: build.id).status == .canceled)

            let claimed = try #require(try await f.catalog.claimNextBuild(workerID: "w2"))
            #expect(claimed.id == next.id)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aCanceledBuildWhoseWorkerVanishedFreesItsSiteWhenTheLeaseExpires(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            let next = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            _ = try await f.catalog.cancelBuild(id: build.id)
            #expect(try await f.catalog.claimNextBuild(workerID: "w2") == nil)
            f.clock.advance(by: .seconds(30))
            let report = try await f.catalog.sweepExpiredLeases()
            #expect(report.releasedCanceled.map(\.id) == [build.id])
            #expect(report.requeued.isEmpty && report.failed.isEmpty)
            let after = try await f.catalog.build(id: build.id)
            #expect(after.status == .canceled && after.leaseOwner == nil && after.attempt == 1)
            #expect(try await f.catalog.claimNextBuild(workerID: "w2")?.id == next.id)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func closingTheDatabaseMidBuildAndReopeningLeavesNothingStuckAfterTheSweep(_ implementation: CatalogUnderTest)
        async throws
    {
        let settings = QueueSettings(maxAttempts: 2, leaseDuration: .seconds(30))
        try await implementation.withFixture(settings: settings) { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            // The process dies: the database is closed without the build finishing.
            try await f.catalog.close()
            #expect(await catalogError { try await f.catalog.build(id: build.id) }?.code == .closed)

            let restarted = try await f.openAnother()
            #expect(try await restarted.build(id: build.id).status == .building)
            #expect(try await restarted.sweepExpiredLeases().isEmpty)
            f.clock.advance(by: .seconds(31))
            let first = try await restarted.sweepExpiredLeases()
            #expect(first.requeued.map(\.id) == [build.id])
            f.clock.advance(by: .seconds(5))
            let second = try #require(try await restarted.claimNextBuild(workerID: "w2"))
            #expect(second.attempt == 2)
            try await restarted.close()

            let again = try await f.openAnother()
            f.clock.advance(by: .seconds(31))
            let last = try await again.sweepExpiredLeases()
            #expect(last.failed.map(\.id) == [build.id])
            let final = try await again.build(id: build.id)
            #expect(final.status == .failed)
            #expect(final.error?.contains("w2") == true)
            let stats = try await again.stats()
            #expect(stats.running == 0 && stats.queueDepth == 0)
            #expect(try await again.sweepExpiredLeases().isEmpty)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func workerCallsAreValidated(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            #expect(await catalogError { try await f.catalog.claimNextBuild(workerID: "") }?.code == .invalidInput)
            #expect(
                await catalogError { try await f.catalog.claimNextBuild(workerID: "w1", leaseDuration: .zero) }?.code
                    == .invalidInput)
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            #expect(
                await catalogError {
                    try await f.catalog.recordCommit(buildID: build.id, workerID: "w1", sha: "xyz", message: nil)
                }?.code == .invalidInput)
            let negative = await catalogError {
                try await f.catalog.finishBuild(
                    buildID: build.id, workerID: "w1", result: .success(fileCount: -1, bytes: 0))
            }
            #expect(negative?.code == .invalidInput)
            #expect(try await f.catalog.build(id: build.id).status == .building)
        }
    }
}
