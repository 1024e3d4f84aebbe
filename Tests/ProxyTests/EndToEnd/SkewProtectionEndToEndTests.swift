import Foundation
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Synchronization
import Testing

@testable import Proxy

/// Skew protection and the two layouts of stored builds, through a real
/// proxy over a real catalog and disk store.
@Suite struct SkewProtectionEndToEndTests {
    /// A clock the test moves.
    /// Starts at the real time: the catalog stamps `replacedAt` with the real
    /// clock, and a table reloaded from it (a reconcile while the machine is
    /// busy) must agree with the events' times about what is recent.
    final class TestClock: Sendable {
        private let value = Mutex(Date())
        var now: Date { value.withLock { $0 } }
        func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
    }

    static func page(_ chunk: String) -> Data {
        Data("<!doctype html><script type=module src=\"/assets/\(chunk)\"></script>".utf8)
    }

    /// Publishes `files` as a new build of `site`, activates it, and waits until the proxy serves it.
    static func deploy(_ files: [String: Data], to site: Site, proxy: TestProxy) async throws -> FixtureSite {
        let build = try await proxy.startBuild(of: site)
        let fixture = try FixtureSite(files: files, siteID: site.id.rawValue, buildID: build.id.rawValue)
        _ = try await proxy.succeed(build, with: fixture)
        _ = try await proxy.catalog.activate(siteID: site.id, buildID: build.id, allowOlder: false)
        try await proxy.waitUntil("build #\(build.number) is live") { [server = proxy.server] in
            server.siteTable.lookup(siteID: site.id)?.activeBuildID == build.id
        }
        return fixture
    }

    @Test func anOpenPageGetsItsOldChunksForAnHourAndNothingElseFallsBack() async throws {
        let clock = TestClock()
        try await withTestProxy(skewClock: { clock.now }) { proxy in
            let site = try await proxy.createSite("shop", spa: .static)
            let oldChunk = Data("export const version = 1;\n".utf8)
            _ = try await Self.deploy(
                [
                    "index.html": Self.page("app-1111aaaa.js"), "assets/app-1111aaaa.js": oldChunk,
                    "notes.txt": Data("old notes".utf8),
                ], to: site, proxy: proxy)
            // A tab loads the page of build 1 …
            #expect(try await proxy.get("/assets/app-1111aaaa.js", slug: "shop").status == 200)
            clock.advance(60)
            _ = try await Self.deploy(
                [
                    "index.html": Self.page("app-2222bbbb.js"),
                    "assets/app-2222bbbb.js": Data("export const version = 2;\n".utf8),
                ],
                to: site, proxy: proxy)

            // … and after the deploy still gets its chunk, from build 1.
            clock.advance(59 * 60)
            let old = try await proxy.get("/assets/app-1111aaaa.js", slug: "shop")
            #expect(old.status == 200 && old.body == Array(oldChunk))
            #expect(old.header("Cache-Control") == CacheControl.immutable)
            #expect(try await proxy.get("/assets/app-2222bbbb.js", slug: "shop").status == 200)
            // Paths that are not hashed assets never fall back, nor does a chunk no build had.
            #expect(try await proxy.get("/notes.txt", slug: "shop").status == 404)
            #expect(try await proxy.get("/assets/app-9999cccc.js", slug: "shop").status == 404)
            // Previews serve their own build only.
            let preview = try await proxy.request("/assets/app-1111aaaa.js", host: "2--shop.\(TestProxy.domain)")
            #expect(preview.status == 404)

            // An hour after the deploy the window is closed.
            clock.advance(61)
            #expect(try await proxy.get("/assets/app-1111aaaa.js", slug: "shop").status == 404)
        }
    }

    @Test func theTwoBuildsBeforeStillCountAndARestartedProxyRemembersThem() async throws {
        let clock = TestClock()
        try await withTestProxy(skewClock: { clock.now }) { proxy in
            let site = try await proxy.createSite("docs-site", spa: .static)
            for version in 1...3 {
                _ = try await Self.deploy(
                    [
                        "index.html": Self.page("v\(version)-0000000\(version)a.js"),
                        "assets/v\(version)-0000000\(version)a.js": Data("v\(version)".utf8),
                    ], to: site, proxy: proxy)
                clock.advance(60)
            }
            #expect(try await proxy.get("/assets/v1-00000001a.js", slug: "docs-site").text == "v1")
            #expect(try await proxy.get("/assets/v2-00000002a.js", slug: "docs-site").text == "v2")
            // The proxy's own table reconciled from the catalog (as it does when it
            // may have missed events) still serves both.
            try await proxy.server.siteTable.reload(from: proxy.catalog)
            #expect(try await proxy.get("/assets/v1-00000001a.js", slug: "docs-site").text == "v1")
            #expect(try await proxy.get("/assets/v2-00000002a.js", slug: "docs-site").text == "v2")
            // A reload from the catalog (what a restarted proxy does) knows when each was replaced.
            let table = SiteTable(clock: { clock.now })
            try await table.reload(from: proxy.catalog)
            let entry = try #require(table.lookup(slug: "docs-site"))
            #expect(entry.replacedBuilds.count == 2)
            #expect(entry.recentlyReplaced(within: .seconds(3600), now: Date()).count == 2)
        }
    }

