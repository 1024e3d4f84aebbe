import Foundation
import Model
import Storage
import Testing

@testable import Proxy

extension EndToEnd {
    /// The whole `docs/site-rules.md` table over real HTTP, against fixture builds
    /// published to the disk store and activated in the catalog.
    @Suite struct SiteRulesEndToEndTests {
        @Test(arguments: EdgeTransport.allCases) func theLookupOrderOfAStaticSiteHoldsEndToEnd(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let docs = try await proxy.deploy("docs", as: "manual")
                let files = docs.fixture

                // 2. The exact file.
                let style = try await proxy.get("/style.8e1f5c3a.css", slug: "manual")
                #expect(style.status == 200)
                #expect(style.body == Array(files.data("style.8e1f5c3a.css")))
                // 3. A directory path's index.
                let root = try await proxy.get("/", slug: "manual")
                #expect(root.status == 200 && root.body == Array(files.data("index.html")))
                #expect(try await proxy.get("/docs/", slug: "manual").body == Array(files.data("docs/index.html")))
                // 4. A directory without its slash: 301 to the canonical URL, query kept.
                let directory = try await proxy.get("/docs?page=2", slug: "manual")
                #expect(directory.status == 301)
                #expect(directory.header("Location") == "/docs/?page=2")
                #expect(directory.body.isEmpty)
                // 5. `p.html`.
                let pretty = try await proxy.get("/blog/first-post", slug: "manual")
                #expect(pretty.status == 200 && pretty.body == Array(files.data("blog/first-post.html")))
                // 7. The nearest 404.html, with 404.
                let nested = try await proxy.get("/docs/missing", slug: "manual")
                #expect(nested.status == 404 && nested.body == Array(files.data("docs/404.html")))
                let top = try await proxy.get("/nothing/here", slug: "manual")
                #expect(top.status == 404 && top.body == Array(files.data("404.html")))
                // A static site with a 404.html never falls back to index.html.
                #expect(try await proxy.get("/dashboard", slug: "manual").status == 404)
            }
        }

        @Test(arguments: EdgeTransport.allCases) func redirectAndRewriteRulesComeFirst(_ transport: EdgeTransport)
            async throws
        {
            try await withTestProxy(transport: transport) { proxy in
                let docs = try await proxy.deploy("docs", as: "manual")
                let moved = try await proxy.get("/old-about", slug: "manual")
                #expect(moved.status == 301 && moved.header("Location") == "/about")
                let placeholder = try await proxy.get("/blog/hello/amp", slug: "manual")
                #expect(placeholder.status == 302 && placeholder.header("Location") == "/blog/hello")
                let splat = try await proxy.get("/news/2024/a%20b?x=1", slug: "manual")
                #expect(splat.status == 301 && splat.header("Location") == "/blog/2024/a%20b?x=1")
                let external = try await proxy.get("/external/a/b", slug: "manual")
                #expect(external.status == 308 && external.header("Location") == "https://example.org/a/b")
                // An existing file shadows an unforced rule; a forced rule wins over a file.
                let shadowed = try await proxy.get("/about", slug: "manual")
                #expect(shadowed.status == 200 && shadowed.body == Array(docs.fixture.data("about.html")))
                let forced = try await proxy.get("/docs/guide/intro", slug: "manual")
                #expect(forced.status == 200 && forced.body == Array(docs.fixture.data("about.html")))
                // A 200 rule rewrites; a 404 rule serves its target with 404.
                let rewritten = try await proxy.get("/docs/legacy/anything", slug: "manual")
                #expect(rewritten.status == 200 && rewritten.body == Array(docs.fixture.data("docs/index.html")))
                let gone = try await proxy.get("/gone", slug: "manual")
                #expect(gone.status == 404 && gone.body == Array(docs.fixture.data("404.html")))
                // The rule that would redirect to `//evil.example` was refused when parsed.
                #expect(try await proxy.get("/bad", slug: "manual").status == 404)
            }
        }

