import Foundation
import MetricsTestKit
import Model
import Storage
import Testing

@testable import Proxy

extension EndToEnd {
    /// The proxy warms its own body cache when a build is activated
    /// (`Sources/Proxy/Serving/CachePrefetcher.swift`): through a
    /// `FaultyStore`, which counts the GETs of every key, so that each claim
    /// is proven by counters, never by timing.
    @Suite struct PrefetchEndToEndTests {
        /// A page large enough to get a gzip variant.
        static let guide = Data(String(repeating: "<p>Slipway serves static sites.</p>\n", count: 100).utf8)

        /// A proxy on a `FaultyStore` with prefetching on (the tests' default
        /// configuration turns it off) and metrics the test can read.
        func withPrefetchingProxy(
            configure: @escaping (inout ProxyConfiguration.Prefetch) -> Void = { _ in },
            _ body: (TestProxy, FaultyStore, TestMetrics) async throws -> Void
        ) async throws {
            let metrics = TestMetrics()
            try await withFaultyStore(
                metricsFactory: metrics,
                configure: {
                    $0.prefetch = ProxyConfiguration.Prefetch()
                    configure(&$0.prefetch)
                }
            ) { proxy, store in
                try await body(proxy, store, metrics)
            }
        }

        /// A site with one successful build of `fixture`, published but not activated yet.
        struct Prepared {
            var site: Site
            var build: Build
            var fixture: FixtureSite

            func key(_ path: String) -> String { fixture.manifest.objectKey(for: path) }
            /// The body cache's key of a file or of its variant: its object key.
            func cacheKey(_ path: String, encoding: String? = nil) -> String {
                guard let encoding, let variant = fixture.manifest.files[path]?.variants[encoding] else {
                    return BodyCache.key(objectKey: key(path))
                }
                return BodyCache.key(objectKey: key(variant.path))
            }
            var manifestKey: String { BuildManifest.key(siteID: site.id.rawValue, buildID: build.id.rawValue) }
        }

        func prepare(
            _ proxy: TestProxy, slug: String, site: Site? = nil,
            fixture make: (Site, Build) throws -> FixtureSite
        ) async throws -> Prepared {
            let site = if let site { site } else { try await proxy.createSite(slug) }
            let build = try await proxy.startBuild(of: site)
            let fixture = try make(site, build)
            _ = try await proxy.succeed(build, with: fixture)
            return Prepared(site: site, build: build, fixture: fixture)
        }

        /// Activates `prepared`'s build and waits until the proxy's table has it.
        func activate(_ prepared: Prepared, _ proxy: TestProxy) async throws {
            _ = try await proxy.catalog.activate(
                siteID: prepared.site.id, buildID: prepared.build.id, allowOlder: false)
            try await proxy.waitUntil("\(prepared.site.slug) is live") {
                proxy.server.siteTable.lookup(slug: prepared.site.slug)?.activeBuildID == prepared.build.id
            }
        }

        static func prefetches(_ metrics: TestMetrics, _ result: ProxyMetrics.PrefetchResult) -> Int64 {
            (try? metrics.expectCounter("slipway_proxy_prefetches_total", [("result", result.rawValue)]).totalValue)
                ?? 0
        }

        static func counter(_ metrics: TestMetrics, _ label: String) -> Int64 {
            (try? metrics.expectCounter(label).totalValue) ?? 0
        }

