import Foundation
import Model
import Testing

@testable import Storage

/// Builds, cancel, deletion, retention and stats: the catalog contract.
@Suite struct CatalogBuildContractTests {
    @Test(arguments: CatalogUnderTest.all)
    func newBuildIsQueuedWithTheNextNumberOfItsSite(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let blog = try await f.makeSite("blog")
            let shop = try await f.makeSite("shop")
            let first = try await f.catalog.createBuild(
                siteID: blog.id,
                BuildRequest(
                    priority: 2, trigger: "push", commitSHA: "ABCDEF1234567", commitMessage: "Fix header\n\nLong body")
            )
            #expect(first.number == 1)
            #expect(first.status == .queued)
            #expect(first.attempt == 1)
            #expect(first.priority == 2)
            #expect(first.trigger == "push")
            #expect(first.commitSHA == "abcdef1234567")
            #expect(first.commitMessage == "Fix header")
            #expect(first.queuedAt == f.clock.now && first.notBefore == f.clock.now)
            #expect(first.startedAt == nil && first.finishedAt == nil && first.leaseOwner == nil && first.error == nil)
            #expect(first.artifactPrefix == "sites/\(blog.id)/\(first.id)/")
            #expect(first.logKey == "logs/\(blog.id)/\(first.id).log")
            #expect(first.manifestKey == "manifests/\(blog.id)/\(first.id).json")
            #expect(try await f.catalog.createBuild(siteID: blog.id, BuildRequest()).number == 2)
            #expect(try await f.catalog.createBuild(siteID: shop.id, BuildRequest()).number == 1)
            #expect(try await f.catalog.build(id: first.id) == first)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func buildNumbersKeepGrowingAfterDeletion(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let one = try await f.makeFailedBuild(of: site)
            let two = try await f.makeFailedBuild(of: site)
            #expect(try await f.catalog.deleteBuild(id: two.id).id == two.id)
            #expect(try await f.catalog.deleteBuild(id: one.id).id == one.id)
            #expect(await catalogError { try await f.catalog.build(id: two.id) }?.code == .buildNotFound)
            let three = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            #expect(three.number == 3)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func buildsAreListedNewestFirstPageByPage(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let other = try await f.makeSite("shop")
            for _ in 1...7 {
                _ = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
                _ = try await f.catalog.createBuild(siteID: other.id, BuildRequest())
            }
            var numbers: [[Int]] = []
            var before: Int? = nil
            repeat {
                let page = try await f.catalog.builds(siteID: site.id, limit: 3, before: before)
                #expect(page.builds.allSatisfy { $0.siteID == site.id })
                numbers.append(page.builds.map(\.number))
                before = page.nextBefore
            } while before != nil
            #expect(numbers == [[7, 6, 5], [4, 3, 2], [1]])
            let exact = try await f.catalog.builds(siteID: site.id, limit: 7, before: nil)
            #expect(exact.builds.count == 7 && exact.nextBefore == nil)
            for limit in [0, -1, 201] {
                #expect(
                    await catalogError { try await f.catalog.builds(siteID: site.id, limit: limit, before: nil) }?.code
                        == .invalidInput)
            }
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func malformedBuildRequestsAreRefused(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            for request in [
                BuildRequest(commitSHA: "not-a-sha"),
                BuildRequest(commitSHA: String(repeating: "a", count: 65)),
                BuildRequest(trigger: String(repeating: "t", count: BuildRequest.maxTriggerLength + 1)),
                BuildRequest(trigger: "line\nbreak"),
            ] {
                let error = await catalogError { try await f.catalog.createBuild(siteID: site.id, request) }
                #expect(error?.code == .invalidInput)
            }
            #expect(try await f.catalog.builds(siteID: site.id).builds.isEmpty)
            // Nothing was numbered either.
            #expect(try await f.catalog.createBuild(siteID: site.id, BuildRequest()).number == 1)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func cancelingAQueuedBuildIsImmediateAndFinal(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            f.clock.advance(by: .seconds(3))
            let canceled = try await f.catalog.cancelBuild(id: build.id)
            #expect(canceled.status == .canceled)
            #expect(canceled.finishedAt == f.clock.now)
            #expect(try await f.catalog.claimNextBuild(workerID: "w1") == nil)
            let again = await catalogError { try await f.catalog.cancelBuild(id: build.id) }
            #expect(again?.code == .illegalTransition)
            #expect(again?.message.contains("canceled") == true)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func illegalTransitionsAreRefusedWithNothingChanged(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let succeeded = try await f.makeSuccessfulBuild(of: site, worker: "w1")
            let failed = try await f.makeFailedBuild(of: site, worker: "w1")
            let queued = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            let refusals: [(CatalogError.Code, @Sendable () async throws -> Build)] = [
                (.illegalTransition, { try await f.catalog.cancelBuild(id: succeeded.id) }),
                (.illegalTransition, { try await f.catalog.cancelBuild(id: failed.id) }),
                (
                    .illegalTransition,
                    {
                        try await f.catalog.finishBuild(
                            buildID: succeeded.id, workerID: "w1", result: .success(fileCount: 1, bytes: 1))
                    }
                ),
                (
                    .illegalTransition,
                    {
                        try await f.catalog.finishBuild(
                            buildID: failed.id, workerID: "w1", result: .success(fileCount: 1, bytes: 1))
                    }
                ),
                (.illegalTransition, { try await f.catalog.releaseBuild(buildID: succeeded.id, workerID: "w1") }),
                (.illegalTransition, { try await f.catalog.renewLease(buildID: failed.id, workerID: "w1") }),
                // A queued build is nobody's: finishing or renewing it is a lost lease.
                (
                    .leaseLost,
                    {
                        try await f.catalog.finishBuild(
                            buildID: queued.id, workerID: "w1", result: .success(fileCount: 1, bytes: 1))
                    }
                ),
                (.leaseLost, { try await f.catalog.renewLease(buildID: queued.id, workerID: "w1") }),
                (.buildInUse, { try await f.catalog.deleteBuild(id: queued.id) }),
            ]
            for (code, attempt) in refusals {
                let error = await catalogError { try await attempt() }
                #expect(error?.code == code, "\(error?.message ?? "")")
                #expect(error?.httpStatus == 409)
            }
            #expect(try await f.catalog.build(id: succeeded.id) == succeeded)
            #expect(try await f.catalog.build(id: failed.id) == failed)
            #expect(try await f.catalog.build(id: queued.id) == queued)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func unknownBuildIdsAreTypedNotFoundErrors(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let unknown = BuildID.generate()
            for error in [
                await catalogError { try await f.catalog.build(id: unknown) },
                await catalogError { try await f.catalog.cancelBuild(id: unknown) },
                await catalogError { try await f.catalog.deleteBuild(id: unknown) },
                await catalogError { try await f.catalog.renewLease(buildID: unknown, workerID: "w1") },
                await catalogError {
                    try await f.catalog.activate(siteID: site.id, buildID: unknown, allowOlder: false)
                },
            ] {
                #expect(error?.code == .buildNotFound)
                #expect(error?.message.contains(unknown.rawValue) == true)
            }
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func queueFullIsATypedErrorAndAcceptedBuildsAreKept(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture(settings: QueueSettings(maxQueued: 3)) { f in
            let site = try await f.makeSite("blog")
            for _ in 1...3 { _ = try await f.catalog.createBuild(siteID: site.id, BuildRequest()) }
            let error = await catalogError { try await f.catalog.createBuild(siteID: site.id, BuildRequest()) }
            #expect(error?.code == .queueFull)
            #expect(error?.code.rawValue == "queue_full")
            #expect(error?.httpStatus == 429)
            #expect(error?.message.contains("3") == true)
            #expect(try await f.catalog.builds(siteID: site.id).builds.map(\.number) == [3, 2, 1])
            // A claimed build leaves room; giving it back is never refused.
            let claimed = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            let fourth = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            #expect(fourth.number == 4)
            #expect(try await f.catalog.releaseBuild(buildID: claimed.id, workerID: "w1").status == .queued)
            #expect(try await f.catalog.stats().queueDepth == 4)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func retentionNeverOffersTheActiveBuildAndKeepsTheLastSuccesses(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            var successes: [Build] = []
            for _ in 1...4 { successes.append(try await f.makeSuccessfulBuild(of: site)) }
            let failed = try await f.makeFailedBuild(of: site)
            let queued = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            // Roll back to the oldest success: it is active, and older than every kept one.
            _ = try await f.catalog.activate(siteID: site.id, buildID: successes[0].id, allowOlder: true)

            let keepTwo = try await f.catalog.deletableBuilds(siteID: site.id, keepSuccesses: 2)
            #expect(keepTwo.map(\.number) == [2, 5])
            let keepNone = try await f.catalog.deletableBuilds(siteID: site.id, keepSuccesses: 0)
            #expect(keepNone.map(\.number) == [2, 3, 4, 5])
            #expect(!keepNone.contains { $0.id == successes[0].id || $0.id == queued.id })
            #expect(keepNone.contains { $0.id == failed.id })
            #expect(
                await catalogError { try await f.catalog.deletableBuilds(siteID: site.id, keepSuccesses: -1) }?.code
                    == .invalidInput)

            let active = await catalogError { try await f.catalog.deleteBuild(id: successes[0].id) }
            #expect(active?.code == .buildInUse)
            #expect(active?.message.contains("active") == true)
            for build in keepNone { _ = try await f.catalog.deleteBuild(id: build.id) }
            #expect(try await f.catalog.deletableBuilds(siteID: site.id, keepSuccesses: 0).isEmpty)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func statsCountBuildsByStatusAndAgeTheOldestQueued(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let empty = try await f.catalog.stats()
            #expect(empty.queueDepth == 0 && empty.running == 0 && empty.oldestQueuedAge == nil)
            #expect(empty.countsByStatus == [.queued: 0, .building: 0, .success: 0, .failed: 0, .canceled: 0])

            let blog = try await f.makeSite("blog")
            let shop = try await f.makeSite("shop")
            try await f.makeSuccessfulBuild(of: blog)
            try await f.makeFailedBuild(of: blog)
            _ = try await f.catalog.createBuild(siteID: blog.id, BuildRequest())
            f.clock.advance(by: .seconds(10))
            _ = try await f.catalog.createBuild(siteID: shop.id, BuildRequest())
            let toCancel = try await f.catalog.createBuild(siteID: shop.id, BuildRequest())
            _ = try await f.catalog.cancelBuild(id: toCancel.id)
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            f.clock.advance(by: .seconds(5))

            let stats = try await f.catalog.stats()
            #expect(stats.countsByStatus == [.queued: 1, .building: 1, .success: 1, .failed: 1, .canceled: 1])
            #expect(stats.queueDepth == 1)
            #expect(stats.running == 1)
            #expect(stats.oldestQueuedAge == .seconds(5))
        }
    }
}