        @Test(arguments: EdgeTransport.allCases) func anSPAFallsBackToIndexButAMissingHashedAssetIsA404NeverHTML(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let spa = try await proxy.deploy("spa", as: "webapp", spa: .auto)
                let route = try await proxy.get("/dashboard/settings", slug: "webapp")
                #expect(route.status == 200 && route.body == Array(spa.fixture.data("index.html")))
                #expect(route.header("Content-Type") == "text/html; charset=utf-8")
                let missingAsset = try await proxy.get("/assets/index-00000000.js", slug: "webapp")
                #expect(missingAsset.status == 404)
                #expect(missingAsset.header("Cache-Control") == "no-store")
                #expect(!missingAsset.text.contains(String(decoding: spa.fixture.data("index.html"), as: UTF8.self)))
                let asset = try await proxy.get("/assets/index-BQk2xXcD.js", slug: "webapp")
                #expect(asset.status == 200 && asset.header("Cache-Control") == "public, max-age=31536000, immutable")
                let redirect = try await proxy.get("/api/v1/users", slug: "webapp")
                #expect(redirect.status == 302 && redirect.header("Location") == "https://api.example.com/v1/users")
            }
        }

        @Test(arguments: EdgeTransport.allCases) func theSPAModeOfTheSiteDecidesTheFallback(_ transport: EdgeTransport)
            async throws
        {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("spa", as: "strict", spa: .static)
                let route = try await proxy.get("/dashboard", slug: "strict")
                #expect(route.status == 404)
                #expect(route.text.contains("Page not found")) // the built-in 404 page
                _ = try await proxy.deploy("docs", as: "forced", spa: .spa)
                // `spa` falls back even though the build has a 404.html.
                #expect(try await proxy.get("/some/route", slug: "forced").status == 200)
            }
        }

        @Test(arguments: EdgeTransport.allCases) func fileHeadersFollowTheManifestAndTheHeadersRules(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let docs = try await proxy.deploy("docs", as: "manual")
                let manifest = docs.fixture.manifest
                let page = try await proxy.get("/about", slug: "manual")
                #expect(page.header("Content-Type") == "text/html; charset=utf-8")
                #expect(page.header("Content-Length") == String(manifest.files["about.html"]!.size))
                #expect(page.header("ETag") == "\"\(manifest.files["about.html"]!.etag)\"")
                #expect(page.header("Last-Modified") == HTTPDate.format(manifest.createdAt))
                #expect(page.header("Cache-Control") == "public, max-age=0, must-revalidate")
                #expect(page.header("X-Content-Type-Options") == "nosniff")
                #expect(page.header("Date") != nil)
                #expect(page.header("X-Frame-Options") == "DENY")
                #expect(page.header("Permissions-Policy") == "camera=()")
                #expect(page.header("Vary") == nil)

                let css = try await proxy.get("/style.8e1f5c3a.css", slug: "manual")
                #expect(css.header("Cache-Control") == "public, max-age=31536000, immutable")
                #expect(css.header("Content-Type") == "text/css; charset=utf-8")

                // `/assets/*` joins the repeated header with ", " and adds CORS.
                let asset = try await proxy.get("/assets/app-3f9a1b2c.js", slug: "manual")
                #expect(asset.header("Access-Control-Allow-Origin") == "*")
                #expect(asset.header("X-Frame-Options") == "DENY, SAMEORIGIN")
                #expect(asset.header("Vary") == "Accept-Encoding")

                // `/docs/*` removes X-Frame-Options; its Set-Cookie line was refused.
                let guide = try await proxy.get("/docs/", slug: "manual")
                #expect(guide.header("X-Frame-Options") == nil)
                #expect(guide.header("Set-Cookie") == nil)
                #expect(guide.header("X-Content-Type-Options") == "nosniff")
            }
        }

        @Test(arguments: EdgeTransport.allCases) func hostsAreMatchedAsSiteRulesSay(_ transport: EdgeTransport)
            async throws
        {
            try await withTestProxy(transport: transport) { proxy in
                let docs = try await proxy.deploy("docs", as: "manual")
                let index = Array(docs.fixture.data("index.html"))
                for host in ["MANUAL.Apps.Test", "manual.apps.test.", "manual.apps.test:8080", "manual.apps.test.:443"]
                {
                    let response = try await proxy.request("/", host: host)
                    #expect(response.status == 200 && response.body == index, "\(host)")
                }
                for host in [
                    "apps.test", "a.manual.apps.test", "manual.example.org", "127.0.0.1", "[::1]:80",
                    "nosuch.apps.test",
                ] {
                    let response = try await proxy.request("/", host: host)
                    #expect(response.status == 404, "\(host)")
                    #expect(response.text.contains("No site here"), "\(host)")
                    #expect(response.header("Cache-Control") == "no-store")
                }
                // X-Forwarded-Host and friends never change routing.
                let forwarded = try await proxy.request(
                    "/", host: "nosuch.apps.test",
                    headers: [
                        ("X-Forwarded-Host", "manual.apps.test"), ("Forwarded", "host=manual.apps.test"),
                        ("X-Host", "manual.apps.test"),
                    ])
                #expect(forwarded.status == 404)
            }
        }

        @Test(arguments: EdgeTransport.allCases) func previewURLsServeOneSuccessfulBuildWithNoindex(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let first = try await proxy.deploy("docs", as: "manual")
                // Build 2 succeeds and goes live; build 1 stays reachable as a preview.
                let second = try await proxy.startBuild(of: first.site)
                let spaFiles = try proxy.fixture("spa", site: first.site, build: second)
                _ = try await proxy.succeed(second, with: spaFiles)
                _ = try await proxy.catalog.activate(siteID: first.site.id, buildID: second.id, allowOlder: false)
                try await proxy.waitUntil("build 2 is live") {
                    proxy.server.siteTable.lookup(slug: "manual")?.activeBuildID == second.id
                }

                let live = try await proxy.get("/", slug: "manual")
                #expect(live.body == Array(spaFiles.data("index.html")))
                #expect(live.header("X-Robots-Tag") == nil)
                let preview = try await proxy.request("/", host: "1--manual.\(TestProxy.domain)")
                #expect(preview.status == 200 && preview.body == Array(first.fixture.data("index.html")))
                #expect(preview.header("X-Robots-Tag") == "noindex")
                let previewMissing = try await proxy.request("/nope", host: "1--manual.\(TestProxy.domain)")
                #expect(previewMissing.status == 404 && previewMissing.header("X-Robots-Tag") == "noindex")
                let unknown = try await proxy.request("/", host: "9--manual.\(TestProxy.domain)")
                #expect(unknown.status == 404 && unknown.text.contains("No such preview"))
            }
        }
    }
}