    @Test func aStoreThatFailsForAMomentDoesNotMakeTheProxyForgetAReplacedBuild() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = ManifestFailingStore(base: try DiskObjectStore(root: directory, durable: false))
        try await withTestProxy(store: store, configure: { $0.prefetch = .disabled }) { proxy in
            let site = try await proxy.createSite("flaky", spa: .static)
            let first = try await Self.deploy(
                ["index.html": Self.page("app-1111aaaa.js"), "assets/app-1111aaaa.js": Data("v1".utf8)],
                to: site, proxy: proxy)
            _ = try await Self.deploy(["index.html": Self.page("app-2222bbbb.js")], to: site, proxy: proxy)
            // The store fails to give build 1's manifest: no fallback now …
            store.failing.withLock {
                $0 = BuildManifest.key(siteID: site.id.rawValue, buildID: first.manifest.buildID)
            }
            #expect(try await proxy.get("/assets/app-1111aaaa.js", slug: "flaky").status == 404)
            #expect(proxy.server.siteTable.lookup(siteID: site.id)?.replacedBuilds.count == 1)
            // … and once it answers again, the old chunk is served.
            store.failing.withLock { $0 = nil }
            let again = try await proxy.get("/assets/app-1111aaaa.js", slug: "flaky")
            #expect(again.status == 200 && again.text == "v1", "\(again.status) \(again.text.prefix(200))")
        }
    }

    @Test func aReplacedBuildWhoseManifestIsGoneIsForgottenAfterOneLook() async throws {
        // No prefetch: no activation loads a manifest before a request does.
        try await withTestProxy(configure: { $0.prefetch = .disabled }) { proxy in
            let site = try await proxy.createSite("gone", spa: .static)
            let first = try await Self.deploy(
                ["index.html": Self.page("app-1111aaaa.js"), "assets/app-1111aaaa.js": Data("v1".utf8)],
                to: site, proxy: proxy)
            _ = try await Self.deploy(["index.html": Self.page("app-2222bbbb.js")], to: site, proxy: proxy)
            // Retention deleted build 1 before any request loaded its manifest.
            try await proxy.store.delete([BuildManifest.key(siteID: site.id.rawValue, buildID: first.manifest.buildID)])
            let replaced = try #require(proxy.server.siteTable.lookup(siteID: site.id)?.replacedBuilds)
            #expect(replaced.keys.map(\.rawValue) == [first.manifest.buildID])
            #expect(try await proxy.get("/assets/app-1111aaaa.js", slug: "gone").status == 404)
            #expect(proxy.server.siteTable.lookup(siteID: site.id)?.replacedBuilds.isEmpty == true)
            #expect(try await proxy.get("/assets/app-3333cccc.js", slug: "gone").status == 404)
        }
    }

    @Test func buildsStoredBeforeContentAddressingKeepServing() async throws {
        try await withTestProxy { proxy in
            let site = try await proxy.createSite("legacy")
            let build = try await proxy.startBuild(of: site)
            let fixture = try proxy.fixture("docs", site: site, build: build).legacyLayout()
            #expect(fixture.manifest.version == 1)
            _ = try await proxy.succeed(build, with: fixture)
            _ = try await proxy.catalog.activate(siteID: site.id, buildID: build.id, allowOlder: false)
            try await proxy.waitUntil("legacy is live") { [server = proxy.server] in
                server.siteTable.lookup(slug: "legacy")?.activeBuildID == build.id
            }
            #expect(fixture.manifest.objectKey(for: "about.html").hasPrefix("sites/"))
            let page = try await proxy.get("/about.html", slug: "legacy")
            #expect(page.status == 200 && page.body == Array(fixture.data("about.html")))
            let gzip = try await proxy.get("/about.html", slug: "legacy", headers: [("Accept-Encoding", "gzip")])
            #expect(gzip.status == 200)
        }
    }
}

/// A store whose reads of one key fail (as a store that is down or slow),
/// while `failing` names it.
final class ManifestFailingStore: WrappingStore {
    struct Unavailable: Error {}
    let base: any ObjectStore
    let failing = Mutex<String?>(nil)

    init(base: any ObjectStore) { self.base = base }

    func get(_ key: String, range: ByteRange?) async throws -> ObjectDownload {
        if failing.withLock({ $0 == key }) { throw Unavailable() }
        return try await base.get(key, range: range)
    }
}
