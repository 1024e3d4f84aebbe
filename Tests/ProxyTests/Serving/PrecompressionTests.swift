import Model
import NIOHTTP1
import Storage
import Testing

@testable import Proxy

@Suite struct PrecompressionTests {
    let both = [
        "gzip": ManifestVariant(path: "a.js.gz", size: 10, etag: "g"),
        "br": ManifestVariant(path: "a.js.br", size: 8, etag: "b"),
    ]
    let gzipOnly = ["gzip": ManifestVariant(path: "a.js.gz", size: 10, etag: "g")]

    func coding(_ acceptEncoding: String?, _ variants: [String: ManifestVariant]) -> String? {
        let headers = acceptEncoding.map { HTTPHeaders([("Accept-Encoding", $0)]) } ?? HTTPHeaders()
        return Precompression.choose(headers, variants: variants)?.coding
    }

    @Test func theBestAcceptedVariantIsChosen() {
        #expect(coding("gzip, deflate, br", both) == "br")
        #expect(coding("gzip", both) == "gzip")
        #expect(coding("x-gzip", gzipOnly) == "gzip")
        #expect(coding("br", gzipOnly) == nil)
        #expect(coding("*", gzipOnly) == "gzip")
        #expect(coding("GZIP;q=0.5", gzipOnly) == "gzip")
    }

    @Test func refusedCodingsAndMissingHeadersGetTheIdentityBody() {
        #expect(coding(nil, both) == nil)
        #expect(coding("identity", both) == nil)
        #expect(coding("gzip;q=0", gzipOnly) == nil)
        #expect(coding("gzip;q=0.000, br;q=0", both) == nil)
        #expect(coding("*;q=0", gzipOnly) == nil)
        #expect(coding("gzip;q=0, *", gzipOnly) == nil)
        #expect(coding("br;q=0, *", both) == "gzip")
        #expect(coding("gzip", [:]) == nil)
    }
}
