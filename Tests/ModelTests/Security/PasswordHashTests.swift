import Foundation
import Model
import Testing

@Suite struct PasswordHashTests {
    static let cheap = PasswordHash.Cost(n: 16, r: 1, p: 1)

    @Test func aHashVerifiesItsPasswordAndNoOther() {
        let hash = PasswordHash.make("correct horse", cost: Self.cheap)
        #expect(PasswordHash.verify("correct horse", against: hash))
        #expect(!PasswordHash.verify("correct horsE", against: hash))
        #expect(!PasswordHash.verify("", against: hash))
    }

    @Test func theFormSaysWhichParametersAndSaltMadeIt() throws {
        let hash = PasswordHash.make("correct horse")
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false)
        #expect(parts.count == 6 && parts[0] == "scrypt" && parts[1] == "32768" && parts[2] == "8" && parts[3] == "1")
        #expect(try #require(Data(base64Encoded: String(parts[4]))).count == 16)
        #expect(try #require(Data(base64Encoded: String(parts[5]))).count == 32)
        #expect(PasswordHash.isWellFormed(hash))
        #expect(PasswordHash.verify("correct horse", against: hash))
        // A fresh salt every time.
        #expect(
            PasswordHash.make("correct horse", cost: Self.cheap) != PasswordHash.make("correct horse", cost: Self.cheap)
        )
    }

    @Test func malformedOrExcessiveHashesNeverVerify() {
        let hash = PasswordHash.make("pw", cost: Self.cheap)
        let parts = hash.split(separator: "$").map(String.init)
        let variants = [
            "", "plain", "bcrypt$16$1$1$\(parts[4])$\(parts[5])",
            // N not a power of two, N far too large, r too large.
            "scrypt$15$1$1$\(parts[4])$\(parts[5])", "scrypt$\(1 << 24)$8$1$\(parts[4])$\(parts[5])",
            "scrypt$16$64$1$\(parts[4])$\(parts[5])", "scrypt$16$1$1$\(parts[4])$AAAA",
            "scrypt$16$1$1$$\(parts[5])", hash + "$extra",
        ]
        for variant in variants {
            #expect(!PasswordHash.isWellFormed(variant), "\(variant)")
            #expect(!PasswordHash.verify("pw", against: variant), "\(variant)")
        }
    }

    @Test func constantTimeComparisonComparesWholeStrings() {
        #expect(PasswordHash.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!PasswordHash.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!PasswordHash.constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
    }
}

@Suite struct SiteProtectionTests {
    @Test func passwordsMustBe8To1024BytesWithoutControlCharacters() {
        #expect(SiteProtection.passwordProblem("1234567")?.contains("at least 8") == true)
        #expect(SiteProtection.passwordProblem("12345678") == nil)
        #expect(SiteProtection.passwordProblem(String(repeating: "x", count: 1024)) == nil)
        #expect(SiteProtection.passwordProblem(String(repeating: "x", count: 1025))?.contains("1024") == true)
        #expect(SiteProtection.passwordProblem("pass\nword")?.contains("control") == true)
        #expect(SiteProtection.passwordProblem("pässwört ok") == nil)
    }

    @Test func usernamesAreVisibleASCIIWithoutColons() {
        #expect(SiteProtection.usernameProblem("team-a.b_c@x") == nil)
        #expect(SiteProtection.usernameProblem("") != nil)
        #expect(SiteProtection.usernameProblem("a b") != nil)
        #expect(SiteProtection.usernameProblem("a:b") != nil)
        #expect(SiteProtection.usernameProblem("ü") != nil)
        #expect(SiteProtection.usernameProblem(String(repeating: "u", count: 65)) != nil)
    }

    @Test func previewsOnlyLeavesProductionPublic() {
        let everywhere = SiteProtection(mode: .password, version: 1)
        let previews = SiteProtection(mode: .password, previewsOnly: true, version: 1)
        #expect(everywhere.applies(isPreview: false) && everywhere.applies(isPreview: true))
        #expect(!previews.applies(isPreview: false) && previews.applies(isPreview: true))
        #expect(!SiteProtection.none.applies(isPreview: true))
    }

    @Test func aSiteEncodedWithoutProtectionDecodesAsPublic() throws {
        let site = Site(
            id: SiteID.generate(at: Date(timeIntervalSince1970: 1_750_000_000)), slug: "a", repoURL: "r",
            branch: "main", rootDir: nil, installCommand: nil, buildCommand: nil, outputDir: nil, spa: .auto, env: [],
            activeBuildID: nil, createdAt: Date(timeIntervalSince1970: 0), updatedAt: Date(timeIntervalSince1970: 0),
            protection: SiteProtection(mode: .password, version: 3))
        var object = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(site)) as? [String: Any])
        #expect(object["protectionSettings"] != nil)
        object["protectionSettings"] = nil
        let older = try JSONDecoder().decode(Site.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(older.protection == .none)
        #expect(try JSONDecoder().decode(Site.self, from: try JSONEncoder().encode(site)).protection.version == 3)
    }
}
