import Crypto
import Foundation
import NIOCore
import Testing

@testable import Storage

@Suite struct DiskObjectStoreTests {
    let root: String
    let store: DiskObjectStore

    init() throws {
        root = FileManager.default.temporaryDirectory.path + "/slipway-disk-\(UUID().uuidString)"
        store = try DiskObjectStore(root: root)
    }

    @Test func bytesAndHeadersRoundTrip() async throws {
        let options = PutOptions(
            contentType: "text/html; charset=utf-8", cacheControl: "no-cache", contentEncoding: "gzip")
        let put = try await store.put("sites/s1/b1/index.html", body: .string("<h1>hi</h1>"), options: options)
        #expect(put.size == 11)
        #expect(put.etag == md5Hex("<h1>hi</h1>"))

        let head = try await store.head("sites/s1/b1/index.html")
        #expect(head.size == 11 && head.etag == put.etag)
        #expect(head.contentType == "text/html; charset=utf-8")
        #expect(head.cacheControl == "no-cache" && head.contentEncoding == "gzip")
        #expect(head.lastModified != nil)

        let body = try await store.getBytes("sites/s1/b1/index.html")
        #expect(String(buffer: body) == "<h1>hi</h1>")
        #expect(try await store.head("sites/s1/b1/index.html").contentType == "text/html; charset=utf-8")
    }

    @Test func largeStreamsAndFilesArePutChunkByChunk() async throws {
        let big = ByteBuffer(bytes: (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let chunks = stride(from: 0, to: big.readableBytes, by: 100_000).map {
            big.getSlice(at: $0, length: min(100_000, big.readableBytes - $0))!
        }
        let stream = AsyncStream<ByteBuffer> { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        }
        let info = try await store.put("big.bin", body: .stream(ObjectByteStream(stream)))
        #expect(info.size == Int64(big.readableBytes))
        #expect(try await store.getBytes("big.bin", limit: 4 << 20) == big)

        let source = root + "/source.bin"
        #expect(FileManager.default.createFile(atPath: source, contents: Data(big.readableBytesView)))
        try await store.put("copy.bin", body: .file(atPath: source, chunkSize: 64 << 10))
        #expect(try await store.head("copy.bin").etag == info.etag)
    }

    @Test func rangesAreServedAndClamped() async throws {
        try await store.put("r.txt", body: .string("0123456789"))
        let middle = try await store.get("r.txt", range: ByteRange(first: 2, last: 5))
        #expect(middle.range == 2..<6 && middle.contentLength == 4 && middle.isPartial)
        #expect(String(buffer: try await middle.body.collect(upTo: 100)) == "2345")

        let tail = try await store.get("r.txt", range: ByteRange(first: 7))
        #expect(String(buffer: try await tail.body.collect(upTo: 100)) == "789")

        let clamped = try await store.get("r.txt", range: ByteRange(first: 8, last: 500))
        #expect(String(buffer: try await clamped.body.collect(upTo: 100)) == "89")

        let error = await #expect(throws: ObjectStoreError.self) {
            try await store.get("r.txt", range: ByteRange(first: 10))
        }
        #expect(error?.code == .invalidRange)
    }

    @Test func emptyObjectsHaveAnEmptyBody() async throws {
        try await store.put("empty", body: .bytes([UInt8]()))
        let download = try await store.get("empty")
        #expect(download.contentLength == 0 && !download.isPartial)
        #expect(try await download.body.collect(upTo: 10).readableBytes == 0)
    }

    @Test func missingObjectsAreNotFound() async throws {
        for key in ["nope", "a/b/c"] {
            let error = await #expect(throws: ObjectStoreError.self) { try await store.head(key) }
            #expect(error?.code == .notFound)
        }
        try await store.put("dir/file", body: .string("x"))
        let error = await #expect(throws: ObjectStoreError.self) { try await store.get("dir") }
        #expect(error?.code == .notFound)
    }

    @Test func listingIsSortedPaginatedAndFilteredByPrefix() async throws {
        var expected: [String] = []
        for index in 0..<25 {
            let key = "sites/s/b/f\(String(format: "%02d", index)).txt"
            expected.append(key)
            try await store.put(key, body: .string("\(index)"))
        }
        try await store.put("sites/s/b-other/x", body: .string("x"))
        try await store.put("sites/s/b/sub/deep.txt", body: .string("d"))
        expected.append("sites/s/b/sub/deep.txt")

        var seen: [String] = []
        var marker: String?
        var pages = 0
        repeat {
            let page = try await store.list(prefix: "sites/s/b/", after: marker, limit: 10)
            seen += page.objects.map(\.key)
            marker = page.nextMarker
            pages += 1
        } while marker != nil
        #expect(pages == 3)
        #expect(seen == expected)
        #expect(try await store.listAll(prefix: "sites/s/b").map(\.key).contains("sites/s/b-other/x"))
        let first = try await store.list(prefix: "sites/s/b/f00", after: nil, limit: 10).objects
        #expect(first.map(\.size) == [1] && first.first?.etag == md5Hex("0"))
    }

    @Test func deletesRemoveObjectsAndEmptyDirectories() async throws {
        try await store.put("sites/a/1/x.html", body: .string("x"))
        try await store.put("sites/a/1/y/z.html", body: .string("z"))
        try await store.put("sites/a/2/x.html", body: .string("x"))
        try await store.delete(["sites/a/1/x.html", "sites/a/never-existed"])
        #expect(try await store.listAll(prefix: "sites/a/1/").map(\.key) == ["sites/a/1/y/z.html"])

        #expect(try await store.deletePrefix("sites/a/1/") == 1)
        #expect(!FileManager.default.fileExists(atPath: root + "/objects/sites/a/1"))
        #expect(!FileManager.default.fileExists(atPath: root + "/meta/sites/a/1"))
        #expect(try await store.listAll(prefix: "").map(\.key) == ["sites/a/2/x.html"])
    }

    @Test func keysThatCouldEscapeTheRootAreRejected() async throws {
        let hostile = [
            "../escape", "a/../../escape", "/etc/passwd", "a//b", "a/./b", "./a", "a/..", "a\\..\\b",
            "", "a\u{0}b", "a\nb", String(repeating: "x", count: 300),
        ]
        for key in hostile {
            let error = await #expect(throws: ObjectStoreError.self, "\(key)") {
                try await store.put(key, body: .string("x"))
            }
            #expect(error?.code == .invalidKey)
            #expect(throws: ObjectStoreError.self) { try store.openForReading(key) }
            await #expect(throws: ObjectStoreError.self) { try await store.get(key) }
            await #expect(throws: ObjectStoreError.self) { try await store.delete([key]) }
        }
        await #expect(throws: ObjectStoreError.self) { try await store.deletePrefix("../") }
        await #expect(throws: ObjectStoreError.self) { try await store.list(prefix: "/etc", after: nil, limit: 1) }
        let outside = (root as NSString).deletingLastPathComponent + "/escape"
        #expect(!FileManager.default.fileExists(atPath: outside))
    }

