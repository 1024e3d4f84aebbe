import Foundation
import GRDB
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
            SiteDraft(slug: "blog", repoURL: "https://github.com/acme/blog", env: [BuildVariable(name: "K", value: "v", secret: true)])
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
        try await catalog.pool.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v999-from-the-future')") }
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
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("catalog.sqlite"), withIntermediateDirectories: true)
        let error = await catalogError { try SQLiteCatalog(dataDirectory: directory.path) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("catalog.sqlite") == true)
    }
}
