import Foundation
import GRDB
import Model
import Testing

@testable import Storage

/// What only the SQLite implementation promises: its file, its mode, its schema.
@Suite struct SQLiteCatalogTests {
    private static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("slipway-sqlite-\(UUID().uuidString)/data")
    }

    @Test func theCatalogLivesInTheDataDirectoryInWALMode() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let catalog = try SQLiteCatalog(dataDirectory: directory.path)
        #expect(catalog.path == directory.appendingPathComponent("catalog.sqlite").path)
        let mode = try await catalog.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let permissions = try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int
        #expect(permissions == 0o700)
        try await catalog.close()
    }

    @Test func dataSurvivesClosingAndReopening() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let first = try SQLiteCatalog(dataDirectory: directory.path)
        let site = try await first.createSite(
            SiteDraft(
                slug: "blog", repoURL: "https://github.com/acme/blog",
                env: [BuildVariable(name: "K", value: "v", secret: true)])
        )
        let build = try await first.createBuild(siteID: site.id, BuildRequest(priority: 3))
        try await first.close()
        let second = try SQLiteCatalog(dataDirectory: directory.path)
        #expect(try await second.site(slug: "blog") == site)
        #expect(try await second.build(id: build.id) == build)
        try await second.close()
    }

    @Test func aDatabaseMigratedByANewerSlipwayIsRefused() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let catalog = try SQLiteCatalog(dataDirectory: directory.path)
        try await catalog.pool.write {
            try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v999-from-the-future')")
        }
        try await catalog.close()
        let error = await catalogError { try SQLiteCatalog(dataDirectory: directory.path) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("newer version") == true)
    }

    @Test func aClosedCatalogRefusesWorkWithATypedError() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let catalog = try SQLiteCatalog(dataDirectory: directory.path)
        try await catalog.close()
        try await catalog.close()
        #expect(await catalogError { try await catalog.sites() }?.code == .closed)
        #expect(await catalogError { try await catalog.claimNextBuild(workerID: "w1") }?.code == .closed)
    }

    @Test func anUnopenablePathIsAnUnavailableErrorThatNamesIt() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // A directory where the database file should be.
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("catalog.sqlite"), withIntermediateDirectories: true)
        let error = await catalogError { try SQLiteCatalog(dataDirectory: directory.path) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("catalog.sqlite") == true)
    }

    @Test func aBuildNeverEndsWithoutItsNotification() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let catalog = try SQLiteCatalog(dataDirectory: directory.path)
        let site = try await catalog.createSite(
            SiteDraft(slug: "blog", repoURL: "https://github.com/acme/blog", notifyURL: "https://hooks.example.com/in"))
        let build = try await catalog.createBuild(siteID: site.id, BuildRequest())
        _ = try #require(try await catalog.claimNextBuild(workerID: "w1"))
        // The outbox refuses every row: the status change that would write one must not happen either.
        try await catalog.pool.write {
            try $0.execute(
                sql:
                    "CREATE TRIGGER refuse BEFORE INSERT ON notification BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
            )
        }
        let error = await catalogError {
            try await catalog.finishBuild(
                buildID: build.id, workerID: "w1", result: .failure(message: "exit 1", retryable: false))
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("outbox refused") == true)
        let stored = try await catalog.build(id: build.id)
        #expect(stored.status == .building && stored.leaseOwner == "w1")
        #expect(await catalogError { try await catalog.cancelBuild(id: build.id) }?.code == .unavailable)
        #expect(try await catalog.build(id: build.id).status == .building)

        try await catalog.pool.write { try $0.execute(sql: "DROP TRIGGER refuse") }
        let failed = try await catalog.finishBuild(
            buildID: build.id, workerID: "w1", result: .failure(message: "exit 1", retryable: false))
        #expect(try await catalog.notifications(buildID: build.id).map(\.build) == [failed])
        try await catalog.close()
    }

    /// A catalog as an older Slipway left it: migrated up to `migration`,
    /// with one site, `old`.
    static func writeOldCatalog(in directory: URL, upTo migration: String) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: directory.appendingPathComponent(SQLiteCatalog.fileName).path)
        try SQLiteCatalog.migrator.migrate(queue, upTo: migration)
        try await queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO site (id, slug, repo_url, branch, spa, env, created_at, updated_at, webhook_secret)
                    VALUES ('01JA0000000000000000000001', 'old', 'https://github.com/acme/old', 'main', 'auto', '[]', 0, 0, ?)
                    """,
                arguments: [WebhookSecret.generate()])
        }
        try queue.close()
    }

    @Test func sitesFromBeforeNotificationsHaveNoNotifyURLAndCanGetOne() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        try await Self.writeOldCatalog(in: directory, upTo: "v2-site-webhook-secret")

        let catalog = try SQLiteCatalog(dataDirectory: directory.path)
        let old = try await catalog.site(slug: "old")
        #expect(old.notifyURL == nil)
        let updated = try await catalog.updateSite(id: old.id) { $0.notifyURL = "https://hooks.example.com/old" }
        #expect(updated.notifyURL == "https://hooks.example.com/old")
        #expect(try await catalog.site(slug: "old") == updated)
        try await catalog.close()
    }

    @Test func deliveriesOutsideTheWindowArePrunedAndGoWithTheirSite() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let clock = ManualClock()
        let catalog = try SQLiteCatalog(dataDirectory: directory.path, clock: clock.source)
        let rows = { @Sendable in
            try await catalog.pool.read { try String.fetchAll($0, sql: "SELECT delivery_id FROM webhook_delivery") }
        }
        let blog = try await catalog.createSite(SiteDraft(slug: "blog", repoURL: "https://github.com/acme/blog"))
        let docs = try await catalog.createSite(SiteDraft(slug: "handbook", repoURL: "https://github.com/acme/h"))
        #expect(try await catalog.recordWebhookDelivery(id: "old", siteID: blog.id, window: .seconds(60)))
        clock.advance(by: .seconds(30))
        #expect(try await catalog.recordWebhookDelivery(id: "newer", siteID: docs.id, window: .seconds(60)))
        #expect(Set(try await rows()) == ["old", "newer"])
        // Recording any id prunes every site's expired ones.
        clock.advance(by: .seconds(30))
        #expect(try await catalog.recordWebhookDelivery(id: "newest", siteID: docs.id, window: .seconds(60)))
        #expect(Set(try await rows()) == ["newer", "newest"])
        _ = try await catalog.deleteSite(id: docs.id)
        #expect(try await rows().isEmpty)
        try await catalog.close()
    }

    @Test func aCatalogFromBeforeWebhookDeliveriesIsMigratedAndKeepsItsSites() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        try await Self.writeOldCatalog(in: directory, upTo: "v3-notifications")

        let catalog = try SQLiteCatalog(dataDirectory: directory.path)
        let old = try await catalog.site(slug: "old")
        #expect(try await catalog.recordWebhookDelivery(id: "first", siteID: old.id))
        #expect(try await !catalog.recordWebhookDelivery(id: "first", siteID: old.id))
        let applied = try await catalog.pool.read {
            try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
        }
        #expect(applied.contains("v4-webhook-deliveries"))
        try await catalog.close()
    }
}
