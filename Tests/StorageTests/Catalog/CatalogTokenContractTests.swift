import Foundation
import Model
import Testing

@testable import Storage

/// API tokens in the catalog: the contract every implementation keeps.
@Suite struct CatalogTokenContractTests {
    static func draft(_ name: String = "ci", scope: APITokenScope = .read, expiresAt: Date? = nil) -> (
        draft: APITokenDraft, secret: String
    ) {
        let secret = APITokenSecret.generate()
        return (
            APITokenDraft(
                name: name, scope: scope, secretDigest: APITokenSecret.digest(of: secret), expiresAt: expiresAt,
                createdBy: APIToken.bootstrapID),
            secret
        )
    }

    @Test(arguments: CatalogUnderTest.all)
    func aTokenIsFoundByTheDigestOfItsSecretOnEveryHandle(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let expiry = f.clock.now.addingTimeInterval(3600)
            let (draft, secret) = Self.draft("deploy blog", scope: .deploy(slug: "blog"), expiresAt: expiry)
            let created = try await f.catalog.createAPIToken(draft)
            #expect(created.id == draft.id)
            #expect(created.name == "deploy blog")
            #expect(created.scope == .deploy(slug: "blog"))
            #expect(created.createdAt == f.clock.now)
            #expect(created.expiresAt == expiry)
            #expect(created.lastUsedAt == nil && created.revokedAt == nil)
            #expect(created.createdBy == "bootstrap")
            let other = try await f.openAnother()
            #expect(try await other.apiToken(secretDigest: APITokenSecret.digest(of: secret)) == created)
            #expect(try await other.apiToken(id: created.id) == created)
            #expect(try await other.apiToken(secretDigest: APITokenSecret.digest(of: APITokenSecret.generate())) == nil)
            #expect(try await other.apiToken(id: "01jzzzzzzzzzzzzzzzzzzzzzzz") == nil)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func tokensAreListedNewestFirstWithRevokedOnes(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let first = try await f.catalog.createAPIToken(Self.draft("first").draft)
            f.clock.advance(by: .seconds(1))
            let second = try await f.catalog.createAPIToken(Self.draft("second", scope: .admin).draft)
            _ = try await f.catalog.revokeAPIToken(id: first.id)
            let listed = try await f.catalog.apiTokens()
            #expect(listed.map(\.id) == [second.id, first.id])
            #expect(listed.last?.revokedAt == f.clock.now)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aRevocationIsSeenAtOnceOnAnotherHandleAndKeepsItsFirstTime(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let (draft, secret) = Self.draft()
            let token = try await f.catalog.createAPIToken(draft)
            let other = try await f.openAnother()
            #expect(try await other.apiToken(secretDigest: APITokenSecret.digest(of: secret))?.revokedAt == nil)
            f.clock.advance(by: .seconds(5))
            let revoked = try #require(try await f.catalog.revokeAPIToken(id: token.id))
            #expect(revoked.revokedAt == f.clock.now)
            // The very next lookup on the other handle sees it: nothing is cached.
            let seen = try #require(try await other.apiToken(secretDigest: APITokenSecret.digest(of: secret)))
            #expect(seen.revokedAt == revoked.revokedAt)
            #expect(!seen.isUsable(at: f.clock.now))
            f.clock.advance(by: .seconds(5))
            #expect(try await other.revokeAPIToken(id: token.id)?.revokedAt == revoked.revokedAt)
            #expect(try await f.catalog.revokeAPIToken(id: "01jzzzzzzzzzzzzzzzzzzzzzzz") == nil)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func lastUseIsWrittenAtMostOncePerInterval(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let token = try await f.catalog.createAPIToken(Self.draft().draft)
            let start = f.clock.now
            #expect(try await f.catalog.recordAPITokenUse(id: token.id, minimumInterval: .seconds(60)))
            f.clock.advance(by: .seconds(59))
            #expect(try await !f.catalog.recordAPITokenUse(id: token.id, minimumInterval: .seconds(60)))
            #expect(try await f.catalog.apiToken(id: token.id)?.lastUsedAt == start)
            f.clock.advance(by: .seconds(1))
            #expect(try await f.catalog.recordAPITokenUse(id: token.id, minimumInterval: .seconds(60)))
            #expect(try await f.catalog.apiToken(id: token.id)?.lastUsedAt == f.clock.now)
            #expect(
                try await !f.catalog.recordAPITokenUse(id: "01jzzzzzzzzzzzzzzzzzzzzzzz", minimumInterval: .seconds(60)))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func concurrentLastUseWritersOnSeveralHandlesWriteOnce(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let token = try await f.catalog.createAPIToken(Self.draft().draft)
            let handles = [f.catalog, try await f.openAnother()]
            for round in 0..<4 {
                let writes = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for writer in 0..<16 {
                        let catalog = handles[writer % handles.count]
                        group.addTask {
                            try await catalog.recordAPITokenUse(id: token.id, minimumInterval: .seconds(60))
                        }
                    }
                    return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
                }
                #expect(writes == 1, "round \(round): \(writes) writers wrote")
                f.clock.advance(by: .seconds(60))
            }
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func badDraftsAreRefusedAndADigestIsUnique(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            var (draft, _) = Self.draft()
            for name in ["", "   ", String(repeating: "n", count: APITokens.maxNameLength + 1), "tab\tname"] {
                var bad = draft
                bad.name = name
                #expect(await catalogError { try await f.catalog.createAPIToken(bad) }?.code == .invalidInput)
            }
            var badDigest = draft
            badDigest.secretDigest = "not-a-digest"
            #expect(await catalogError { try await f.catalog.createAPIToken(badDigest) }?.code == .invalidInput)
            var badID = draft
            badID.id = "bootstrap"
            #expect(await catalogError { try await f.catalog.createAPIToken(badID) }?.code == .invalidInput)
            _ = try await f.catalog.createAPIToken(draft)
            draft.id = APITokenID.generate()
            #expect(await catalogError { try await f.catalog.createAPIToken(draft) }?.code == .invalidInput)
            #expect(try await f.catalog.apiTokens().count == 1)
        }
    }
}
