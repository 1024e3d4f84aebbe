import Foundation
import Logging
import Model
import Storage
import Synchronization
import Testing

@testable import Proxy

@Suite struct SiteTableTests {
    let date = Date(timeIntervalSince1970: 1_750_000_000)

    func site(_ id: SiteID, slug: String, active: BuildID? = nil, spa: SpaMode = .auto) -> Site {
        Site(
            id: id, slug: slug, repoURL: "https://github.com/example/\(slug)", branch: "main", rootDir: nil,
            installCommand: nil,
            buildCommand: nil, outputDir: nil, spa: spa, env: [], activeBuildID: active, createdAt: date,
            updatedAt: date)
    }

    func build(_ id: BuildID, site: SiteID, number: Int, status: BuildStatus) -> Build {
        Build(
            id: id, siteID: site, number: number, status: status, priority: 0, trigger: nil, commitSHA: nil,
            commitMessage: nil,
            error: nil, attempt: 1, queuedAt: date, startedAt: nil, finishedAt: nil, notBefore: date, leaseOwner: nil,
            leaseExpiresAt: nil, fileCount: nil, bytes: nil)
    }

    @Test func eventsMoveASiteFromNotDeployedToBuildingToFailedToLive() {
        let table = SiteTable()
        let siteID = SiteID.generate()
        let (first, second) = (BuildID.generate(), BuildID.generate())
        table.apply(.siteCreated(site(siteID, slug: "shop")))
        #expect(table.lookup(slug: "shop")?.availability == .notDeployed)
        table.apply(.buildChanged(build(first, site: siteID, number: 1, status: .queued)))
        #expect(table.lookup(slug: "shop")?.availability == .building(.init(number: 1, status: .queued)))
        table.apply(.buildChanged(build(first, site: siteID, number: 1, status: .building)))
        #expect(table.lookup(slug: "shop")?.availability == .building(.init(number: 1, status: .building)))
        table.apply(.buildChanged(build(first, site: siteID, number: 1, status: .failed)))
        #expect(table.lookup(slug: "shop")?.availability == .failed(.init(number: 1, status: .failed)))
        table.apply(.buildChanged(build(second, site: siteID, number: 2, status: .building)))
        #expect(table.lookup(slug: "shop")?.availability == .building(.init(number: 2, status: .building)))
        table.apply(.buildChanged(build(second, site: siteID, number: 2, status: .success)))
        // Between success and activation the build is about to go live.
        #expect(table.lookup(slug: "shop")?.availability == .building(.init(number: 2, status: .success)))
        table.apply(.activated(Activation(siteID: siteID, buildID: second, buildNumber: 2, previousBuildID: nil)))
        #expect(table.lookup(slug: "shop")?.availability == .live(second))
        #expect(table.lookup(slug: "shop")?.successfulBuilds == [2: second])
    }

    @Test func renamesUpdatesAndDeletesFollowTheSite() {
        let table = SiteTable()
        let siteID = SiteID.generate()
        table.apply(.siteCreated(site(siteID, slug: "shop")))
        table.apply(.siteUpdated(site(siteID, slug: "store", spa: .spa)))
        #expect(table.lookup(slug: "shop") == nil)
        #expect(table.lookup(slug: "store")?.spa == .spa)
        // Another site may take the freed slug.
        let otherID = SiteID.generate()
        table.apply(.siteCreated(site(otherID, slug: "shop")))
        #expect(table.lookup(slug: "shop")?.siteID == otherID)
        table.apply(.siteDeleted(site(siteID, slug: "store")))
        #expect(table.lookup(slug: "store") == nil)
        #expect(table.lookup(slug: "shop")?.siteID == otherID)
        // Events about unknown sites change nothing.
        table.apply(
            .activated(
                Activation(siteID: SiteID.generate(), buildID: BuildID.generate(), buildNumber: 1, previousBuildID: nil)
            ))
        #expect(table.entries.count == 1)
    }

    @Test func aReloadReplaysEventsThatArrivedWhileItReadTheCatalog() {
        let table = SiteTable()
        let siteID = SiteID.generate()
        let (old, new) = (BuildID.generate(), BuildID.generate())
        table.startRecording()
        // The catalog was read before this activation committed...
        var loaded = SiteTable.Table()
        loaded.insert(SiteTable.Entry(site: site(siteID, slug: "shop", active: old)))
        // ...and the event arrives before the reload ends.
        table.apply(.activated(Activation(siteID: siteID, buildID: new, buildNumber: 2, previousBuildID: old)))
        table.install(loaded)
        #expect(table.lookup(slug: "shop")?.activeBuildID == new)
        #expect(table.reloadCount == 1)
    }

    /// A catalog that publishes to a bus with a tiny subscriber buffer, and a
    /// second catalog on the same database that publishes nothing.
    struct Catalogs {
        let directory: String
        let bus: InProcessEventBus
        let catalog: SQLiteCatalog
        let silent: SQLiteCatalog

        init() throws {
            directory =
                FileManager.default.temporaryDirectory.appendingPathComponent("slipway-table-\(UUID().uuidString)").path
            bus = InProcessEventBus(limits: .init(subscriberBuffer: 2))
            catalog = try SQLiteCatalog(dataDirectory: directory, bus: bus)
            silent = try SQLiteCatalog(path: directory + "/" + SQLiteCatalog.fileName)
        }

