import Foundation
import Model
import Testing

@testable import Storage

extension CatalogFixture {
    static let receiver = "https://hooks.example.com/slipway?token=abc"

    @discardableResult
    func makeNotifiedSite(_ slug: String, url: String = CatalogFixture.receiver) async throws -> Site {
        try await catalog.createSite(
            SiteDraft(slug: slug, repoURL: "https://github.com/acme/\(slug).git", notifyURL: url))
    }

    /// The build's one notification; records an issue when there is not exactly one.
    func notification(of build: Build, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> NotificationDelivery
    {
        let all = try await catalog.notifications(buildID: build.id)
        #expect(all.count == 1, "build #\(build.number) has \(all.count) notifications", sourceLocation: sourceLocation)
        return try #require(all.first, sourceLocation: sourceLocation)
    }

    /// Claims the one due notification as `owner`.
    func claimNotification(_ owner: String = "sender-1", sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> NotificationDelivery
    {
        let claimed = try await catalog.claimNotification(owner: owner, leaseDuration: .seconds(60))
        return try #require(claimed, "nothing was due", sourceLocation: sourceLocation).delivery
    }
}

/// The outbox of build notifications: the catalog contract.
@Suite struct CatalogNotificationContractTests {
    @Test(arguments: CatalogUnderTest.all)
    func aBuildThatFailsIsNotifiedOfOnceAsItEnded(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let failed = try await f.makeFailedBuild(of: site)
            let notification = try await f.notification(of: failed)
            #expect(notification.siteID == site.id && notification.buildID == failed.id)
            #expect(notification.event == "build.finished")
            #expect(notification.url == CatalogFixture.receiver)
            #expect(notification.build == failed)
            #expect(notification.state == .pending && notification.attempts == 0)
            #expect(notification.createdAt == f.clock.now && notification.nextAttemptAt == f.clock.now)
            #expect(notification.leaseOwner == nil && notification.lastError == nil && notification.finishedAt == nil)
            #expect(notification.id.count == 26)
            #expect(try await f.catalog.nextNotificationDue() == f.clock.now)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func onlyTheAttemptThatEndsABuildWritesItsNotification(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture(settings: QueueSettings(maxAttempts: 2)) { f in
            let site = try await f.makeNotifiedSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            // A retryable failure with attempts left queues the build again: it has not ended.
            let retried = try await f.catalog.finishBuild(
                buildID: build.id, workerID: "w1", result: .failure(message: "the registry timed out", retryable: true))
            #expect(retried.status == .queued)
            #expect(try await f.catalog.notifications(buildID: build.id).isEmpty)
            // A release (shutdown) does not end it either.
            f.clock.advance(by: .seconds(60))
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w2"))
            _ = try await f.catalog.releaseBuild(buildID: build.id, workerID: "w2")
            #expect(try await f.catalog.notifications(buildID: build.id).isEmpty)
            // The last attempt's failure does.
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w3"))
            let failed = try await f.catalog.finishBuild(
                buildID: build.id, workerID: "w3", result: .failure(message: "the registry timed out", retryable: true))
            #expect(failed.status == .failed)
            #expect(try await f.notification(of: build).build == failed)
            // A result the catalog refuses (the build already ended) writes nothing more.
            #expect(
                await catalogError {
                    try await f.catalog.finishBuild(
                        buildID: build.id, workerID: "w3", result: .success(fileCount: 1, bytes: 1))
                }?.code == .illegalTransition)
            #expect(try await f.catalog.notifications(buildID: build.id).count == 1)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func canceledBuildsQueuedOrRunningAreNotifiedOfOnce(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let running = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w1"))
            let waiting = try await f.catalog.createBuild(siteID: site.id, BuildRequest())

            let canceledWaiting = try await f.catalog.cancelBuild(id: waiting.id)
            #expect(try await f.notification(of: waiting).build == canceledWaiting)
            let canceledRunning = try await f.catalog.cancelBuild(id: running.id)
            #expect(try await f.notification(of: running).build.status == .canceled)
            #expect(canceledRunning.leaseOwner == "w1")
            // The worker's acknowledgement, and the sweep releasing a vanished worker's build, add nothing.
            #expect(
                await catalogError { try await f.catalog.renewLease(buildID: running.id, workerID: "w1") }?.code
                    == .buildCanceled)
            f.clock.advance(by: .seconds(120))
            _ = try await f.catalog.sweepExpiredLeases()
            #expect(try await f.catalog.notifications(buildID: running.id).count == 1)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func theSweepGivingUpOnABuildNotifiesOfItsFailure(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture(settings: QueueSettings(maxAttempts: 1, leaseDuration: .seconds(10))) {
            f in
            let site = try await f.makeNotifiedSite("blog")
            let build = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            _ = try #require(try await f.catalog.claimNextBuild(workerID: "w-crashed"))
            f.clock.advance(by: .seconds(11))
            let report = try await f.catalog.sweepExpiredLeases()
            #expect(report.failed.map(\.id) == [build.id])
            let notification = try await f.notification(of: build)
            #expect(notification.build.status == .failed)
            #expect(notification.build.error?.contains("gave up after 1 attempts") == true)
            #expect(notification.nextAttemptAt == f.clock.now)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aSuccessWaitsForItsActivationWhateverItDecides(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let first = try await f.makeSuccessfulBuild(of: site)
            let held = try await f.notification(of: first)
            #expect(held.build == first)
            #expect(held.nextAttemptAt == f.clock.now.addingTimeInterval(60))
            #expect(try await f.catalog.claimNotification(owner: "sender-1", leaseDuration: .seconds(60)) == nil)
            #expect(try await f.catalog.nextNotificationDue() == held.nextAttemptAt)

            f.clock.advance(by: .seconds(2))
            _ = try await f.catalog.activate(siteID: site.id, buildID: first.id, allowOlder: false)
            #expect(try await f.notification(of: first).nextAttemptAt == f.clock.now)
            let claimed = try #require(
                try await f.catalog.claimNotification(owner: "sender-1", leaseDuration: .seconds(60)))
            #expect(claimed.delivery.buildID == first.id)
            // The deployment comes as it is now: live on this build.
            #expect(claimed.site.activeBuildID == first.id && claimed.site.slug == "blog")

