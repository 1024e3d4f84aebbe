import Foundation
import Model
import NIOHTTP1
import SlipwayTestSupport
import Storage
import Testing

@testable import Proxy

extension EndToEnd {
    /// The proxy over the real S3 implementation (Ceph RADOS Gateway): builds
    /// published with `S3ObjectStore`, bodies fetched through presigned GETs
    /// that the gateway verifies.
    @Suite(.enabled(if: TestS3.shouldRun, TestS3.skipReason))
    struct S3EndToEndTests {
        static let large = patternBytes(count: 3 << 20, seed: 21)

        func smallAndLarge(_ configuration: inout ProxyConfiguration) {
            configuration.cache.maxEntryBytes = 256 << 10
        }

        @Test(arguments: EdgeTransport.allCases)
        func sitesAreServedThroughPresignedGETsFromTheStore(_ transport: EdgeTransport) async throws {
            try await TestS3.withBucket { store in
                try await withTestProxy(transport: transport, store: store, configure: smallAndLarge) { proxy in
                    let site = try await proxy.deploy("docs", as: "manual", extraFiles: ["media/film.bin": Self.large])
                    let files = site.fixture
                    let first = try await proxy.get("/", slug: "manual")
                    #expect(
                        first.status == 200 && first.body == Array(files.data("index.html"))
                            && first.header("X-Cache") == "MISS")
                    #expect(try await proxy.get("/", slug: "manual").header("X-Cache") == "HIT")
                    let directory = try await proxy.get("/docs?x=1", slug: "manual")
                    #expect(directory.status == 301 && directory.header("Location") == "/docs/?x=1")
                    let missing = try await proxy.get("/docs/nope", slug: "manual")
                    #expect(missing.status == 404 && missing.body == Array(files.data("docs/404.html")))
                    let gzip = try await proxy.get(
                        "/assets/app-3f9a1b2c.js", slug: "manual", headers: [("Accept-Encoding", "gzip")])
                    #expect(
                        gzip.header("Content-Encoding") == "gzip"
                            && gzip.body
                                == Array(
                                    files.data(files.manifest.files["assets/app-3f9a1b2c.js"]!.variants["gzip"]!.path))
                    )

                    // A large object streams from the store, whole or in part, never cached.
                    let film = try await proxy.get("/media/film.bin", slug: "manual")
                    #expect(film.status == 200 && film.body == Array(Self.large) && film.header("X-Cache") == "MISS")
                    let part = try await proxy.get(
                        "/media/film.bin", slug: "manual", headers: [("Range", "bytes=1048576-2097151")])
                    #expect(part.status == 206 && part.body == Array(Self.large[1_048_576..<2_097_152]))
                    #expect(part.header("Content-Range") == "bytes 1048576-2097151/\(Self.large.count)")
                    let head = try await proxy.request("/media/film.bin", host: "manual.apps.test", method: .HEAD)
                    #expect(
                        head.status == 200 && head.body.isEmpty
                            && head.header("Content-Length") == String(Self.large.count))
                }
            }
        }

        @Test func anObjectMissingFromTheBucketIsABadGateway() async throws {
            try await TestS3.withBucket { store in
                try await withTestProxy(store: store, configure: smallAndLarge) { proxy in
                    let site = try await proxy.deploy("docs", as: "manual", extraFiles: ["media/film.bin": Self.large])
                    try await store.delete([
                        site.fixture.manifest.objectKey(for: "about.html"),
                        site.fixture.manifest.objectKey(for: "media/film.bin"),
                    ])
                    #expect(try await proxy.get("/about", slug: "manual").status == 502)
                    let film = try await proxy.get("/media/film.bin", slug: "manual")
                    #expect(film.status == 502)
                    #expect(!film.text.contains("NoSuchKey"))
                    #expect(try await proxy.get("/", slug: "manual").status == 200)
                }
            }
        }

        @Test func aStoreServedOverHTTPSWithAPrivateCAIsTrusted() async throws {
            try await TestS3.withBucket(tls: true) { store, environment in
                try await withTestProxy(
                    store: store,
                    configure: {
                        smallAndLarge(&$0)
                        $0.upstream.caCertificateFile = environment.caBundle
                    }
                ) { proxy in
                    _ = try await proxy.deploy("docs", as: "manual", extraFiles: ["media/film.bin": Self.large])
                    #expect(try await proxy.get("/about", slug: "manual").status == 200)
                    #expect(try await proxy.get("/media/film.bin", slug: "manual").body == Array(Self.large))
                }
            }
        }
    }
}
