import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import SlipwayTestSupport
import Testing

@testable import Storage

/// Multipart uploads against the real Ceph RADOS Gateway, with 5 MiB parts
/// (S3's minimum) so a ~12 MiB stream takes three parts.
@Suite(
    .enabled(
        if: TestS3.shouldRun,
        "needs an S3-compatible store: scripts/test starts Ceph RADOS Gateway and sets S3_ENDPOINT and the AWS_* credentials"
    )
)
struct S3MultipartTests {
    static let partSize = 5 << 20

    static func smallParts(_ configuration: inout S3Configuration) {
        configuration.partSize = partSize
        configuration.multipartThreshold = partSize
    }

    struct Failure: Error {}

    /// `size` deterministic pseudo-random bytes in `chunk`-byte pieces, and
    /// their SHA-256. With `failAfter`, the stream throws once that many
    /// bytes were produced.
    static func stream(size: Int, chunk: Int = 64 << 10, failAfter: Int? = nil) -> (ObjectBody, String) {
        var hasher = SHA256()
        var chunks: [ByteBuffer] = []
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        var produced = 0
        while produced < size {
            let count = min(chunk, size - produced)
            var buffer = ByteBuffer()
            // xorshift64, eight bytes per step (a debug build is slow per byte).
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                var offset = 0
                while offset < count {
                    state ^= state << 13
                    state ^= state >> 7
                    state ^= state << 17
                    withUnsafeBytes(of: state.littleEndian) { word in
                        let length = min(8, count - offset)
                        raw.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: length)
                    }
                    offset += 8
                }
                return count
            }
            buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            chunks.append(buffer)
            produced += count
        }
        let digest = SigV4Signer.hex(hasher.finalize())
        let sequence = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
            var sent = 0
            for chunk in chunks {
                if let failAfter, sent >= failAfter {
                    continuation.finish(throwing: Failure())
                    return
                }
                continuation.yield(chunk)
                sent += chunk.readableBytes
            }
            continuation.finish()
        }
        return (.stream(ObjectByteStream(sequence)), digest)
    }

    static func sha256(of download: ObjectDownload) async throws -> (String, Int) {
        var hasher = SHA256()
        var count = 0
        for try await chunk in download.body {
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            count += chunk.readableBytes
        }
        return (SigV4Signer.hex(hasher.finalize()), count)
    }

    @Test func aStreamAboveTheThresholdIsUploadedInParts() async throws {
        let size = 12 << 20 + 12_345
        let (body, digest) = Self.stream(size: size)
        try await TestS3.withBucket(configure: Self.smallParts) { store in
            let info = try await store.put(
                "big/archive.bin", body: body,
                options: PutOptions(contentType: "application/zip", cacheControl: "no-store")
            )
            #expect(info.size == Int64(size))
            // The ETag of a three-part upload ends in "-3", and is the real
            // one even though Ceph's CompleteMultipartUpload answer has none.
            #expect(info.etag.hasSuffix("-3"))
            let head = try await store.head("big/archive.bin")
            #expect(head.etag == info.etag)
            #expect(head.size == Int64(size))
            #expect(head.contentType == "application/zip")
            #expect(head.cacheControl == "no-store")
            let (downloaded, count) = try await Self.sha256(of: try await store.get("big/archive.bin"))
            #expect(count == size)
            #expect(downloaded == digest)
            let tail = try await store.get("big/archive.bin", range: ByteRange(first: Int64(size - 10)))
            #expect(tail.range == Int64(size - 10)..<Int64(size))
        }
    }

    @Test func anInMemoryBodyAboveTheThresholdIsUploadedInParts() async throws {
        let bytes = ByteBuffer(repeating: 0x5A, count: 11 << 20)
        try await TestS3.withBucket(configure: Self.smallParts) { store in
            let info = try await store.put("mem.bin", body: .bytes(bytes))
            #expect(info.etag.hasSuffix("-3"))
            #expect(try await store.getBytes("mem.bin", limit: 16 << 20) == bytes)
        }
    }

    @Test func aStreamEndingAtTheThresholdIsOnePut() async throws {
        let (body, digest) = Self.stream(size: Self.partSize, chunk: 100_000)
        try await TestS3.withBucket(configure: Self.smallParts) { store in
            let info = try await store.put("exact.bin", body: body)
            #expect(!info.etag.contains("-"))
            let (downloaded, count) = try await Self.sha256(of: try await store.get("exact.bin"))
            #expect(count == Self.partSize)
            #expect(downloaded == digest)
        }
    }

    @Test func aFailingStreamAbortsTheUploadAndLeavesNoObject() async throws {
        let (body, _) = Self.stream(size: 12 << 20, failAfter: 7 << 20)
        try await TestS3.withBucket(configure: Self.smallParts) { store in
            await #expect(throws: Failure.self) { try await store.put("broken.bin", body: body) }
            let error = await #expect(throws: ObjectStoreError.self) { try await store.head("broken.bin") }
            #expect(error?.code == .notFound)
            let pending = try await Self.pendingUploads(store)
            #expect(pending.isEmpty)

            // The check above can see a pending upload: start one and find it.
            var start = S3Request(operation: "CreateMultipartUpload", method: .POST, key: "probe.bin")
            start.query = [("uploads", "")]
            let created = try S3XML.parse(try await store.sendAndCollect(start).body, what: "CreateMultipartUpload")
            let uploadID = try #require(created.text(of: "UploadId"))
            let probed = try await Self.pendingUploads(store)
            #expect(probed == ["probe.bin"])
            var abort = S3Request(operation: "AbortMultipartUpload", method: .DELETE, key: "probe.bin")
            abort.query = [("uploadId", uploadID)]
            _ = try await store.sendAndCollect(abort)
        }
    }

    /// Keys of the bucket's unfinished multipart uploads (ListMultipartUploads).
    static func pendingUploads(_ store: S3ObjectStore) async throws -> [String] {
        var request = S3Request(operation: "ListMultipartUploads", method: .GET, key: nil)
        request.query = [("uploads", "")]
        let answer = try await store.sendAndCollect(request)
        let root = try S3XML.parse(answer.body, what: "ListMultipartUploads")
        return root.children(named: "Upload").compactMap { $0.text(of: "Key") }
    }
}
