import Testing

@testable import Model

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

@Suite struct SlugUniquingTests {
    @Test func aFreeBaseIsKeptAndATakenOneGetsTheFirstFreeNumber() {
        #expect(SlugRules.unique("blog", avoiding: []) == "blog")
        #expect(SlugRules.unique("blog", avoiding: ["blog"]) == "blog-2")
        #expect(SlugRules.unique("blog", avoiding: ["blog", "blog-2", "blog-3"]) == "blog-4")
        #expect(SlugRules.unique("blog", avoiding: ["blog", "blog-3"]) == "blog-2")
    }

    @Test func aLongBaseIsShortenedSoTheNumberFits() {
        let base = String(repeating: "a", count: 62) + "b"
        let slug = SlugRules.unique(base, avoiding: [base])
        #expect(slug.count == 63)
        #expect(slug.hasSuffix("-2"))
        #expect(SlugRules.isValid(slug))
        let hyphenated = String(repeating: "a", count: 60) + "-xy"
        let shortened = SlugRules.unique(hyphenated, avoiding: [hyphenated])
        #expect(SlugRules.isValid(shortened))
        #expect(shortened == String(repeating: "a", count: 60) + "-2")
    }
}
