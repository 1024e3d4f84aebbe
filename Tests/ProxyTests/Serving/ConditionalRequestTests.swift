import Model
import NIOHTTP1
import Testing

@testable import Proxy

@Suite struct ConditionalRequestTests {
    let etag = "abc123"
    let lastModified: Int64 = 1_750_000_000

    func notModified(_ headers: [(String, String)]) -> Bool {
        ConditionalRequest.isNotModified(HTTPHeaders(headers), etag: etag, lastModified: lastModified)
    }

    @Test func ifNoneMatchMatchesExactlyInAListByStarAndWeakly() {
        #expect(notModified([("If-None-Match", "\"abc123\"")]))
        #expect(notModified([("If-None-Match", "\"x\", \"abc123\"")]))
        #expect(notModified([("If-None-Match", "\"x\""), ("If-None-Match", "W/\"abc123\"")]))
        #expect(notModified([("If-None-Match", "*")]))
        #expect(notModified([("If-None-Match", "W/\"abc123\"")]))
        #expect(!notModified([("If-None-Match", "\"abc12\"")]))
        #expect(!notModified([("If-None-Match", "abc123")])) // unquoted: malformed
        #expect(!notModified([("If-None-Match", "\"abc123")]))
    }

    @Test func ifNoneMatchWinsOverIfModifiedSince() {
        let future = HTTPDate.format(epochSeconds: lastModified + 10)
        #expect(!notModified([("If-None-Match", "\"other\""), ("If-Modified-Since", future)]))
        #expect(notModified([("If-Modified-Since", future)]))
        #expect(notModified([("If-Modified-Since", HTTPDate.format(epochSeconds: lastModified))]))
        #expect(!notModified([("If-Modified-Since", HTTPDate.format(epochSeconds: lastModified - 1))]))
        #expect(!notModified([("If-Modified-Since", "yesterday")]))
    }

    @Test func ifRangeNeedsTheStrongETagOrTheExactDate() {
        func allows(_ value: String) -> Bool {
            ConditionalRequest.ifRangeAllowsPartial(
                HTTPHeaders([("If-Range", value)]), etag: etag, lastModified: lastModified)
        }
        #expect(ConditionalRequest.ifRangeAllowsPartial(HTTPHeaders(), etag: etag, lastModified: lastModified))
        #expect(allows("\"abc123\""))
        #expect(!allows("W/\"abc123\""))
        #expect(!allows("\"other\""))
        #expect(allows(HTTPDate.format(epochSeconds: lastModified)))
        #expect(!allows(HTTPDate.format(epochSeconds: lastModified + 1)))
        #expect(!allows("garbage"))
    }

    @Test func entityTagListsMayHoldCommasInsideTheQuotes() {
        let tags = EntityTag.parseList("W/\"a,b\", \"c\"")
        #expect(tags == [EntityTag(opaque: "a,b", isWeak: true), EntityTag(opaque: "c", isWeak: false)])
        #expect(EntityTag.parseList("\"a\" \"b\"") == nil)
        #expect(EntityTag.parseList("") == [])
    }

    @Test func httpDatesRoundTripAndTheObsoleteFormsParse() {
        #expect(HTTPDate.format(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == 784_111_777)
        #expect(HTTPDate.format(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(epochSeconds: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        for text in [
            "", "Sun, 06 Nov 1994 08:49:37", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
        ] {
            #expect(HTTPDate.parse(text) == nil, "\(text)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let seconds = Int64.random(in: 0...4_102_444_800, using: &generator)
            #expect(HTTPDate.parse(HTTPDate.format(epochSeconds: seconds)) == seconds)
        }
    }
}