    @Test func readersNeverSeeHalfAnObjectWhileItIsReplaced() async throws {
        let size = 48 << 10
        func version(_ n: Int) -> ByteBuffer { ByteBuffer(repeating: UInt8(n % 251), count: size) }
        // Syncing to disk is not what this test is about; it only slows the rounds down.
        let store = try DiskObjectStore(root: root + "-fast", durable: false)
        try await store.put("hot.bin", body: .bytes(version(0)))
        let rounds = 60
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for n in 1...rounds { try await store.put("hot.bin", body: .bytes(version(n))) }
            }
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<rounds {
                        let download = try await store.get("hot.bin")
                        let bytes = try await download.body.collect(upTo: size * 2)
                        // Whole, one version only, and the ETag describes these very bytes.
                        #expect(bytes.readableBytes == size)
                        let first = bytes.getInteger(at: 0, as: UInt8.self)!
                        #expect(bytes.readableBytesView.allSatisfy { $0 == first })
                        #expect(download.info.etag == md5Hex(bytes))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.getBytes("hot.bin") == version(rounds))
    }

    @Test func presignedURLsAreRefusedExplicitly() throws {
        let error = #expect(throws: ObjectStoreError.self) { try store.presignedGET(key: "a", expiresIn: .seconds(60)) }
        #expect(error?.code == .presignUnsupported)
    }

    @Test func unfinishedUploadsAreClearedOnOpen() throws {
        #expect(FileManager.default.createFile(atPath: root + "/tmp/stale-upload", contents: Data("half".utf8)))
        _ = try DiskObjectStore(root: root)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty)
    }

    @Test func itsObjectsOpenAsLocalFilesWithTheirSize() async throws {
        try await store.put("sites/s/b/app.js", body: .string("console.log(1)"))
        let files = try #require((store as any ObjectStore).localFiles)
        let file = try files.openForReading("sites/s/b/app.js")
        defer { close(file.descriptor) }
        #expect(file.size == 14)
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = read(file.descriptor, &bytes, bytes.count)
        #expect(Array(bytes[0..<max(0, count)]) == Array("console.log(1)".utf8))
        // A missing object is `notFound`, like `get`.
        let missing = #expect(throws: ObjectStoreError.self) { try files.openForReading("sites/s/b/nope.js") }
        #expect(missing?.code == .notFound)
    }
}

func md5Hex(_ string: String) -> String { md5Hex(ByteBuffer(string: string)) }

func md5Hex(_ buffer: ByteBuffer) -> String {
    Insecure.MD5.hash(data: Data(buffer.readableBytesView)).map { String(format: "%02x", $0) }.joined()
}
