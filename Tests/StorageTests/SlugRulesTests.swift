import Testing

@testable import Storage

@Suite struct SlugRulesTests {
    @Test func validSlugsPass() {
        for slug in ["a", "blog", "my-site", "a1", String(repeating: "a", count: 63)] {
            #expect(SlugRules.isValid(slug), "\(slug)")
        }
    }

    @Test func invalidSlugsSayWhatToFix() {
        for slug in ["", "-a", "a-", "A", "a_b", "a--b", "admin", "www", String(repeating: "a", count: 64), "é"] {
            #expect(SlugRules.problem(with: slug) != nil, "\(slug)")
        }
        #expect(SlugRules.problem(with: "admin")!.contains("reserved"))
    }

    @Test func slugsAreDerivedFromRepositoryNames() {
        #expect(SlugRules.derive(fromRepository: "https://github.com/acme/My_Site.git") == "my-site")
        #expect(SlugRules.derive(fromRepository: "https://github.com/acme/docs--v2/") == "docs-v2")
        #expect(SlugRules.derive(fromRepository: "/srv/git/api") == "api-site")
        #expect(SlugRules.derive(fromRepository: "https://h/___") == "site")
        #expect(SlugRules.isValid(SlugRules.derive(fromRepository: "https://h/" + String(repeating: "x", count: 200))))
    }
}