            // An older build finishing late is not activated, and is still released at once.
            let older = try await f.makeSuccessfulBuild(of: site)
            let newer = try await f.makeSuccessfulBuild(of: site)
            _ = try await f.catalog.activate(siteID: site.id, buildID: newer.id, allowOlder: false)
            #expect(
                try await f.catalog.activate(siteID: site.id, buildID: older.id, allowOlder: false)
                    == .skippedOlder(active: newer.id))
            #expect(try await f.notification(of: older).nextAttemptAt == f.clock.now)
            #expect(try await f.notification(of: newer).nextAttemptAt == f.clock.now)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aSuccessNobodyActivatesIsNotifiedOfAfterTheWait(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let live = try await f.makeSuccessfulBuild(of: site)
            _ = try await f.catalog.activate(siteID: site.id, buildID: live.id, allowOlder: false)
            let announced = try await f.claimNotification()
            _ = try await f.catalog.completeNotification(
                id: announced.id, owner: "sender-1", result: .delivered(status: 200))
            // The worker dies between recording the success and activating it.
            let stranded = try await f.makeSuccessfulBuild(of: site)
            f.clock.advance(by: .seconds(59))
            #expect(try await f.catalog.claimNotification(owner: "sender-1", leaseDuration: .seconds(60)) == nil)
            f.clock.advance(by: .seconds(1))
            let claimed = try #require(
                try await f.catalog.claimNotification(owner: "sender-1", leaseDuration: .seconds(60)))
            #expect(claimed.delivery.buildID == stranded.id)
            #expect(claimed.site.activeBuildID == live.id)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func theSweepActivatingAStrandedFirstBuildReleasesItsNotification(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let build = try await f.makeSuccessfulBuild(of: site)
            f.clock.advance(by: .seconds(5))
            #expect(try await f.catalog.sweepExpiredLeases().activated.map(\.id) == [build.id])
            #expect(try await f.notification(of: build).nextAttemptAt == f.clock.now)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func sitesWithoutANotifyURLGetNoNotificationsAndRemovingItStopsNewOnes(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let quiet = try await f.makeSite("quiet")
            #expect(quiet.notifyURL == nil)
            let failed = try await f.makeFailedBuild(of: quiet)
            #expect(try await f.catalog.notifications(buildID: failed.id).isEmpty)

            let loud = try await f.makeNotifiedSite("loud")
            let before = try await f.makeFailedBuild(of: loud)
            _ = try await f.catalog.updateSite(id: loud.id) { $0.notifyURL = nil }
            let after = try await f.makeFailedBuild(of: loud)
            #expect(try await f.catalog.notifications(buildID: after.id).isEmpty)
            // A notification already owed keeps the URL it was written with.
            _ = try await f.catalog.updateSite(id: loud.id) { $0.notifyURL = "https://elsewhere.example.com/" }
            #expect(try await f.notification(of: before).url == CatalogFixture.receiver)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aClaimLeasesTheOldestDueNotificationToOneSender(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let first = try await f.makeFailedBuild(of: site)
            f.clock.advance(by: .seconds(1))
            let second = try await f.makeFailedBuild(of: site)

            let claimed = try await f.claimNotification("sender-1")
            #expect(claimed.buildID == first.id)
            #expect(claimed.attempts == 1 && claimed.leaseOwner == "sender-1")
            #expect(
                claimed.leaseExpiresAt == f.clock.now.addingTimeInterval(60) && claimed.lastAttemptAt == f.clock.now)
            #expect(try await f.notification(of: first) == claimed)
            #expect(try await f.claimNotification("sender-2").buildID == second.id)
            #expect(try await f.catalog.claimNotification(owner: "sender-3", leaseDuration: .seconds(60)) == nil)
            // Leased ones fall due again when their lease lapses.
            #expect(try await f.catalog.nextNotificationDue() == claimed.leaseExpiresAt)
            #expect(
                await catalogError { try await f.catalog.claimNotification(owner: "", leaseDuration: .seconds(1)) }?
                    .code == .invalidInput)
            #expect(
                await catalogError { try await f.catalog.claimNotification(owner: "s", leaseDuration: .zero) }?.code
                    == .invalidInput)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func sendersRacingOnTwoHandlesClaimEachNotificationExactlyOnce(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            var owed: Set<String> = []
            for index in 0..<6 {
                let site = try await f.makeNotifiedSite("site-\(index)")
                owed.insert(try await f.notification(of: try await f.makeFailedBuild(of: site)).id)
            }
            let handles = [f.catalog, try await f.openAnother()]
            let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                for sender in 0..<8 {
                    let handle = handles[sender % 2]
                    group.addTask {
                        var mine: [String] = []
                        while let claim = try await handle.claimNotification(
                            owner: "s\(sender)", leaseDuration: .seconds(60))
                        {
                            mine.append(claim.delivery.id)
                        }
                        return mine
                    }
                }
                var all: [String] = []
                for try await ids in group { all += ids }
                return all
            }
            #expect(claimed.count == owed.count)
            #expect(Set(claimed) == owed)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aLapsedLeaseIsClaimedAgainAndItsFormerSenderCannotRecordAResult(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let build = try await f.makeFailedBuild(of: site)
            let first = try await f.claimNotification("sender-crashed")
            f.clock.advance(by: .seconds(59))
            #expect(try await f.catalog.claimNotification(owner: "sender-2", leaseDuration: .seconds(60)) == nil)
            f.clock.advance(by: .seconds(1))
            let second = try await f.claimNotification("sender-2")
            #expect(second.id == first.id && second.attempts == 2 && second.leaseOwner == "sender-2")
            #expect(second.lastError?.contains("sender-crashed") == true)

            let late = await catalogError {
                try await f.catalog.completeNotification(
                    id: first.id, owner: "sender-crashed", result: .delivered(status: 200))
            }
            #expect(late?.code == .leaseLost)
            #expect(late?.message.contains("sender-2") == true)
            let delivered = try await f.catalog.completeNotification(
                id: first.id, owner: "sender-2", result: .delivered(status: 204))
            #expect(delivered.state == .delivered && delivered.lastStatus == 204)
            #expect(try await f.notification(of: build) == delivered)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aRetryRecordsTheAnswerAndWaitsForItsDelay(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let build = try await f.makeFailedBuild(of: site)
            let claimed = try await f.claimNotification()
            let retrying = try await f.catalog.completeNotification(
                id: claimed.id, owner: "sender-1",
                result: .retry(after: .seconds(30), status: 503, error: "the receiver answered 503"))
            #expect(retrying.state == .pending && retrying.attempts == 1)
            #expect(retrying.leaseOwner == nil && retrying.leaseExpiresAt == nil)
            #expect(retrying.lastStatus == 503 && retrying.lastError == "the receiver answered 503")
            #expect(retrying.nextAttemptAt == f.clock.now.addingTimeInterval(30))
            #expect(try await f.notification(of: build) == retrying)
            #expect(try await f.catalog.nextNotificationDue() == retrying.nextAttemptAt)

            f.clock.advance(by: .seconds(29))
            #expect(try await f.catalog.claimNotification(owner: "sender-1", leaseDuration: .seconds(60)) == nil)
            f.clock.advance(by: .seconds(1))
            let again = try await f.claimNotification("sender-2")
            #expect(again.attempts == 2 && again.lastStatus == 503)
            // The lease is over once a result is recorded.
            #expect(
                await catalogError {
                    try await f.catalog.completeNotification(
                        id: claimed.id, owner: "sender-1", result: .delivered(status: 200))
                }?.code == .leaseLost)
            #expect(
                await catalogError {
                    try await f.catalog.completeNotification(
                        id: claimed.id, owner: "sender-2", result: .retry(after: .seconds(-1), status: nil, error: "x"))
                }?.code == .invalidInput)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aGivenUpNotificationIsFinalAndKeepsWhy(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let build = try await f.makeFailedBuild(of: site)
            let claimed = try await f.claimNotification()
            f.clock.advance(by: .seconds(1))
            let gaveUp = try await f.catalog.completeNotification(
                id: claimed.id, owner: "sender-1", result: .gaveUp(status: 410, error: "the receiver answered 410 Gone")
            )
            #expect(gaveUp.state == .gaveUp && gaveUp.finishedAt == f.clock.now)
            #expect(gaveUp.lastStatus == 410 && gaveUp.lastError == "the receiver answered 410 Gone")
            #expect(try await f.notification(of: build) == gaveUp)
            f.clock.advance(by: .seconds(3600))
            #expect(try await f.catalog.claimNotification(owner: "sender-1", leaseDuration: .seconds(60)) == nil)
            #expect(try await f.catalog.nextNotificationDue() == nil)
            #expect(
                await catalogError {
                    try await f.catalog.completeNotification(
                        id: claimed.id, owner: "sender-1", result: .delivered(status: 200))
                }?.code == .leaseLost)
            #expect(
                await catalogError {
                    try await f.catalog.completeNotification(
                        id: "01ja0000000000000000000000", owner: "sender-1", result: .delivered(status: 200))
                }?.code == .notificationNotFound)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func retentionDeletesOnlyFinishedNotificationsPastTheirCutoff(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            var builds: [Build] = []
            for _ in 0..<4 { builds.append(try await f.makeFailedBuild(of: site)) }
            let delivered = try await f.claimNotification()
            _ = try await f.catalog.completeNotification(
                id: delivered.id, owner: "sender-1", result: .delivered(status: 200))
            let gaveUp = try await f.claimNotification()
            _ = try await f.catalog.completeNotification(
                id: gaveUp.id, owner: "sender-1", result: .gaveUp(status: 404, error: "gone"))
            let retrying = try await f.claimNotification()
            _ = try await f.catalog.completeNotification(
                id: retrying.id, owner: "sender-1", result: .retry(after: .seconds(3600), status: 500, error: "down"))
            let finishedAt = f.clock.now
            f.clock.advance(by: .seconds(86_400))

            // Cut-offs at the finish time itself keep everything.
            #expect(try await f.catalog.pruneNotifications(deliveredBefore: finishedAt, gaveUpBefore: finishedAt) == 0)
            // Delivered ones go after their retention; given-up ones are kept longer.
            #expect(try await f.catalog.pruneNotifications(deliveredBefore: f.clock.now, gaveUpBefore: finishedAt) == 1)
            #expect(try await f.catalog.notifications(buildID: delivered.buildID).isEmpty)
            #expect(try await f.catalog.notifications(buildID: gaveUp.buildID).count == 1)
            #expect(
                try await f.catalog.pruneNotifications(deliveredBefore: f.clock.now, gaveUpBefore: f.clock.now) == 1)
            // Pending ones, retrying or never tried, are never pruned.
            #expect(try await f.catalog.notifications(buildID: retrying.buildID).count == 1)
            #expect(try await f.catalog.notifications(buildID: builds[3].id).count == 1)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aDeletedBuildsNotificationKeepsItsBuildAndADeletedSitesGoWithIt(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog")
            let failed = try await f.makeFailedBuild(of: site)
            // Retention may delete a build's row before its notification is sent.
            _ = try await f.catalog.deleteBuild(id: failed.id)
            let claimed = try #require(
                try await f.catalog.claimNotification(owner: "sender-1", leaseDuration: .seconds(60)))
            #expect(claimed.delivery.build == failed)

            let other = try await f.makeNotifiedSite("shop")
            let owed = try await f.makeFailedBuild(of: other)
            let owedID = try await f.notification(of: owed).id
            _ = try await f.catalog.deleteSite(id: other.id)
            #expect(try await f.catalog.notifications(buildID: owed.id).isEmpty)
            #expect(
                await catalogError {
                    try await f.catalog.completeNotification(
                        id: owedID, owner: "sender-1", result: .delivered(status: 200))
                }?.code == .notificationNotFound)
            let delivered = try await f.catalog.completeNotification(
                id: claimed.delivery.id, owner: "sender-1", result: .delivered(status: 200))
            #expect(delivered.state == .delivered && delivered.build == failed)
        }
    }
}
