import Foundation
import Postgres
import SlipwayTestSupport
import Storage
import Testing

/// The catalog over TLS, as `sslmode` asks: the test server (started by
/// `scripts/test` with a self-signed certificate for `localhost` and
/// 127.0.0.1) accepts both plain and TLS connections.
@Suite(.enabled(if: TestPostgres.shouldRun, Comment(rawValue: TestPostgres.skipReason)), .timeLimit(.minutes(5)))
struct PostgresTLSTests {
    /// Opens a catalog with `query` added to the test URL and `host` in
    /// place of its host; true when it opened and answered.
    func opens(host: String? = nil, _ query: String, within timeout: Duration = .seconds(60)) async throws -> Bool {
        try await TestPostgres.withSchema { settings in
            guard let base = TestPostgres.url else { throw TestFailure(TestPostgres.skipReason) }
            var components = try #require(URLComponents(string: base))
            if let host { components.host = host }
            let url = components.string! + "?search_path=\(settings.schema)&" + query
            do {
                let catalog = try await PostgresCatalog.open(
                    settings: try PostgresSettings(url: url), connectTimeout: timeout, keyring: TestPostgres.keyring,
                    logger: TestPostgres.logger)
                _ = try await catalog.stats()
                try await catalog.close()
                return true
            } catch {
                return false
            }
        }
    }

    @Test func requireEncryptsAndVerifyFullChecksTheCertificateAndTheName() async throws {
        let ca = try #require(
            TestPostgres.caFile, "scripts/test starts PostgreSQL with TLS and exports SLIPWAY_TEST_DATABASE_CA")
        #expect(try await opens("sslmode=require"))
        #expect(try await opens("sslmode=verify-ca&sslrootcert=\(ca)"))
        #expect(try await opens(host: "localhost", "sslmode=verify-full&sslrootcert=\(ca)"))
        // Without the server's CA, verification fails: the certificate is self-signed.
        // A refused certificate is retried until the connect timeout: keep it short.
        #expect(try await !opens(host: "localhost", "sslmode=verify-full", within: .seconds(5)))
        #expect(try await !opens("sslmode=verify-ca", within: .seconds(5)))
    }

    @Test func anEncryptedConnectionIsReallyEncrypted() async throws {
        let ca = try #require(
            TestPostgres.caFile, "scripts/test starts PostgreSQL with TLS and exports SLIPWAY_TEST_DATABASE_CA")
        try await TestPostgres.withSchema { settings in
            var tls = try PostgresSettings(url: TestPostgres.url! + "?sslmode=verify-ca&sslrootcert=\(ca)")
            tls.schema = settings.schema
            tls.applicationName = "tls-check-\(settings.schema)"
            let catalog = try await PostgresCatalog.open(
                settings: tls, connectTimeout: .seconds(120), keyring: TestPostgres.keyring, logger: TestPostgres.logger
            )
            _ = try await catalog.stats()
            let encrypted = try await TestPostgres.strings(
                """
                SELECT ssl::text FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
                WHERE application_name = 'tls-check-\(settings.schema)'
                """, settings: settings)
            try await catalog.close()
            #expect(!encrypted.isEmpty && encrypted.allSatisfy { $0 == "true" }, "\(encrypted)")
        }
    }
}
