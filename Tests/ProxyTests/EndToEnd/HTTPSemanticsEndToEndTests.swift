import Foundation
import Model
import NIOCore
import NIOHTTP1
import SlipwayTestSupport
import Storage
import Synchronization
import Testing

@testable import Proxy

extension EndToEnd {
    /// Conditional and range requests, HEAD, gzip negotiation and the cache
    /// marker, over real HTTP.
    @Suite struct HTTPSemanticsEndToEndTests {
        /// `Date` comes from the clock the server was given, and every kind
        /// of answer carries `Date` and `X-Cache` exactly once.
        @Test(arguments: EdgeTransport.allCases) func everyAnswerCarriesOneDateFromTheServersClockAndOneXCache(
            _ transport: EdgeTransport
        ) async throws {
            let seconds = SteppedSeconds(784_111_777)
            let clock = HTTPDateClock { seconds.value.load(ordering: .relaxed) }
            try await withTestProxy(transport: transport, dateClock: clock) { proxy in
                let site = try await proxy.deploy("docs", as: "manual")
                let etag = "\"\(site.fixture.manifest.files["about.html"]!.etag)\""
                let answers = [
                    try await proxy.get("/about", slug: "manual"), // a file, from the store
                    try await proxy.get("/about", slug: "manual"), // the same, from the cache
                    try await proxy.get("/about", slug: "manual", headers: [("If-None-Match", etag)]), // 304
                    try await proxy.get("/docs", slug: "manual"), // 301 to /docs/
                    try await proxy.get("/about", slug: "manual", headers: [("Range", "bytes=99999-")]), // 416
                    try await proxy.get("/", slug: "nobody"), // Slipway's 404 page
                ]
                #expect(answers.map(\.status) == [200, 200, 304, 301, 416, 404])
                for answer in answers {
                    #expect(answer.headers["Date"] == ["Sun, 06 Nov 1994 08:49:37 GMT"])
                    #expect(answer.headers["X-Cache"].count == 1)
                }
                #expect(answers.map { $0.header("X-Cache") } == ["MISS", "HIT", "MISS", "MISS", "MISS", "MISS"])
                seconds.value.add(86_400, ordering: .relaxed)
                let nextDay = try await proxy.get("/about", slug: "manual")
                #expect(nextDay.header("Date") == "Mon, 07 Nov 1994 08:49:37 GMT")
            }
        }

