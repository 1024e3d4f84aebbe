import Model
import Storage
import Testing

@testable import Proxy

@Suite struct PathResolverTests {
    let docs: FixtureSite
    let spa: FixtureSite

    init() throws {
        docs = try FixtureSite("docs")
        spa = try FixtureSite("spa")
    }

    func resolve(_ target: String, in site: FixtureSite, spa fallback: Bool = false) throws -> Resolution {
        PathResolver.resolve(
            try RequestPath(target: target), in: site.manifest, routes: RouteIndex(site.manifest), spaFallback: fallback
        )
    }

    @Test func exactFilesAndDirectoryIndexesAreServed() throws {
        #expect(try resolve("/", in: docs) == .file(path: "index.html", status: 200))
        #expect(try resolve("/style.8e1f5c3a.css", in: docs) == .file(path: "style.8e1f5c3a.css", status: 200))
        #expect(try resolve("/docs/", in: docs) == .file(path: "docs/index.html", status: 200))
    }

    @Test func aNameStartingWithACombiningMarkIsLookedUpWhole() throws {
        // U+033E joins the leading '/' into one Character; the lookup drops the '/' byte only.
        let file = ManifestFile(size: 1, etag: "\"e\"", contentType: "text/html", immutable: false)
        let manifest = BuildManifest(
            siteID: "site", buildID: "build", files: ["\u{33E}/index.html": file, "\u{33E}x.html": file]
        )
        let routes = RouteIndex(manifest)
        func resolve(_ target: String) throws -> Resolution {
            PathResolver.resolve(try RequestPath(target: target), in: manifest, routes: routes, spaFallback: false)
        }
        #expect(try resolve("/%CC%BE/") == .file(path: "\u{33E}/index.html", status: 200))
        #expect(try resolve("/%CC%BEx.html") == .file(path: "\u{33E}x.html", status: 200))
    }

    @Test func aDirectoryWithoutSlashRedirectsToTheCanonicalURLKeepingTheQuery() throws {
        #expect(try resolve("/docs", in: docs) == .redirect(location: "/docs/", status: 301))
        #expect(try resolve("/docs?page=2", in: docs) == .redirect(location: "/docs/?page=2", status: 301))
        // Repeated slashes can never turn the Location into a protocol-relative URL.
        #expect(try resolve("//docs", in: docs) == .redirect(location: "/docs/", status: 301))
    }

    @Test func prettyURLsServeTheHTMLFile() throws {
        #expect(try resolve("/blog/first-post", in: docs) == .file(path: "blog/first-post.html", status: 200))
    }

    @Test func redirectRulesApplyInOrderWithPlaceholdersAndSplats() throws {
        #expect(try resolve("/old-about", in: docs) == .redirect(location: "/about", status: 301))
        #expect(try resolve("/blog/hello/amp", in: docs) == .redirect(location: "/blog/hello", status: 302))
        #expect(
            try resolve("/news/2024/a%20b?x=1", in: docs) == .redirect(location: "/blog/2024/a%20b?x=1", status: 301))
        #expect(try resolve("/external/a/b", in: docs) == .redirect(location: "https://example.org/a/b", status: 308))
    }

    @Test func existingFilesShadowRulesUnlessForced() throws {
        // `/about /docs/ 301` is shadowed by about.html.
        #expect(try resolve("/about", in: docs) == .file(path: "about.html", status: 200))
        // `/docs/guide/intro /about.html 200!` is forced over intro.html.
        #expect(try resolve("/docs/guide/intro", in: docs) == .file(path: "about.html", status: 200))
    }

    @Test func rewritesServeTheTargetAnd404RulesServeWith404() throws {
        #expect(try resolve("/docs/legacy/anything", in: docs) == .file(path: "docs/index.html", status: 200))
        #expect(try resolve("/gone", in: docs) == .file(path: "404.html", status: 404))
    }

    @Test func invalidRuleLinesAreReportedAndSkipped() {
        #expect(docs.problems.filter { $0.file == "_redirects" }.map(\.line) == [10, 11])
        #expect(docs.problems.filter { $0.file == "_headers" }.map(\.line) == [9])
        #expect(!docs.manifest.redirects.contains { $0.to.hasPrefix("//") })
    }

    @Test func theNearestNotFoundPageAnswersWith404() throws {
        #expect(try resolve("/docs/missing", in: docs) == .file(path: "docs/404.html", status: 404))
        #expect(try resolve("/docs/deep/er/missing/", in: docs) == .file(path: "docs/404.html", status: 404))
        #expect(try resolve("/nothing", in: docs) == .file(path: "404.html", status: 404))
    }

    @Test func spaRoutesFallBackToIndexButMissingAssetsDoNot() throws {
        #expect(try resolve("/dashboard/settings", in: spa, spa: true) == .file(path: "index.html", status: 200))
        #expect(try resolve("/assets/index-00000000.js", in: spa, spa: true) == .notFound)
        #expect(try resolve("/favicon.ico", in: spa, spa: true) == .file(path: "favicon.ico", status: 200))
        #expect(try resolve("/dashboard", in: spa, spa: false) == .notFound)
    }

    @Test func spaRedirectRulesStillComeFirst() throws {
        #expect(
            try resolve("/api/v1/users", in: spa, spa: true)
                == .redirect(location: "https://api.example.com/v1/users", status: 302))
    }
}
