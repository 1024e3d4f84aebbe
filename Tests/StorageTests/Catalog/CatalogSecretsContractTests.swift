import Foundation
import Model
import SlipwayTestSupport
import Testing

@testable import Storage

/// Secrets at rest: sealed in every row that holds them, readable through
/// the catalog, and sealed again under a new key when keys rotate.
@Suite struct CatalogSecretsContractTests {
    static let envValue = "env-value-7f3a9c1e"
    static let webhookSecret = "webhook-secret-5b2d8e4f0a"
    static let notifyPassword = "notify-pass-9c4e1a7b"
    static let repoToken = "repo-token-3e8f2a6d1c"

    static var draft: SiteDraft {
        SiteDraft(
            slug: "vault", repoURL: "https://git.example.com/acme/vault.git",
            env: [
                BuildVariable(name: "API_KEY", value: envValue, secret: true),
                BuildVariable(name: "PUBLIC_NAME", value: "shown-in-clear"),
            ],
            notifyURL: "https://hooks:\(notifyPassword)@hooks.example.com/in", webhookSecret: webhookSecret,
            repoToken: repoToken)
    }

    /// Every clear value a stolen copy of the database must not show.
    static let clearValues = [envValue, webhookSecret, notifyPassword, repoToken]

    @Test(arguments: CatalogUnderTest.all)
    func secretsAreSealedInTheStoredRowsAndReadBackInClear(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.catalog.createSite(Self.draft)
            #expect(site.hasRepoToken)
            // A finished build queues a notification, which keeps a copy of the notify URL.
            let build = try await f.makeSuccessfulBuild(of: site)
            _ = try await f.catalog.updateSite(id: site.id) { $0.branch = "release" }

            let stored = try await f.store.storedText()
            for value in Self.clearValues {
                #expect(!stored.contains(value), "\(value) is stored in clear")
            }
            #expect(stored.contains("shown-in-clear"))
            #expect(stored.contains(SecretKeyring.prefix + (try f.store.usualKeyring()).currentKeyID))

            let read = try await f.catalog.site(id: site.id)
            #expect(read.env == Self.draft.env)
            #expect(read.notifyURL == Self.draft.notifyURL)
            #expect(try await f.catalog.webhookSecret(siteID: site.id) == Self.webhookSecret)
            #expect(try await f.catalog.repoToken(siteID: site.id) == Self.repoToken)
            #expect(try await f.catalog.notifications(buildID: build.id).map(\.url) == [Self.draft.notifyURL])
            // A sealed value moved to another deployment's row does not open there.
            #expect(try await f.catalog.sites().map(\.id) == [site.id])
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func theRepositoryTokenIsKeptReplacedAndForgotten(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("plain")
            #expect(!site.hasRepoToken)
            #expect(try await f.catalog.repoToken(siteID: site.id) == nil)
            let withToken = try await f.catalog.setRepoToken(siteID: site.id, "ghp_first")
            #expect(withToken.hasRepoToken && withToken.updatedAt >= site.updatedAt)
            #expect(try await f.catalog.repoToken(siteID: site.id) == "ghp_first")
            _ = try await f.catalog.setRepoToken(siteID: site.id, "ghp_second")
            #expect(try await f.catalog.repoToken(siteID: site.id) == "ghp_second")
            #expect(try await f.catalog.setRepoToken(siteID: site.id, "").hasRepoToken == false)
            #expect(try await f.catalog.repoToken(siteID: site.id) == nil)

            for bad in ["has space", String(repeating: "x", count: RepoToken.maxLength + 1), "tab\there"] {
                #expect(
                    await catalogError { try await f.catalog.setRepoToken(siteID: site.id, bad) }?.code == .invalidInput
                )
            }
            let missing = SiteID.generate()
            #expect(
                await catalogError { try await f.catalog.setRepoToken(siteID: missing, "t") }?.code == .siteNotFound)
            #expect(await catalogError { try await f.catalog.repoToken(siteID: missing) }?.code == .siteNotFound)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aNewFirstKeySealsEverythingAgainAndTheOldKeyCanThenGo(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.catalog.createSite(Self.draft)
            let build = try await f.makeSuccessfulBuild(of: site)
            let old = try f.store.usualKeyring()
            let new = try SecretKeyring(parsing: SecretKeyring.generateKeyText())

            // Step 1 of a rotation: nodes learn the new key second; nothing changes.
            let overlap = try await f.openAnother(keyring: old.adding(new))
            #expect(try await overlap.resealSecrets() == 0)

            // Step 2: the new key first. Opening seals everything again.
            let rotated = try await f.openAnother(keyring: new.adding(old))
            #expect(try await rotated.resealSecrets() == 0, "opening the catalog already sealed everything again")
            let stored = try await f.store.storedText()
            #expect(!stored.contains(SecretKeyring.prefix + old.currentKeyID))
            #expect(stored.contains(SecretKeyring.prefix + new.currentKeyID))
            // A node still on the overlap reads what was sealed with the new key.
            #expect(try await overlap.site(id: site.id).env == Self.draft.env)

            // Step 3: the old key is dropped.
            let newOnly = try await f.openAnother(keyring: new)
            #expect(try await newOnly.site(id: site.id).env == Self.draft.env)
            #expect(try await newOnly.webhookSecret(siteID: site.id) == Self.webhookSecret)
            #expect(try await newOnly.repoToken(siteID: site.id) == Self.repoToken)
            #expect(try await newOnly.notifications(buildID: build.id).map(\.url) == [Self.draft.notifyURL])

            // A node that lacks the key cannot open the catalog, and says which key it needs.
            do {
                let stale = try await f.openAnother(keyring: old)
                _ = try await stale.site(id: site.id)
                Issue.record("a catalog sealed with a key the node lacks was read")
            } catch let error as CatalogError {
                #expect(error.code == .unavailable)
                #expect(error.message.contains(new.currentKeyID), "\(error.message)")
            }
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func secretsFromBeforeSealingAreSealedAndURLCredentialsMoveToTheToken(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("legacy")
            // What an older Slipway wrote: everything in clear, a password in the repository URL.
            try await f.store.execute(
                """
                UPDATE site SET repo_url = 'https://deployer:legacy%2Fpass-6a1f@git.example.com/acme/legacy.git',
                    env = '[{"name":"API_KEY","secret":true,"value":"legacy-env-3c9d"}]',
                    webhook_secret = 'legacy-webhook-secret-8e2b0c',
                    notify_url = 'https://hooks:legacy-notify-5d7e@hooks.example.com/in'
                WHERE id = '\(site.id.rawValue)'
                """)
            let reopened = try await f.openAnother()
            let read = try await reopened.site(id: site.id)
            #expect(read.repoURL == "https://git.example.com/acme/legacy.git")
            #expect(read.hasRepoToken)
            #expect(try await reopened.repoToken(siteID: site.id) == "deployer:legacy/pass-6a1f")
            #expect(read.env == [BuildVariable(name: "API_KEY", value: "legacy-env-3c9d", secret: true)])
            #expect(try await reopened.webhookSecret(siteID: site.id) == "legacy-webhook-secret-8e2b0c")
            #expect(read.notifyURL == "https://hooks:legacy-notify-5d7e@hooks.example.com/in")
            let stored = try await f.store.storedText()
            for value in [
                "legacy%2Fpass-6a1f", "legacy/pass-6a1f", "legacy-env-3c9d", "legacy-webhook-secret-8e2b0c",
                "legacy-notify-5d7e",
            ] {
                #expect(!stored.contains(value), "\(value) is still stored in clear")
            }
        }
    }
}
