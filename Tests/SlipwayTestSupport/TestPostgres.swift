import Foundation
public import Logging
public import Model
public import Postgres
import PostgresNIO

/// The real PostgreSQL the fleet's tests run against (PostgreSQL 15 from
/// Debian, started by `scripts/test` through `scripts/postgres.sh`), read from
/// `SLIPWAY_TEST_DATABASE_URL` (and `SLIPWAY_TEST_DATABASE_CA` when the
/// server also speaks TLS).
///
/// Without it the PostgreSQL tests are skipped on a developer machine (with
/// a reason in the test report) and fail in CI (`CI=true`), where a missing
/// database is a broken pipeline, not a reason to pass.
///
/// Every test gets a schema of its own (`t_<random>`), created empty and
/// dropped afterwards, so tests run in parallel in one database without
/// seeing each other's rows or notifications.
public enum TestPostgres {
    public struct MissingDatabase: Error, CustomStringConvertible {
        public var description: String
    }

    public static let url: String? = {
        let value = ProcessInfo.processInfo.environment["SLIPWAY_TEST_DATABASE_URL"] ?? ""
        return value.isEmpty ? nil : value
    }()

    /// The CA certificate of the test server's TLS, when it has TLS.
    public static let caFile: String? = {
        let value = ProcessInfo.processInfo.environment["SLIPWAY_TEST_DATABASE_CA"] ?? ""
        return value.isEmpty ? nil : value
    }()

    /// Whether the PostgreSQL suites run: when a database is configured, and
    /// always in CI so that a missing one fails there.
    public static let shouldRun = url != nil || TestS3.isCI

    public static let skipReason =
        "SLIPWAY_TEST_DATABASE_URL is not set: run scripts/test (it starts PostgreSQL) to include the PostgreSQL tests"

    /// `SLIPWAY_SECRET_KEY` for the Slipway processes the tests start on
    /// PostgreSQL: ``keyring``'s key.
    public static let secretKey = SecretKeyring.generateKeyText()

    /// The keys the tests' PostgreSQL catalogs seal secrets with: one per
    /// test process, so catalogs the process opens read each other's rows.
    public static let keyring: SecretKeyring = {
        guard let keyring = try? SecretKeyring(parsing: secretKey) else {
            preconditionFailure("a generated key is always a key")
        }
        return keyring
    }()

    public static let logger: Logger = {
        var logger = Logger(label: "slipway.tests.postgres")
        logger.logLevel = .error
        return logger
    }()

    /// The test database's settings with `schema` as the search path.
    /// - Throws: `MissingDatabase` when `SLIPWAY_TEST_DATABASE_URL` is not set.
    public static func database(schema: String = "public") throws -> PostgresSettings {
        guard let url else {
            throw MissingDatabase(
                description:
                    "SLIPWAY_TEST_DATABASE_URL is not set: run the tests through scripts/test (it starts PostgreSQL and exports it)"
            )
        }
        var database = try PostgresSettings(url: url)
        database.schema = schema
        return database
    }

    /// A schema name no other test uses.
    public static func uniqueSchemaName() -> String {
        "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(24)
    }

    /// Runs one statement on a short-lived connection to the test database
    /// (creating or dropping a schema, killing a backend).
    public static func execute(_ sql: String) async throws {
        let database = try database()
        let connection = try await PostgresConnection.connect(
            configuration: try database.connectionConfiguration(), id: 1, logger: logger)
        do {
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    /// The first column of every row `sql` returns, as text, on a
    /// short-lived connection with `settings` (its schema as the search path).
    public static func strings(_ sql: String, settings: PostgresSettings) async throws -> [String] {
        let connection = try await PostgresConnection.connect(
            configuration: try settings.connectionConfiguration(), id: 1, logger: logger)
        do {
            var values: [String] = []
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            for try await row in rows {
                values.append((try? row.decode(String.self)) ?? "")
            }
            try await connection.close()
            return values
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// The URL a `slipway serve` of a test uses for `settings`' schema.
    public static func url(for settings: PostgresSettings, applicationName: String) throws -> String {
        guard let url else { throw MissingDatabase(description: skipReason) }
        let separator = url.contains("?") ? "&" : "?"
        return url + separator + "search_path=\(settings.schema)&application_name=\(applicationName)"
    }

    /// Creates a fresh schema and returns settings that use it.
    public static func makeSchema() async throws -> PostgresSettings {
        let schema = uniqueSchemaName()
        try await execute("CREATE SCHEMA \(schema)")
        return try database(schema: schema)
    }

    /// Drops a schema made by ``makeSchema()`` with everything in it.
    public static func dropSchema(_ database: PostgresSettings) async throws {
        precondition(database.schema.hasPrefix("t_"), "only test schemas are dropped")
        try await execute("DROP SCHEMA IF EXISTS \(database.schema) CASCADE")
    }

    /// Runs `body` with a fresh schema, dropped afterwards whether `body`
    /// succeeded or not.
    public static func withSchema<T>(_ body: (PostgresSettings) async throws -> T) async throws -> T {
        let database = try await makeSchema()
        do {
            let result = try await body(database)
            try await dropSchema(database)
            return result
        } catch {
            try? await dropSchema(database)
            throw error
        }
    }
}
