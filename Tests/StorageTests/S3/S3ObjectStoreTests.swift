import Crypto
import Foundation
import NIOCore
import SlipwayTestSupport
import Testing

@testable import Storage

/// `S3ObjectStore` against the real Ceph RADOS Gateway: every test gets its
/// own bucket, removed at the end.
@Suite(
    .enabled(
        if: TestS3.shouldRun,
        "needs an S3-compatible store: scripts/test starts Ceph RADOS Gateway and sets S3_ENDPOINT and the AWS_* credentials"
    )
)
struct S3ObjectStoreTests {
    @Test func putThenHeadAndGetRoundTripBytesAndHeaders() async throws {
        try await TestS3.withBucket { store in
            let options = PutOptions(
                contentType: "text/html; charset=utf-8", cacheControl: "public, max-age=0, must-revalidate",
                contentEncoding: "gzip"
            )
            let put = try await store.put("site/index.html", body: .string("<h1>hello</h1>"), options: options)
            #expect(put.size == 14)
            #expect(!put.etag.isEmpty && !put.etag.contains("\""))

            let head = try await store.head("site/index.html")
            #expect(head.size == 14)
            #expect(head.etag == put.etag)
            #expect(head.contentType == "text/html; charset=utf-8")
            #expect(head.cacheControl == "public, max-age=0, must-revalidate")
            #expect(head.contentEncoding == "gzip")
            let modified = try #require(head.lastModified)
            #expect(abs(modified.timeIntervalSinceNow) < 3600)

            let download = try await store.get("site/index.html")
            #expect(download.info.etag == put.etag)
            #expect(download.info.contentEncoding == "gzip")
            #expect(download.range == 0..<14)
            #expect(download.contentLength == 14)
            #expect(String(buffer: try await download.body.collect(upTo: 1024)) == "<h1>hello</h1>")
        }
    }

    @Test func objectsWithoutOptionsAreBinary() async throws {
        try await TestS3.withBucket { store in
            try await store.put("blob", body: .bytes([0, 1, 2, 255]))
            #expect(try await store.head("blob").contentType == "application/octet-stream")
            #expect(Array(try await store.getBytes("blob").readableBytesView) == [0, 1, 2, 255])
        }
    }

