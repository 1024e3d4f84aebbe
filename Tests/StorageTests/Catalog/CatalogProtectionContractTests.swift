import Foundation
import Model
import Testing

@testable import Storage

/// Protected sites in the catalog contract, run against every
/// implementation: the settings a site carries (never the hash), the hash
/// only `protectionSecret(siteID:)` hands out, and the password version
/// that grows with every password change.
@Suite struct CatalogProtectionContractTests {
    /// Cheap scrypt parameters: what is tested is what the catalog stores.
    static func hash(_ password: String) -> String {
        PasswordHash.make(password, cost: PasswordHash.Cost(n: 16, r: 1, p: 1))
    }

    @Test(arguments: CatalogUnderTest.all)
    func aProtectedSiteCarriesItsSettingsAndTheCatalogAloneHoldsTheHash(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let hash = Self.hash("correct horse")
            var draft = SiteDraft(slug: "guide", repoURL: "https://github.com/acme/guide")
            draft.protection = SiteProtection(mode: .basic, username: "team", previewsOnly: true)
            draft.passwordHash = hash
            let site = try await f.catalog.createSite(draft)
            #expect(site.protection == SiteProtection(mode: .basic, username: "team", previewsOnly: true, version: 1))
            #expect(try await f.catalog.site(id: site.id).protection == site.protection)
            #expect(try await f.catalog.sites().first?.protection == site.protection)

            let secret = try #require(try await f.catalog.protectionSecret(siteID: site.id))
            #expect(secret.passwordHash == hash && secret.version == 1 && secret.mode == .basic)
            #expect(secret.username == "team")
            #expect(PasswordHash.verify("correct horse", against: secret.passwordHash))
            // What is logged, published and returned never holds it.
            let encoded = String(decoding: try JSONEncoder().encode(site), as: UTF8.self)
            #expect(!encoded.contains(hash) && !"\(site)".contains(hash) && !"\(draft)".contains(hash))

            let plain = try await f.catalog.createSite(SiteDraft(slug: "open", repoURL: "https://github.com/acme/o"))
            #expect(plain.protection == .none)
            #expect(try await f.catalog.protectionSecret(siteID: plain.id) == nil)
            _ = try await f.catalog.deleteSite(id: plain.id)
            let missing = await #expect(throws: CatalogError.self) {
                _ = try await f.catalog.protectionSecret(siteID: plain.id)
            }
            #expect(missing?.code == .siteNotFound)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func everyPasswordChangeRaisesTheVersionAndTurningOnNeedsAPassword(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let site = try await f.catalog.createSite(SiteDraft(slug: "blog", repoURL: "https://github.com/acme/b"))
            // Turning protection on without a password is refused, and changes nothing.
            let refused = await #expect(throws: CatalogError.self) {
                _ = try await f.catalog.updateSite(id: site.id) { $0.protection.mode = .password }
            }
            #expect(refused?.code == .invalidInput)
            #expect(refused?.message.contains("protection.password is required") == true)
            #expect(try await f.catalog.site(id: site.id).protection == .none)

            let first = Self.hash("first password")
            let on = try await f.catalog.updateSite(id: site.id) {
                $0.protection.mode = .password
                $0.newPasswordHash = first
            }
            #expect(on.protection == SiteProtection(mode: .password, version: 1))
            // A change that keeps the password keeps the version (and the hash).
            let scoped = try await f.catalog.updateSite(id: site.id) { $0.protection.previewsOnly = true }
            #expect(scoped.protection == SiteProtection(mode: .password, previewsOnly: true, version: 1))
            #expect(try await f.catalog.protectionSecret(siteID: site.id)?.passwordHash == first)
            // Other settings leave it alone.
            let renamed = try await f.catalog.updateSite(id: site.id) { $0.branch = "release" }
            #expect(renamed.protection.version == 1)

            let second = Self.hash("second password")
            let changed = try await f.catalog.updateSite(id: site.id) { $0.newPasswordHash = second }
            #expect(changed.protection.version == 2)
            #expect(try await f.catalog.protectionSecret(siteID: site.id)?.passwordHash == second)

            // Switching to Basic (a new mode, a username) needs a new password too.
            let switching = await #expect(throws: CatalogError.self) {
                _ = try await f.catalog.updateSite(id: site.id) {
                    $0.protection.mode = .basic
                    $0.protection.username = "team"
                }
            }
            #expect(switching?.code == .invalidInput)
            let basic = try await f.catalog.updateSite(id: site.id) {
                $0.protection.mode = .basic
                $0.protection.username = "team"
                $0.newPasswordHash = Self.hash("third password")
            }
            #expect(basic.protection.version == 3 && basic.protection.username == "team")

            // Off: the hash goes, the version stays, so turning it on again
            // goes past every session ever issued.
            let off = try await f.catalog.updateSite(id: site.id) { $0.protection.mode = .none }
            #expect(off.protection.mode == .none && off.protection.username == nil && off.protection.version == 3)
            #expect(try await f.catalog.protectionSecret(siteID: site.id) == nil)
            let again = try await f.catalog.updateSite(id: site.id) {
                $0.protection.mode = .password
                $0.newPasswordHash = first
            }
            #expect(again.protection.version == 4)
            #expect(try await f.catalog.protectionSecret(siteID: site.id)?.version == 4)
        }
    }

    static func refusal(_ catalog: any Catalog, _ protection: SiteProtection, hash: String?) async -> CatalogError? {
        var draft = SiteDraft(slug: "bad", repoURL: "https://github.com/acme/bad")
        draft.protection = protection
        draft.passwordHash = hash
        return await #expect(throws: CatalogError.self) { _ = try await catalog.createSite(draft) }
    }

    @Test(arguments: CatalogUnderTest.all)
    func badProtectionSettingsAreRefusedWithWhatToFix(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let good = Self.hash("a fine password")
            let noUsername = await Self.refusal(f.catalog, SiteProtection(mode: .basic), hash: good)
            #expect(noUsername?.message.contains("protection.username") == true)
            let colon = await Self.refusal(f.catalog, SiteProtection(mode: .basic, username: "a:b"), hash: good)
            #expect(colon?.message.contains("':'") == true)
            #expect(await Self.refusal(f.catalog, SiteProtection(mode: .password), hash: nil)?.code == .invalidInput)
            let unhashed = await Self.refusal(f.catalog, SiteProtection(mode: .password), hash: "plain text")
            #expect(unhashed?.code == .invalidInput)
            #expect(await Self.refusal(f.catalog, SiteProtection(mode: .none), hash: good)?.code == .invalidInput)
            let sites = try await f.catalog.sites()
            #expect(sites.isEmpty)
        }
    }
}