        func close() async throws {
            try await silent.close()
            try await catalog.close()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    func following(_ catalogs: Catalogs, every interval: Duration) async throws -> (SiteTable, Task<Void, Never>) {
        let table = SiteTable()
        let subscription = catalogs.bus.subscribe()
        try await table.reload(from: catalogs.catalog)
        var logger = Logger(label: "slipway.tests.table")
        logger.logLevel = .critical
        let follow = Task {
            await table.follow(subscription, catalog: catalogs.catalog, reconcileInterval: interval, logger: logger)
        }
        return (table, follow)
    }

    @Test func theTableFollowsCatalogEvents() async throws {
        let catalogs = try Catalogs()
        let (table, follow) = try await following(catalogs, every: .seconds(60))
        let catalog = catalogs.catalog
        let shop = try await catalog.createSite(SiteDraft(slug: "shop", repoURL: "https://github.com/example/shop"))
        let build = try await catalog.createBuild(siteID: shop.id, BuildRequest())
        _ = try await catalog.claimNextBuild(workerID: "w", leaseDuration: .seconds(60))
        _ = try await catalog.finishBuild(buildID: build.id, workerID: "w", result: .success(fileCount: 1, bytes: 1))
        _ = try await catalog.activate(siteID: shop.id, buildID: build.id, allowOlder: false)
        try await TestProxy.waitUntil("the activation is applied") {
            table.lookup(slug: "shop")?.activeBuildID == build.id
        }
        #expect(table.reloadCount == 1)
        follow.cancel()
        await follow.value
        try await catalogs.close()
    }

    @Test func missedEventsMakeTheTableReloadFromTheCatalog() async throws {
        let catalogs = try Catalogs()
        let (table, follow) = try await following(catalogs, every: .seconds(60))
        // Sites no event announces...
        var quiet: [Site] = []
        for index in 0..<10 {
            quiet.append(
                try await catalogs.silent.createSite(
                    SiteDraft(slug: "quiet-\(index)", repoURL: "https://github.com/example/q\(index)")))
        }
        // ...and a burst the two-event buffer cannot hold: the subscriber
        // misses events, and only a reload can find the quiet sites.
        for _ in 0..<5_000 { catalogs.bus.publish(.siteUpdated(quiet[0])) }
        let sites = quiet
        try await TestProxy.waitUntil("the reload finds every quiet site") {
            sites.allSatisfy { table.lookup(slug: $0.slug)?.siteID == $0.id }
        }
        #expect(table.reloadCount >= 2)
        follow.cancel()
        await follow.value
        try await catalogs.close()
    }

    @Test func theReconcileTimerFindsChangesNoEventAnnounced() async throws {
        let catalogs = try Catalogs()
        let (table, follow) = try await following(catalogs, every: .milliseconds(200))
        let quiet = try await catalogs.silent.createSite(
            SiteDraft(slug: "quiet", repoURL: "https://github.com/example/quiet"))
        try await TestProxy.waitUntil("the reconcile finds the quiet site") {
            table.lookup(slug: "quiet")?.siteID == quiet.id
        }
        _ = try await catalogs.silent.deleteSite(id: quiet.id)
        try await TestProxy.waitUntil("the reconcile drops the deleted site") { table.lookup(slug: "quiet") == nil }
        follow.cancel()
        await follow.value
        try await catalogs.close()
    }

    /// A proxy that missed an activation (its listener reconnected) still
    /// warms its cache for it: the reload reports what changed.
    @Test func aReloadReportsTheActivationsItDiscovered() async throws {
        let catalogs = try Catalogs()
        let silent = catalogs.silent
        let shop = try await silent.createSite(SiteDraft(slug: "shop", repoURL: "https://github.com/example/shop"))
        let idle = try await silent.createSite(SiteDraft(slug: "idle", repoURL: "https://github.com/example/idle"))
        func deploy(_ site: Site) async throws -> Build {
            let build = try await silent.createBuild(siteID: site.id, BuildRequest())
            _ = try await silent.claimNextBuild(workerID: "w", leaseDuration: .seconds(60))
            return try await silent.finishBuild(
                buildID: build.id, workerID: "w", result: .success(fileCount: 1, bytes: 1), activate: true
            ).build
        }
        let first = try await deploy(shop)
        _ = try await deploy(idle)
        let table = SiteTable()
        #expect(try await table.reload(from: silent).count == 2)
        #expect(try await table.reload(from: silent).isEmpty, "nothing changed")

        let second = try await deploy(shop)
        let found = try await table.reload(from: silent)
        #expect(
            found == [
                Activation(siteID: shop.id, buildID: second.id, buildNumber: 2, previousBuildID: first.id)
            ])

        // Following: the activation a reload found reaches `onActivated`.
        let subscription = catalogs.bus.subscribe()
        let heard = Mutex<[Activation]>([])
        var logger = Logger(label: "slipway.tests.table")
        logger.logLevel = .critical
        let follow = Task {
            await table.follow(
                subscription, catalog: silent, reconcileInterval: .milliseconds(100), logger: logger,
                onActivated: { activation in heard.withLock { $0.append(activation) } })
        }
        _ = try await silent.activate(siteID: shop.id, buildID: first.id, allowOlder: true)
        try await TestProxy.waitUntil("the reconcile reports the rollback") {
            heard.withLock { $0.contains { $0.buildID == first.id && $0.previousBuildID == second.id } }
        }
        follow.cancel()
        await follow.value
        try await catalogs.close()
    }
}