    @Test func emptyObjectsRoundTrip() async throws {
        try await TestS3.withBucket { store in
            let put = try await store.put(".nojekyll", body: .bytes([]))
            #expect(put.size == 0)
            let download = try await store.get(".nojekyll")
            #expect(download.info.size == 0)
            #expect(download.contentLength == 0)
            #expect(try await download.body.collect(upTo: 16).readableBytes == 0)
            let error = await #expect(throws: ObjectStoreError.self) {
                try await store.get(".nojekyll", range: ByteRange(first: 0, last: 0))
            }
            #expect(error?.code == .invalidRange)
        }
    }

    @Test func awkwardKeysRoundTripThroughPutListGetAndDelete() async throws {
        let nfc = "caf\u{E9}/na\u{EF}ve.html"
        let nfd = "cafe\u{301}/nai\u{308}ve.html"
        let long = String(repeating: "deep-directory-0123456789/", count: 34) + "file.txt"
        let keys = [
            "a b/c d.txt", "a+b/c+d.txt", "100%/real%20name.txt", "notes#1.md", "what?.txt", "k=v&x=y.txt",
            "~user/(1)!*'$@:;,[].txt", nfc, nfd, "日本語/ファイル 🚀.html", long,
        ]
        #expect(long.utf8.count > 880)
        try await TestS3.withBucket { store in
            for (index, key) in keys.enumerated() {
                try await store.put(key, body: .string("object \(index)"))
            }
            let listed = try await store.listAll(prefix: "")
            // Byte comparison: NFC and NFD spellings are distinct keys.
            #expect(Set(listed.map { Array($0.key.utf8) }) == Set(keys.map { Array($0.utf8) }))
            for (index, key) in keys.enumerated() {
                #expect(String(buffer: try await store.getBytes(key)) == "object \(index)", "\(key)")
                #expect(try await store.head(key).size == Int64("object \(index)".utf8.count))
                let presigned = try store.presignedGET(key: key, expiresIn: .seconds(60))
                let response = try await TestHTTP.get(presigned.url)
                #expect(response.status == 200, "\(key)")
                #expect(response.body == "object \(index)", "\(key)")
            }
            try await store.delete(keys)
            #expect(try await store.listAll(prefix: "").isEmpty)
        }
    }

    @Test func listingPagesFollowTheNextMarker() async throws {
        try await TestS3.withBucket { store in
            let keys = (0..<7).map { "sites/s1/b1/file-\($0).txt" } + ["sites/s2/b1/other.txt", "logs/s1/b1.log"]
            for key in keys { try await store.put(key, body: .string(key)) }

            let first = try await store.list(prefix: "sites/s1/", after: nil, limit: 3)
            #expect(first.objects.map(\.key) == (0..<3).map { "sites/s1/b1/file-\($0).txt" })
            #expect(first.nextMarker == "sites/s1/b1/file-2.txt")
            #expect(
                first.objects.allSatisfy {
                    $0.size == Int64($0.key.utf8.count) && !$0.etag.isEmpty && $0.lastModified != nil
                })
            let second = try await store.list(prefix: "sites/s1/", after: first.nextMarker, limit: 3)
            #expect(second.objects.map(\.key) == (3..<6).map { "sites/s1/b1/file-\($0).txt" })
            let third = try await store.list(prefix: "sites/s1/", after: second.nextMarker, limit: 3)
            #expect(third.objects.map(\.key) == ["sites/s1/b1/file-6.txt"])
            #expect(third.nextMarker == nil)

            #expect(try await store.listAll(prefix: "sites/", pageSize: 2).count == 8)
            #expect(try await store.listAll(prefix: "").count == 9)
            #expect(try await store.list(prefix: "nothing/", after: nil, limit: 10).objects.isEmpty)
        }
    }

    @Test func deleteRemovesKeysAndIgnoresMissingOnes() async throws {
        try await TestS3.withBucket { store in
            for key in ["a.txt", "b.txt", "c.txt"] { try await store.put(key, body: .string(key)) }
            try await store.delete(["a.txt", "missing.txt", "c.txt"])
            #expect(try await store.listAll(prefix: "").map(\.key) == ["b.txt"])
            try await store.delete([])
            let error = await #expect(throws: ObjectStoreError.self) { try await store.delete(["../escape"]) }
            #expect(error?.code == .invalidKey)
        }
    }

    @Test func deletePrefixDeletesOnlyUnderThePrefixAcrossPages() async throws {
        try await TestS3.withBucket { store in
            let doomed = (0..<25).map { "sites/s1/b1/f\($0)" }
            for key in doomed + ["sites/s1/b2/keep", "sites/s10/keep"] { try await store.put(key, body: .string("x")) }
            #expect(try await store.deletePrefix("sites/s1/b1/") == 25)
            #expect(try await store.listAll(prefix: "").map(\.key) == ["sites/s1/b2/keep", "sites/s10/keep"])
            #expect(try await store.deletePrefix("sites/s1/b1/") == 0)
        }
    }

    @Test func rangeReadsReturnExactlyTheAskedBytes() async throws {
        try await TestS3.withBucket { store in
            let bytes = (0..<100).map { UInt8($0) }
            try await store.put("r.bin", body: .bytes(bytes))

            let middle = try await store.get("r.bin", range: ByteRange(first: 10, last: 19))
            #expect(middle.range == 10..<20)
            #expect(middle.contentLength == 10)
            #expect(middle.info.size == 100)
            #expect(Array(try await middle.body.collect(upTo: 100).readableBytesView) == Array(bytes[10...19]))

            let openEnded = try await store.get("r.bin", range: ByteRange(first: 95))
            #expect(openEnded.range == 95..<100)
            #expect(Array(try await openEnded.body.collect(upTo: 100).readableBytesView) == Array(bytes[95...]))

            let clamped = try await store.get("r.bin", range: ByteRange(first: 90, last: 1000))
            #expect(clamped.range == 90..<100)
            #expect(try await clamped.body.collect(upTo: 100).readableBytes == 10)

            let whole = try await store.get("r.bin", range: ByteRange(first: 0))
            #expect(whole.range == 0..<100)
            #expect(try await whole.body.collect(upTo: 1000).readableBytes == 100)

            let error = await #expect(throws: ObjectStoreError.self) {
                try await store.get("r.bin", range: ByteRange(first: 100))
            }
            #expect(error?.code == .invalidRange)
            #expect(error?.status == 416)
        }
    }

    @Test func missingObjectsAndBucketsAreTypedErrors() async throws {
        try await TestS3.withBucket { store in
            let get = await #expect(throws: ObjectStoreError.self) { try await store.get("nope.txt") }
            #expect(get?.code == .notFound)
            #expect(get?.message.contains("nope.txt") == true)
            let head = await #expect(throws: ObjectStoreError.self) { try await store.head("nope.txt") }
            #expect(head?.code == .notFound)

            var configuration = store.configuration
            configuration.bucket = TestS3.uniqueBucketName()
            try await TestS3.withStore(configuration) { missing in
                let error = await #expect(throws: ObjectStoreError.self) {
                    try await missing.list(prefix: "", after: nil, limit: 10)
                }
                #expect(error?.code == .noSuchBucket)
                #expect(try await missing.bucketExists() == false)
                // Deleting a bucket that is not there is not an error.
                try await missing.deleteBucket()
            }
            #expect(try await store.bucketExists())
            // Creating a bucket that already exists and is ours is not an error.
            try await store.createBucket()
        }
    }

    @Test func downloadsStreamInChunksAndMayBeAbandonedHalfRead() async throws {
        try await TestS3.withBucket { store in
            let size = 3 << 20
            try await store.put("big.bin", body: .bytes(ByteBuffer(repeating: 7, count: size)))
            let download = try await store.get("big.bin")
            var chunks = 0
            var total = 0
            for try await chunk in download.body {
                chunks += 1
                total += chunk.readableBytes
            }
            #expect(total == size)
            #expect(chunks > 1)
            // A body dropped half-read leaves the store usable.
            let abandoned = try await store.get("big.bin")
            var iterator = abandoned.body.makeAsyncIterator()
            _ = try await iterator.next()
            #expect(try await store.head("big.bin").size == Int64(size))
        }
    }

    @Test func keyPrefixIsAppliedAndHiddenFromCallers() async throws {
        try await TestS3.withBucket { store in
            var prefixed = store.configuration
            prefixed.keyPrefix = "tenant-a/"
            try await TestS3.withStore(prefixed) { tenant in
                try await tenant.put("index.html", body: .string("a"))
                #expect(try await tenant.listAll(prefix: "").map(\.key) == ["index.html"])
                #expect(String(buffer: try await tenant.getBytes("index.html")) == "a")
                #expect(
                    try await TestHTTP.get(try tenant.presignedGET(key: "index.html", expiresIn: .seconds(60)).url).body
                        == "a")
            }
            #expect(try await store.listAll(prefix: "").map(\.key) == ["tenant-a/index.html"])
        }
    }
}
