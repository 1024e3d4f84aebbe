import Foundation
import Model
import Storage
import Testing

@testable import Proxy

/// Which bodies an activation prefetches (`CachePrefetcher.selection`): the
/// builder's choice (HTML up to a per-file size, within a byte budget) under
/// the keys requests use.
@Suite struct CachePrefetchSelectionTests {
    static let buildID = BuildID.generate()

    static func manifest(_ files: [String: Data]) throws -> BuildManifest {
        try FixtureSite(files: files, siteID: "site1", buildID: buildID.rawValue).manifest
    }

    static func select(
        _ manifest: BuildManifest, maxFileBytes: Int = 64 << 10, maxBytes: Int = 4 << 20, maxEntryBytes: Int = 1 << 20
    ) -> [BodyObject] {
        CachePrefetcher.selection(
            of: manifest, buildID: buildID, maxFileBytes: maxFileBytes, maxBytes: maxBytes, maxEntryBytes: maxEntryBytes
        )
    }

    @Test func htmlOnlyShallowestFirstIndexFirstWithTheRequestsKeys() throws {
        let manifest = try Self.manifest([
            "zeta.html": Data("z".utf8), "index.html": Data("i".utf8), "about.html": Data("a".utf8),
            "docs/index.html": Data("d".utf8), "docs/a.html": Data("da".utf8), "app.js": Data("js".utf8),
            "style.css": Data("css".utf8), "data.json": Data("{}".utf8),
        ])
        let chosen = Self.select(manifest)
        let order = ["index.html", "about.html", "zeta.html", "docs/index.html", "docs/a.html"]
        #expect(chosen.map(\.cacheKey) == order.map { BodyCache.key(objectKey: manifest.objectKey(for: $0)) })
        #expect(chosen.map(\.objectKey) == order.map { manifest.objectKey(for: $0) })
        #expect(chosen.allSatisfy { $0.isCacheable })
    }

    @Test func variantsComeWithTheirPageAndCountInTheBudget() throws {
        let page = Data(String(repeating: "<p>hello, prefetch</p>\n", count: 200).utf8)
        let manifest = try Self.manifest(["index.html": page])
        let gzip = try #require(manifest.files["index.html"]?.variants["gzip"])
        let chosen = Self.select(manifest)
        #expect(
            chosen.map(\.cacheKey) == [
                BodyCache.key(objectKey: manifest.objectKey(for: "index.html")),
                BodyCache.key(objectKey: manifest.objectKey(for: gzip.path)),
            ])
        #expect(chosen.last?.objectKey == manifest.objectKey(for: gzip.path))
        #expect(chosen.last?.size == gzip.size)
        // A budget that holds the page but not its variant too: neither.
        #expect(Self.select(manifest, maxBytes: page.count).isEmpty)
        #expect(Self.select(manifest, maxBytes: page.count + Int(gzip.size)).count == 2)
    }

    @Test func thePerFileLimitAndTheCachesEntryLimitBothApply() throws {
        let manifest = try Self.manifest([
            "small.html": patternBytes(count: 100), "medium.html": patternBytes(count: 200, seed: 2),
        ])
        #expect(Self.select(manifest, maxFileBytes: 100).map(\.size) == [100])
        #expect(Self.select(manifest, maxEntryBytes: 150).map(\.size) == [100])
        #expect(Self.select(manifest, maxFileBytes: 200).count == 2)
    }

    @Test func aPageOverTheRemainingBudgetIsSkippedAndASmallerOneStillFits() throws {
        let manifest = try Self.manifest([
            "a.html": patternBytes(count: 200, seed: 1), "b.html": patternBytes(count: 200, seed: 2),
            "c.html": patternBytes(count: 50, seed: 3),
        ])
        let chosen = Self.select(manifest, maxBytes: 250)
        #expect(chosen.map(\.objectKey) == ["a.html", "c.html"].map { manifest.objectKey(for: $0) })
        #expect(chosen.reduce(0) { $0 + $1.size } == 250)
    }
}
