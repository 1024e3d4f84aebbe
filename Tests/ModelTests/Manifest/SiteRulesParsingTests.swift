import Foundation
import Testing

@testable import Model

@Suite struct SiteRulesParsingTests {
    @Test func redirectLinesParseWithDefaultsCommentsAndForce() {
        let (rules, problems) = RedirectRules.parse(
            """
            # comment
            /a /b
            /c   /d   302  # trailing comment
            /e /f 200!

            /g https://example.com/x 307
            """)
        #expect(problems.isEmpty)
        #expect(rules.map(\.status) == [301, 302, 200, 307])
        #expect(rules.map(\.force) == [false, false, true, false])
        #expect(rules.map(\.line) == [2, 3, 4, 6])
    }

    @Test func invalidRedirectLinesAreReportedWithTheirLineNumbers() {
        let (rules, problems) = RedirectRules.parse(
            """
            /only-one-field
            /a /b 299
            /a //evil.example 301
            /a https://evil.example 200
            /a javascript:alert(1) 302
            relative /b
            /a*b /c
            /a /b 301 Country=nl
            /ok /fine
            """)
        #expect(rules.map(\.from.source) == ["/ok"])
        #expect(problems.map(\.line) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(problems.allSatisfy { !$0.message.isEmpty && $0.file == "_redirects" })
    }

    @Test func redirectLimitsAreEnforced() {
        let many = (0..<2_005).map { "/r\($0) /t" }.joined(separator: "\n")
        let (rules, problems) = RedirectRules.parse(many)
        #expect(rules.count == RedirectRules.maxRules && problems.count == 1)
        let long = "/" + String(repeating: "a", count: 1_001) + " /b"
        #expect(RedirectRules.parse(long).rules.isEmpty)
    }

    @Test func placeholdersAndSplatsFillTheTarget() throws {
        let rule = RedirectRule(
            from: try RoutePattern("/blog/:year/:slug/*"), to: "/posts/:year-:slug/:splat", status: 301, force: false,
            line: 1)
        #expect(rule.target(for: "/blog/2024/hi/x/y") == "/posts/2024-hi/x/y")
        #expect(rule.target(for: "/blog/2024/hi") == "/posts/2024-hi/")
        #expect(rule.target(for: "/blog/2024") == nil)
        let splat = RedirectRule(from: try RoutePattern("/go/*"), to: "/:splat", status: 301, force: false, line: 1)
        #expect(splat.target(for: "/go//evil.example/") == "/evil.example/")
    }

    @Test func headerBlocksParseAndApplyInOrder() {
        let (rules, problems) = HeaderRules.parse(
            """
            /*
              X-Frame-Options: DENY
              Link: </a.css>; rel=preload
            /assets/*
              Cache-Control: public, max-age=60
              Link: </b.js>; rel=preload
            /assets/private/*
              ! Cache-Control
              ! X-Frame-Options
            """)
        #expect(problems.isEmpty)
        #expect(rules.count == 3)
        let assets = HeaderRules.resolve(rules, for: "/assets/app.js")
        #expect(assets.headers.map(\.name) == ["X-Frame-Options", "Link", "Cache-Control"])
        #expect(assets.headers[1].value == "</a.css>; rel=preload, </b.js>; rel=preload")
        let hidden = HeaderRules.resolve(rules, for: "/assets/private/x")
        #expect(hidden.removed == ["cache-control", "x-frame-options"])
        #expect(hidden.headers.map(\.name) == ["Link"])
    }

    @Test func framingAndCookieHeadersCanNeverBeSet() {
        let (rules, problems) = HeaderRules.parse(
            """
            /*
              Content-Length: 1
              Set-Cookie: a=b
              Location: https://evil.example
              Transfer-Encoding: chunked
              ! Content-Encoding
              Bad Name: x
              X-Ok: yes
            X-Orphan: no
            """)
        #expect(rules.count == 1 && rules[0].operations == [HeaderOperation(name: "X-Ok", value: "yes")])
        #expect(problems.map(\.line) == [2, 3, 4, 5, 6, 7, 9])
    }

    /// The repository's own rule files: the fixture sites the builder and
    /// the proxy are tested with.
    static let ruleFixtures: [(file: String, path: String)] = {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return [
            ("_redirects", "BuilderTests/Fixtures/vite-spa/public/_redirects"),
            ("_headers", "BuilderTests/Fixtures/vite-spa/public/_headers"),
            ("_redirects", "ProxyTests/Fixtures/sites/spa/_redirects"),
            ("_redirects", "ProxyTests/Fixtures/sites/docs/_redirects"),
            ("_headers", "ProxyTests/Fixtures/sites/docs/_headers"),
        ].map { ($0.0, tests.appendingPathComponent($0.1).path) }
    }()

