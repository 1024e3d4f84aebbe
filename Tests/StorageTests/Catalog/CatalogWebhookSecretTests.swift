import Foundation
import GRDB
import Model
import Testing

@testable import Storage

/// The webhook secret every site carries: generated at creation, rotated on
/// demand, given to sites that predate the column by the v2 migration.
@Suite struct CatalogWebhookSecretTests {
    private static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("slipway-webhook-\(UUID().uuidString)/data")
    }

    @Test func generatedSecretsAre32RandomBytesInBase64URL() {
        let secrets = (0..<50).map { _ in WebhookSecret.generate() }
        #expect(Set(secrets).count == 50)
        for secret in secrets {
            #expect(secret.count == 43)
            #expect(
                secret.utf8.allSatisfy { byte in
                    (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                        || byte == 45 || byte == 95
                })
        }
    }

    @Test func aSiteKeepsTheGivenSecretOrGetsANewOneAndRotationReplacesIt() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let catalog = try SQLiteCatalog(dataDirectory: directory.path)
        let given = String(repeating: "s", count: 43)
        let first = try await catalog.createSite(
            SiteDraft(slug: "one", repoURL: "https://github.com/acme/one", webhookSecret: given))
        let second = try await catalog.createSite(SiteDraft(slug: "two", repoURL: "https://github.com/acme/two"))
        #expect(try await catalog.webhookSecret(siteID: first.id) == given)
        let generated = try #require(try await catalog.webhookSecret(siteID: second.id))
        #expect(generated.count == 43 && generated != given)

        let rotated = try await catalog.rotateWebhookSecret(siteID: first.id)
        #expect(rotated != given)
        #expect(try await catalog.webhookSecret(siteID: first.id) == rotated)
        #expect(try await catalog.webhookSecret(siteID: second.id) == generated)
        // Rotation is not a settings change.
        #expect(try await catalog.site(id: first.id).updatedAt == first.updatedAt)

        await #expect(throws: CatalogError.self) {
            _ = try await catalog.createSite(
                SiteDraft(slug: "short", repoURL: "https://github.com/acme/s", webhookSecret: "tiny"))
        }
        _ = try await catalog.deleteSite(id: second.id)
        let missing = await #expect(throws: CatalogError.self) {
            _ = try await catalog.rotateWebhookSecret(siteID: second.id)
        }
        #expect(missing?.code == .siteNotFound)
        let unread = await #expect(throws: CatalogError.self) { _ = try await catalog.webhookSecret(siteID: second.id) }
        #expect(unread?.code == .siteNotFound)
        try await catalog.close()
    }

    @Test func theSecretNeverAppearsInADraftsDescription() {
        let draft = SiteDraft(
            slug: "one", repoURL: "https://github.com/acme/one", webhookSecret: "very-secret-value-0123456789")
        #expect(!String(describing: draft).contains("very-secret-value"))
        #expect(!String(reflecting: draft).contains("very-secret-value"))
        var dumped = ""
        dump(draft, to: &dumped)
        #expect(!dumped.contains("very-secret-value"))
    }

    @Test func sitesCreatedBeforeTheSecretColumnGetOneWhenMigrated() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // A catalog as the first release left it: only the v1 schema, two sites.
        let queue = try DatabaseQueue(path: directory.appendingPathComponent(SQLiteCatalog.fileName).path)
        try SQLiteCatalog.migrator.migrate(queue, upTo: "v1-sites-builds-queue")
        try await queue.write { db in
            for (id, slug) in [("01JA0000000000000000000001", "old"), ("01JA0000000000000000000002", "older")] {
                try db.execute(
                    sql: """
                        INSERT INTO site (id, slug, repo_url, branch, spa, env, created_at, updated_at)
                        VALUES (?, ?, 'https://github.com/acme/old', 'main', 'auto', '[]', 0, 0)
                        """,
                    arguments: [id, slug])
            }
        }
        try queue.close()

        let catalog = try SQLiteCatalog(dataDirectory: directory.path)
        let old = try await catalog.site(slug: "old")
        let older = try await catalog.site(slug: "older")
        let first = try #require(try await catalog.webhookSecret(siteID: old.id))
        let second = try #require(try await catalog.webhookSecret(siteID: older.id))
        #expect(first.count == 43 && second.count == 43 && first != second)
        try await catalog.close()
    }
}