        @Test(arguments: EdgeTransport.allCases) func ifNoneMatchReturns304WithTheETagAndWinsOverIfModifiedSince(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let site = try await proxy.deploy("docs", as: "manual")
                let etag = "\"\(site.fixture.manifest.files["about.html"]!.etag)\""
                let exact = try await proxy.get("/about", slug: "manual", headers: [("If-None-Match", etag)])
                #expect(exact.status == 304)
                #expect(exact.body.isEmpty)
                #expect(exact.header("ETag") == etag)
                #expect(exact.header("Cache-Control") == "public, max-age=0, must-revalidate")
                #expect(exact.header("Content-Type") == nil)
                for value in ["\"nope\", \(etag)", "*", "W/\(etag)", "\"a,b\", W/\(etag)"] {
                    #expect(
                        try await proxy.get("/about", slug: "manual", headers: [("If-None-Match", value)]).status
                            == 304, "\(value)")
                }
                // A non-matching If-None-Match wins over a matching If-Modified-Since.
                let future = "Sun, 06 Nov 2101 08:49:37 GMT"
                let mismatch = try await proxy.get(
                    "/about", slug: "manual", headers: [("If-None-Match", "\"other\""), ("If-Modified-Since", future)])
                #expect(mismatch.status == 200)
                #expect(
                    try await proxy.get("/about", slug: "manual", headers: [("If-Modified-Since", future)]).status
                        == 304)
                let past = "Sun, 06 Nov 1994 08:49:37 GMT"
                #expect(
                    try await proxy.get("/about", slug: "manual", headers: [("If-Modified-Since", past)]).status == 200)
                // A 404 page is never a 304.
                #expect(
                    try await proxy.get("/missing", slug: "manual", headers: [("If-None-Match", "*")]).status == 404)
            }
        }

        @Test(arguments: EdgeTransport.allCases) func aSingleRangeIs206AndOthersAre416OrTheWholeBody(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let site = try await proxy.deploy("docs", as: "manual")
                let script = Array(site.fixture.data("assets/app-3f9a1b2c.js"))
                let size = script.count
                let first = try await proxy.get(
                    "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Range", "bytes=0-99")])
                #expect(first.status == 206)
                #expect(first.body == Array(script[0..<100]))
                #expect(first.header("Content-Range") == "bytes 0-99/\(size)")
                #expect(first.header("Content-Length") == "100")
                #expect(first.header("Content-Encoding") == nil)
                let suffix = try await proxy.get(
                    "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Range", "bytes=-10")])
                #expect(suffix.status == 206 && suffix.body == Array(script[(size - 10)...]))
                let open = try await proxy.get(
                    "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Range", "bytes=4990-")])
                #expect(
                    open.status == 206 && open.body == Array(script[4990...])
                        && open.header("Content-Range") == "bytes 4990-\(size - 1)/\(size)")
                let beyond = try await proxy.get(
                    "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Range", "bytes=\(size)-")])
                #expect(beyond.status == 416)
                #expect(beyond.header("Content-Range") == "bytes */\(size)")
                for many in ["bytes=0-1,5-6", "bytes=0-100,50-150", "bytes=0-0,0-0,0-0"] {
                    let whole = try await proxy.get(
                        "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Range", many)])
                    #expect(whole.status == 200 && whole.body == script, "\(many)")
                }
                for ignored in ["bytes=5-1", "items=0-1", "bytes=abc"] {
                    #expect(
                        try await proxy.get("/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Range", ignored)])
                            .status == 200)
                }
            }
        }

        @Test(arguments: EdgeTransport.allCases) func ifRangeWithAnotherValidatorSendsTheWholeBody(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let site = try await proxy.deploy("docs", as: "manual")
                let file = site.fixture.manifest.files["assets/app-3f9a1b2c.js"]!
                let matching = try await proxy.get(
                    "/assets/app-3f9a1b2c.js", slug: "manual",
                    headers: [("Range", "bytes=0-9"), ("If-Range", "\"\(file.etag)\"")])
                #expect(matching.status == 206)
                for validator in ["\"stale\"", "W/\"\(file.etag)\"", "Sun, 06 Nov 1994 08:49:37 GMT"] {
                    let other = try await proxy.get(
                        "/assets/app-3f9a1b2c.js", slug: "manual",
                        headers: [("Range", "bytes=0-9"), ("If-Range", validator)])
                    #expect(other.status == 200 && other.body.count == Int(file.size), "\(validator)")
                }
                let byDate = try await proxy.get(
                    "/assets/app-3f9a1b2c.js", slug: "manual",
                    headers: [("Range", "bytes=0-9"), ("If-Range", HTTPDate.format(site.fixture.manifest.createdAt))])
                #expect(byDate.status == 206)
            }
        }

        @Test(arguments: EdgeTransport.allCases) func headAnswersWithTheGetsStatusAndHeadersAndNoBody(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                for target in ["/", "/about", "/assets/app-3f9a1b2c.js", "/docs", "/missing"] {
                    let get = try await proxy.get(target, slug: "manual")
                    let head = try await proxy.request(target, host: "manual.apps.test", method: .HEAD)
                    #expect(head.status == get.status, "\(target)")
                    #expect(head.body.isEmpty, "\(target)")
                    for name in ["Content-Type", "Content-Length", "ETag", "Cache-Control", "Location", "Vary"] {
                        #expect(head.header(name) == get.header(name), "\(target) \(name)")
                    }
                }
                let page = try await proxy.request("/", host: "nosuch.apps.test", method: .HEAD)
                #expect(page.status == 404 && page.body.isEmpty && page.header("Content-Length") != "0")
            }
        }

        @Test(arguments: EdgeTransport.allCases) func theGzipVariantIsServedWhenAcceptedWithItsOwnETag(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let site = try await proxy.deploy("docs", as: "manual")
                let file = site.fixture.manifest.files["assets/app-3f9a1b2c.js"]!
                let variant = file.variants["gzip"]!
                let gzip = try await proxy.get(
                    "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Accept-Encoding", "br;q=1, gzip")])
                #expect(gzip.status == 200)
                #expect(gzip.header("Content-Encoding") == "gzip")
                #expect(gzip.body == Array(site.fixture.data(variant.path)))
                #expect(try gunzip(gzip.body) == Array(site.fixture.data("assets/app-3f9a1b2c.js")))
                #expect(gzip.header("ETag") == "\"\(variant.etag)\"")
                #expect(gzip.header("Vary") == "Accept-Encoding")
                #expect(gzip.header("Content-Type") == "text/javascript; charset=utf-8")
                // The variant's own ETag validates it.
                let revalidated = try await proxy.get(
                    "/assets/app-3f9a1b2c.js", slug: "manual",
                    headers: [("Accept-Encoding", "gzip"), ("If-None-Match", "\"\(variant.etag)\"")])
                #expect(revalidated.status == 304)
                for refused in ["gzip;q=0", "identity", "br", "*;q=0", "gzip;q=0, *"] {
                    let identity = try await proxy.get(
                        "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Accept-Encoding", refused)])
                    #expect(identity.header("Content-Encoding") == nil, "\(refused)")
                    #expect(identity.body == Array(site.fixture.data("assets/app-3f9a1b2c.js")), "\(refused)")
                    #expect(identity.header("Vary") == "Accept-Encoding")
                }
                let wildcard = try await proxy.get(
                    "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Accept-Encoding", "*")])
                #expect(wildcard.header("Content-Encoding") == "gzip")
            }
        }

        @Test(arguments: EdgeTransport.allCases) func theFirstResponseIsACacheMissAndTheNextAHitFromMemory(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                let first = try await proxy.get("/about", slug: "manual")
                #expect(first.header("X-Cache") == "MISS")
                let second = try await proxy.get("/about", slug: "manual")
                #expect(second.header("X-Cache") == "HIT")
                #expect(second.body == first.body)
                let head = try await proxy.request("/about", host: "manual.apps.test", method: .HEAD)
                #expect(head.header("X-Cache") == "HIT")
                // The variant is cached on its own key.
                #expect(
                    try await proxy.get(
                        "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Accept-Encoding", "gzip")]
                    ).header("X-Cache") == "MISS")
                #expect(try await proxy.get("/assets/app-3f9a1b2c.js", slug: "manual").header("X-Cache") == "MISS")
                #expect(
                    try await proxy.get(
                        "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Accept-Encoding", "gzip")]
                    ).header("X-Cache") == "HIT")
            }
        }

        @Test(arguments: EdgeTransport.allCases) func bodiesTheBuilderWarmedAreServedFromTheSharedCache(
            _ transport: EdgeTransport
        ) async throws {
            let cache = BodyCache(capacityBytes: 1 << 20, maxEntryBytes: 64 << 10)
            try await withTestProxy(transport: transport, bodyCache: cache) { proxy in
                let site = try await proxy.deploy("docs", as: "manual")
                // The builder puts small HTML into the cache right after activation.
                let key = BodyCache.key(objectKey: site.fixture.manifest.objectKey(for: "index.html"))
                cache.put(
                    key, ByteBuffer(bytes: site.fixture.data("index.html")), cost: site.fixture.data("index.html").count
                )
                let warmed = try await proxy.get("/", slug: "manual")
                #expect(warmed.header("X-Cache") == "HIT")
                #expect(warmed.body == Array(site.fixture.data("index.html")))
            }
        }

        /// With `sendfile` (the default) and with files read into buffers
        /// (`SLIPWAY_SENDFILE=false`, and how a connection that encrypts sends them).
        @Test(arguments: [
            (EdgeTransport.plain, true), (.plain, false), (.tls, true), (.h2, true),
        ])
        func largeFilesStreamFromTheDiskStoreUncachedWithRanges(_ transport: EdgeTransport, sendfile: Bool)
            async throws
        {
            let large = patternBytes(count: 3 << 20)
            try await withTestProxy(
                transport: transport,
                configure: {
                    $0.cache.maxEntryBytes = 256 << 10
                    $0.sendfile = sendfile
                }
            ) { proxy in
                _ = try await proxy.deploy("docs", as: "manual", extraFiles: ["media/film.bin": large])
                let whole = try await proxy.get("/media/film.bin", slug: "manual")
                #expect(whole.status == 200 && whole.body == Array(large))
                #expect(whole.header("X-Cache") == "MISS")
                #expect(try await proxy.get("/media/film.bin", slug: "manual").header("X-Cache") == "MISS")
                let middle = try await proxy.get(
                    "/media/film.bin", slug: "manual", headers: [("Range", "bytes=1000000-1999999")])
                #expect(middle.status == 206 && middle.body == Array(large[1_000_000..<2_000_000]))
                #expect(proxy.server.bodyCache.totalBytes < 256 << 10)
            }
        }
    }
}

/// A clock's seconds that a test moves forward by hand.
private final class SteppedSeconds: Sendable {
    let value: Atomic<Int64>
    init(_ start: Int64) { value = Atomic(start) }
}
