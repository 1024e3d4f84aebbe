import NIOCore
import Testing

@testable import Storage

@Suite struct S3MultipartPartReaderTests {
    static func stream(_ sizes: [Int]) -> (ObjectByteStream, [UInt8]) {
        var all: [UInt8] = []
        var chunks: [ByteBuffer] = []
        for size in sizes {
            let chunk = (0..<size).map { UInt8(truncatingIfNeeded: (all.count + $0) * 7) }
            all += chunk
            chunks.append(ByteBuffer(bytes: chunk))
        }
        let sequence = AsyncStream<ByteBuffer> { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        }
        return (ObjectByteStream(sequence), all)
    }

    @Test(arguments: [[1, 2, 3, 4, 5, 6, 7], [25], [10, 10, 5], [3, 0, 9, 13], [10]])
    func partsHaveExactlyThePartSizeExceptTheLast(sizes: [Int]) async throws {
        let (stream, all) = Self.stream(sizes)
        var reader = MultipartPartReader(pending: ByteBuffer(), chunks: stream.makeAsyncIterator(), partSize: 10)
        var parts: [[UInt8]] = []
        while let part = try await reader.nextPart() { parts.append(Array(part.readableBytesView)) }
        #expect(parts.flatMap { $0 } == all)
        #expect(parts.dropLast().allSatisfy { $0.count == 10 })
        #expect(parts.last.map { (1...10).contains($0.count) } ?? all.isEmpty)
    }

    @Test func bytesAlreadyBufferedComeFirst() async throws {
        let (stream, rest) = Self.stream([4])
        var reader = MultipartPartReader(
            pending: ByteBuffer(bytes: [9, 9, 9]), chunks: stream.makeAsyncIterator(), partSize: 5)
        let first = try await reader.nextPart()
        let second = try await reader.nextPart()
        #expect(first.map { Array($0.readableBytesView) } == [9, 9, 9] + rest.prefix(2))
        #expect(second.map { Array($0.readableBytesView) } == Array(rest.suffix(2)))
        #expect(try await reader.nextPart() == nil)
    }
}
