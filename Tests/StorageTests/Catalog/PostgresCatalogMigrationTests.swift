import Foundation
import Logging
import Model
import PostgresNIO
import SlipwayTestSupport
import Testing

@testable import Postgres
@testable import Storage

/// The PostgreSQL catalog's schema migrations: applied once, under a lock,
/// and refused when a newer Slipway wrote the database.
@Suite(.enabled(if: TestPostgres.shouldRun, Comment(rawValue: TestPostgres.skipReason)))
struct PostgresCatalogMigrationTests {
    private static let clock = ManualClock()

    private static func open(_ database: PostgresSettings) async throws -> PostgresCatalog {
        try await PostgresCatalog.open(
            settings: database, clock: clock.source, maximumConnections: 2,
            // Generous: on a loaded 2-core machine a migration may wait long for the CPU.
            connectTimeout: .seconds(120), keyring: TestPostgres.keyring, logger: TestPostgres.logger)
    }

    /// Runs `sql` in the schema of `database` and returns the first column of every row as text.
    private static func column(_ sql: String, in database: PostgresSettings) async throws -> [String] {
        let connection = try await PostgresConnection.connect(
            configuration: try database.connectionConfiguration(), id: 1, logger: TestPostgres.logger)
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestPostgres.logger)
                .collect()
            try await connection.close()
            return try rows.map { try $0.makeRandomAccess()[0].decode(String?.self) ?? "NULL" }
        } catch {
            try? await connection.close()
            throw error
        }
    }

    @Test func aFreshSchemaIsMigratedAndOpeningAgainChangesNothing() async throws {
        try await TestPostgres.withSchema { database in
            let first = try await Self.open(database)
            _ = try await first.createSite(SiteDraft(slug: "blog", repoURL: "https://github.com/acme/blog.git"))
            try await first.close()
            try await first.close()
            let applied = try await Self.column(
                "SELECT id || ' ' || applied_at FROM schema_migration ORDER BY id", in: database)
            #expect(applied == PostgresCatalog.migrations.map { "\($0.id) \(Millis.from(Self.clock.now))" }.sorted())
            #expect(
                try await Self.column("SELECT min_version::text FROM schema_compat", in: database)
                    == ["\(PostgresCatalog.minimumCompatibleVersion)"])

            Self.clock.advance(by: .seconds(60))
            let second = try await Self.open(database)
            #expect(try await second.sites().map(\.slug) == ["blog"])
            try await second.close()
            #expect(
                try await Self.column("SELECT id || ' ' || applied_at FROM schema_migration", in: database) == applied)
            #expect(try await Self.column("SELECT count(*)::text FROM schema_compat", in: database) == ["1"])
        }
    }

    @Test func aMissingSchemaIsCreated() async throws {
        let database = try TestPostgres.database(schema: TestPostgres.uniqueSchemaName())
        do {
            let catalog = try await Self.open(database)
            #expect(try await catalog.sites().isEmpty)
            try await catalog.close()
            try await TestPostgres.dropSchema(database)
        } catch {
            try? await TestPostgres.dropSchema(database)
            throw error
        }
    }

    /// A rolling upgrade: a newer node added a migration that keeps this
    /// version compatible; this node (the previous release) still opens the
    /// catalog and works on it.
    @Test func aNodeOfThePreviousReleaseKeepsWorkingOnACompatibleNewerSchema() async throws {
        try await TestPostgres.withSchema { database in
            try await Self.open(database).close()
            _ = try await Self.column(
                "INSERT INTO schema_migration (id, applied_at) VALUES ('v99-future', 0) RETURNING id", in: database)
            _ = try await Self.column("ALTER TABLE site ADD COLUMN future_setting text", in: database)
            let catalog = try await Self.open(database)
            let site = try await catalog.createSite(
                SiteDraft(slug: "still-works", repoURL: "https://example.com/a.git"))
            #expect(try await catalog.site(slug: "still-works").id == site.id)
            try await catalog.close()
        }
    }

    @Test func aCatalogThatNeedsANewerSlipwayIsRefused() async throws {
        try await TestPostgres.withSchema { database in
            try await Self.open(database).close()
            _ = try await Self.column(
                "INSERT INTO schema_migration (id, applied_at) VALUES ('v99-future', 0) RETURNING id", in: database)
            _ = try await Self.column(
                "UPDATE schema_compat SET min_version = 99 RETURNING min_version::text", in: database)
            let error = await catalogError { try await Self.open(database) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("written by a newer Slipway") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains(database.schema) == true)
        }
    }

    @Test func aNodeOlderThanTheRecordedMinimumIsRefused() async throws {
        try await TestPostgres.withSchema { database in
            try await Self.open(database).close()
            _ = try await Self.column(
                "UPDATE schema_compat SET min_version = 99 RETURNING min_version::text", in: database)
            let error = await catalogError { try await Self.open(database) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("needs schema version 99") == true, "\(error?.message ?? "")")
        }
    }

    @Test func processesOpeningAFreshSchemaTogetherAllSucceedAndMigrateOnce() async throws {
        try await TestPostgres.withSchema { database in
            let catalogs = try await withThrowingTaskGroup(of: PostgresCatalog.self) { group in
                for _ in 0..<4 { group.addTask { try await Self.open(database) } }
                var all: [PostgresCatalog] = []
                for try await catalog in group { all.append(catalog) }
                return all
            }
            #expect(catalogs.count == 4)
            for catalog in catalogs {
                #expect(try await catalog.stats().queueDepth == 0)
                try await catalog.close()
            }
            #expect(
                try await Self.column("SELECT id FROM schema_migration ORDER BY id", in: database)
                    == PostgresCatalog.migrations.map(\.id).sorted())
        }
    }

    @Test func withoutAnInjectedClockTimesComeFromTheDatabase() async throws {
        try await TestPostgres.withSchema { database in
            let catalog = try await PostgresCatalog.open(
                settings: database, maximumConnections: 2, connectTimeout: .seconds(120), keyring: TestPostgres.keyring,
                logger: TestPostgres.logger)
            let query = "SELECT ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text"
            let before = try #require(Int64(try await Self.column(query, in: database)[0]))
            let site = try await catalog.createSite(
                SiteDraft(slug: "blog", repoURL: "https://github.com/acme/blog.git"))
            let after = try #require(Int64(try await Self.column(query, in: database)[0]))
            try await catalog.close()
            #expect((before...after).contains(Millis.from(site.createdAt)))
        }
    }

    @Test func anUnreachableDatabaseIsUnavailableWithoutItsPassword() async throws {
        var database = try TestPostgres.database(schema: "t_unreachable")
        database.host = "127.0.0.1"
        database.port = 1
        database.password = "do-not-show"
        let error = await catalogError {
            try await PostgresCatalog.open(
                settings: database, clock: Self.clock.source, connectTimeout: .seconds(2),
                keyring: TestPostgres.keyring, logger: TestPostgres.logger)
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("do-not-show") == false, "\(error?.message ?? "")")
    }
}