    /// `"\r\n"` is one `Character`: a file saved with CRLF line ends must
    /// still be read line by line, with the same rules, problems and line
    /// numbers as with LF.
    @Test func ruleFilesWithCRLFLineEndsParseExactlyLikeWithLF() throws {
        for (file, path) in Self.ruleFixtures {
            let lf = try String(contentsOfFile: path, encoding: .utf8)
            #expect(!lf.contains("\r"), "\(path) is the LF original")
            let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
            if file == "_redirects" {
                let (rules, problems) = RedirectRules.parse(lf)
                #expect(!rules.isEmpty, "\(path)")
                #expect(RedirectRules.parse(crlf).rules == rules, "\(path)")
                #expect(RedirectRules.parse(crlf).problems == problems, "\(path)")
            } else {
                let (rules, problems) = HeaderRules.parse(lf)
                #expect(!rules.isEmpty, "\(path)")
                #expect(HeaderRules.parse(crlf).rules == rules, "\(path)")
                #expect(HeaderRules.parse(crlf).problems == problems, "\(path)")
            }
        }
    }

    /// A file edited on two systems mixes both line ends.
    @Test func ruleFilesMixingLFAndCRLFParseLineByLine() {
        let redirects = RedirectRules.parse("# moved\r\n/a /b 302\n/c /d\r\n\r\n/e   /f   200!\r\n")
        #expect(redirects.problems.isEmpty)
        #expect(redirects.rules.map(\.from.source) == ["/a", "/c", "/e"])
        #expect(redirects.rules.map(\.to) == ["/b", "/d", "/f"])
        #expect(redirects.rules.map(\.status) == [302, 301, 200])
        #expect(redirects.rules.map(\.line) == [2, 3, 5])
        let headers = HeaderRules.parse("/*\r\n  X-Frame-Options: DENY\n  X-A: b\r\n/x/*\r\n  ! X-A\r\n")
        #expect(headers.problems.isEmpty)
        #expect(headers.rules.map(\.pattern.source) == ["/*", "/x/*"])
        #expect(
            headers.rules.flatMap(\.operations) == [
                HeaderOperation(name: "X-Frame-Options", value: "DENY"), HeaderOperation(name: "X-A", value: "b"),
                HeaderOperation(name: "X-A", value: nil),
            ])
        #expect(headers.rules.map(\.line) == [1, 4])
    }

    @Test func contentTypesComeFromTheExtensionWithCharsetForText() {
        #expect(ContentTypes.forPath("index.html") == "text/html; charset=utf-8")
        #expect(ContentTypes.forPath("a/b/app.JS") == "text/javascript; charset=utf-8")
        #expect(ContentTypes.forPath("logo.svg") == "image/svg+xml")
        #expect(ContentTypes.forPath("font.woff2") == "font/woff2")
        #expect(ContentTypes.forPath("LICENSE") == "application/octet-stream")
        #expect(ContentTypes.forPath(".env") == "application/octet-stream")
        #expect(ContentTypes.isCompressible("text/css; charset=utf-8") && ContentTypes.isCompressible("image/svg+xml"))
        #expect(!ContentTypes.isCompressible("image/png") && !ContentTypes.isCompressible("font/woff2"))
    }

    @Test func hashedAssetsAreImmutableAndPagesAreNot() {
        for path in [
            "index-3f9a1b2c.js", "static/js/main.8e1f5c3a.js", "assets/logo.png", "_astro/page.DxK3pQ9a.css",
            "_next/static/chunks/app.js", "img/photo.a1b2c3d4e5.webp",
        ] {
            #expect(AssetClassifier.isImmutable(path), "\(path)")
        }
        for path in [
            "index.html", "assets/index.html", "settings.js", "static/style.css", "app.js", "2024-report.pdf",
            "releases-20240101.txt", "deadbeef.js",
        ] {
            #expect(!AssetClassifier.isImmutable(path), "\(path)")
        }
    }

    @Test func manifestsRoundTripAndRefuseUnknownVersions() throws {
        let manifest = BuildManifest(
            siteID: "s1", buildID: "b1", createdAt: Date(timeIntervalSince1970: 1_700_000_000),
            files: [
                "index.html": ManifestFile(
                    size: 3, etag: "abc", contentType: "text/html; charset=utf-8", immutable: false,
                    variants: ["gzip": ManifestVariant(path: "index.html.gz", size: 2, etag: "def")])
            ],
            redirects: RedirectRules.parse("/a /b").rules, headers: HeaderRules.parse("/*\n  X-A: b").rules)
        let data = try manifest.encoded()
        #expect(try BuildManifest.decode(data) == manifest)
        #expect(manifest.objectKey(for: "index.html") == "sites/s1/b1/index.html")
        #expect(BuildManifest.key(siteID: "s1", buildID: "b1") == "manifests/s1/b1.json")
        var future = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        future["version"] = 99
        #expect(throws: ManifestError.self) {
            try BuildManifest.decode(try JSONSerialization.data(withJSONObject: future))
        }
        #expect(throws: ManifestError.self) { try BuildManifest.decode(Data("not json".utf8)) }
    }
}