        @Test func anActivatedBuildsHTMLIsFetchedOnceWithoutARequestAndTheFirstRequestIsAHit() async throws {
            try await withPrefetchingProxy { proxy, store, metrics in
                let prepared = try await prepare(proxy, slug: "manual") { site, build in
                    try proxy.fixture("docs", site: site, build: build, extraFiles: ["guide.html": Self.guide])
                }
                let manifest = prepared.fixture.manifest
                let gzip = try #require(manifest.files["guide.html"]?.variants["gzip"])
                try await activate(prepared, proxy)
                try await proxy.waitUntil("the prefetch is done") { Self.prefetches(metrics, .completed) == 1 }

                // No request was made: every HTML body and variant was read once, nothing else was.
                let html = manifest.files.filter { $0.value.contentType.hasPrefix("text/html") }
                #expect(html.count == 8)
                #expect(store.gets(prepared.manifestKey) == 1)
                for path in html.keys {
                    #expect(store.gets(prepared.key(path)) == 1, "\(path)")
                    #expect(proxy.server.bodyCache.contains(prepared.cacheKey(path)), "\(path)")
                }
                #expect(store.gets(prepared.key(gzip.path)) == 1)
                #expect(proxy.server.bodyCache.contains(prepared.cacheKey("guide.html", encoding: "gzip")))
                for path in ["style.8e1f5c3a.css", "assets/app-3f9a1b2c.js"] {
                    #expect(store.gets(prepared.key(path)) == 0, "\(path)")
                }
                let objects = html.count + 1
                let bytes = html.values.reduce(gzip.size) { $0 + $1.size }
                #expect(Self.counter(metrics, "slipway_proxy_prefetched_objects_total") == Int64(objects))
                #expect(Self.counter(metrics, "slipway_proxy_prefetched_bytes_total") == bytes)

                // The first requests after the flip are hits, and the store hears nothing more.
                for (target, path) in [("/", "index.html"), ("/about", "about.html"), ("/guide", "guide.html")] {
                    let response = try await proxy.get(target, slug: "manual")
                    #expect(response.status == 200 && response.header("X-Cache") == "HIT", "\(target)")
                    #expect(response.body == Array(prepared.fixture.data(path)), "\(target)")
                }
                let compressed = try await proxy.get("/guide", slug: "manual", headers: [("Accept-Encoding", "gzip")])
                #expect(compressed.header("Content-Encoding") == "gzip" && compressed.header("X-Cache") == "HIT")
                #expect(compressed.body == Array(prepared.fixture.data(gzip.path)))
                #expect(store.gets(prepared.manifestKey) == 1)
                for path in html.keys { #expect(store.gets(prepared.key(path)) == 1, "\(path)") }
                #expect(store.gets(prepared.key(gzip.path)) == 1)
            }
        }

        @Test func filesOverThePerFileLimitAndOtherTypesAreNotPrefetched() async throws {
            try await withPrefetchingProxy(configure: { $0.maxFileBytes = 4 << 10 }) { proxy, store, metrics in
                let prepared = try await prepare(proxy, slug: "limits") { site, build in
                    try FixtureSite(
                        files: [
                            "index.html": Data("<h1>home</h1>".utf8), "big.html": patternBytes(count: 8 << 10),
                            "edge.html": patternBytes(count: 4 << 10, seed: 5),
                            "data.json": Data(#"{"small": true}"#.utf8), "note.txt": Data("small text".utf8),
                        ],
                        siteID: site.id.rawValue, buildID: build.id.rawValue)
                }
                try await activate(prepared, proxy)
                try await proxy.waitUntil("the prefetch is done") { Self.prefetches(metrics, .completed) == 1 }

                #expect(store.gets(prepared.key("index.html")) == 1)
                #expect(store.gets(prepared.key("edge.html")) == 1) // exactly at the limit
                for path in ["big.html", "data.json", "note.txt"] {
                    #expect(store.gets(prepared.key(path)) == 0, "\(path)")
                    #expect(!proxy.server.bodyCache.contains(prepared.cacheKey(path)), "\(path)")
                }
                let variants = prepared.fixture.manifest.files["edge.html"]?.variants.count ?? 0
                #expect(Self.counter(metrics, "slipway_proxy_prefetched_objects_total") == Int64(2 + variants))

                // What was left out is loaded by the first request, as before.
                let big = try await proxy.get("/big", slug: "limits")
                #expect(big.status == 200 && big.header("X-Cache") == "MISS")
                #expect(big.body == Array(prepared.fixture.data("big.html")))
                #expect(store.gets(prepared.key("big.html")) == 1)
            }
        }

        @Test func theByteBudgetOfAnActivationIsRespected() async throws {
            try await withPrefetchingProxy(configure: { $0.maxBytes = 500 }) { proxy, store, metrics in
                // Under 256 bytes: no gzip variants, so each page costs its size.
                let prepared = try await prepare(proxy, slug: "budget") { site, build in
                    try FixtureSite(
                        files: [
                            "index.html": patternBytes(count: 200, seed: 1),
                            "a.html": patternBytes(count: 200, seed: 2),
                            "b.html": patternBytes(count: 200, seed: 3), "c.html": patternBytes(count: 200, seed: 4),
                            "d.html": patternBytes(count: 100, seed: 5),
                        ],
                        siteID: site.id.rawValue, buildID: build.id.rawValue)
                }
                try #require(prepared.fixture.manifest.files.values.allSatisfy { $0.variants.isEmpty })
                try await activate(prepared, proxy)
                try await proxy.waitUntil("the prefetch is done") { Self.prefetches(metrics, .completed) == 1 }

                // index.html first, then by path: index + a fill 400 bytes, b and c
                // would go over 500, d still fits.
                let fetched = ["index.html", "a.html", "d.html"]
                for path in fetched { #expect(store.gets(prepared.key(path)) == 1, "\(path)") }
                for path in ["b.html", "c.html"] { #expect(store.gets(prepared.key(path)) == 0, "\(path)") }
                let bytes = Self.counter(metrics, "slipway_proxy_prefetched_bytes_total")
                #expect(bytes == 500 && bytes <= 500)
                #expect(Self.counter(metrics, "slipway_proxy_prefetched_objects_total") == 3)
            }
        }

        @Test func aRequestRacingThePrefetchJoinsItsLoadForOneUpstreamGET() async throws {
            try await withPrefetchingProxy { proxy, store, metrics in
                let prepared = try await prepare(proxy, slug: "race") { site, build in
                    try proxy.fixture("docs", site: site, build: build)
                }
                let key = prepared.key("about.html")
                store.setBehavior(.hold, for: key) // before the activation, so before any GET of it
                try await activate(prepared, proxy)
                try await proxy.waitUntil("the prefetch's GET is held") { store.heldCount(key) == 1 }

                let request = Task { try await proxy.get("/about", slug: "race") }
                let cacheKey = prepared.cacheKey("about.html")
                try await proxy.waitUntil("the request waits on the prefetch's load") {
                    proxy.server.bodyCache.waitingCallers(forKey: cacheKey) == 2
                }
                store.release(key)
                let response = try await request.value
                #expect(response.status == 200 && response.body == Array(prepared.fixture.data("about.html")))
                try await proxy.waitUntil("the prefetch is done") { Self.prefetches(metrics, .completed) == 1 }
                #expect(store.gets(key) == 1)
                #expect(try await proxy.get("/about", slug: "race").header("X-Cache") == "HIT")
                #expect(store.gets(key) == 1)
            }
        }

        @Test func aStoreFailureDuringThePrefetchIsHarmless() async throws {
            try await withPrefetchingProxy { proxy, store, metrics in
                // An object the store fails: the others are still prefetched.
                let prepared = try await prepare(proxy, slug: "flaky") { site, build in
                    try proxy.fixture("docs", site: site, build: build)
                }
                let key = prepared.key("about.html")
                store.setBehavior(.fail(status: 500), for: key)
                try await activate(prepared, proxy)
                try await proxy.waitUntil("the prefetch failed") { Self.prefetches(metrics, .failed) == 1 }
                #expect(store.gets(key) == 1)
                #expect(!proxy.server.bodyCache.contains(prepared.cacheKey("about.html")))
                #expect(try await proxy.get("/", slug: "flaky").header("X-Cache") == "HIT")

                store.setBehavior(.serve, for: key)
                let about = try await proxy.get("/about", slug: "flaky")
                #expect(about.status == 200 && about.header("X-Cache") == "MISS")
                #expect(about.body == Array(prepared.fixture.data("about.html")))
                #expect(try await proxy.get("/about", slug: "flaky").header("X-Cache") == "HIT")
                #expect(store.gets(key) == 2)

                // A manifest the store fails: nothing is prefetched, and requests load it later.
                let other = try await prepare(proxy, slug: "other") { site, build in
                    try proxy.fixture("docs", site: site, build: build)
                }
                let manifestKey = other.manifestKey
                store.setBehavior(.fail(status: 503), for: manifestKey)
                // The same bytes as the first site's page: one blob, fetched once for both.
                let fetched = store.gets(other.key("index.html"))
                try await activate(other, proxy)
                try await proxy.waitUntil("the second prefetch failed") { Self.prefetches(metrics, .failed) == 2 }
                #expect(store.gets(other.key("index.html")) == fetched)
                store.setBehavior(.serve, for: manifestKey)
                let home = try await proxy.get("/", slug: "other")
                #expect(home.status == 200 && home.body == Array(other.fixture.data("index.html")))
                #expect(store.gets(manifestKey) == 2)
                #expect(Self.prefetches(metrics, .completed) == 0)
            }
        }

        @Test func aNewerActivationOfTheSiteCancelsThePrefetchOfAnOlderOne() async throws {
            try await withPrefetchingProxy { proxy, store, metrics in
                let first = try await prepare(proxy, slug: "shop") { site, build in
                    try proxy.fixture("release-1", site: site, build: build)
                }
                let held = first.key("about.html")
                store.setBehavior(.hold, for: held)
                let second = try await prepare(proxy, slug: "shop", site: first.site) { site, build in
                    try proxy.fixture("release-2", site: site, build: build)
                }
                try await activate(first, proxy)
                try await proxy.waitUntil("the first prefetch's GET is held") { store.heldCount(held) == 1 }
                try await activate(second, proxy)
                try await proxy.waitUntil("the first prefetch is canceled and the second done") {
                    Self.prefetches(metrics, .canceled) == 1 && Self.prefetches(metrics, .completed) == 1
                }
                #expect(!proxy.server.bodyCache.contains(first.cacheKey("about.html")))
                for path in ["index.html", "about.html"] {
                    #expect(store.gets(second.key(path)) == 1, "\(path)")
                    #expect(proxy.server.bodyCache.contains(second.cacheKey(path)), "\(path)")
                }
                let about = try await proxy.get("/about", slug: "shop")
                #expect(about.header("X-Cache") == "HIT" && about.body == Array(second.fixture.data("about.html")))
                store.release(held)
            }
        }
    }
}
