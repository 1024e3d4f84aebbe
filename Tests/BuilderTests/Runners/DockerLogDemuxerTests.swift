import Testing

@testable import Builder

@Suite struct DockerLogDemuxerTests {
    /// A frame as the engine sends it.
    static func frame(_ stream: UInt8, _ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        let length = UInt32(payload.count)
        return [
            stream, 0, 0, 0, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff),
            UInt8(length & 0xff),
        ]
            + payload
    }

    /// Joins consecutive chunks of the same stream, as a reader would see them.
    static func collect(_ chunks: [DockerLogDemuxer.Chunk]) -> [(DockerLogDemuxer.Stream, String)] {
        var result: [(DockerLogDemuxer.Stream, [UInt8])] = []
        for chunk in chunks {
            if let last = result.last, last.0 == chunk.stream {
                result[result.count - 1].1 += chunk.bytes
            } else {
                result.append((chunk.stream, chunk.bytes))
            }
        }
        return result.map { ($0.0, String(decoding: $0.1, as: UTF8.self)) }
    }

    @Test func framesInOneReadAreSplitByStream() throws {
        var demuxer = DockerLogDemuxer()
        let bytes = Self.frame(1, "out 1\n") + Self.frame(2, "err 1\n") + Self.frame(1, "out 2\n")
        let chunks = try demuxer.feed(bytes)
        #expect(chunks.map(\.stream) == [.stdout, .stderr, .stdout])
        #expect(chunks.map { String(decoding: $0.bytes, as: UTF8.self) } == ["out 1\n", "err 1\n", "out 2\n"])
        #expect(demuxer.isAtFrameBoundary)
    }

    @Test func framesCutAtEveryPossibleByteBoundaryComeOutWhole() throws {
        let bytes = Self.frame(1, "hello ") + Self.frame(2, "warning\n") + Self.frame(1, "world\n")
        for cut in 0...bytes.count {
            for secondCut in cut...bytes.count {
                var demuxer = DockerLogDemuxer()
                var chunks = try demuxer.feed(bytes[0..<cut])
                chunks += try demuxer.feed(bytes[cut..<secondCut])
                chunks += try demuxer.feed(bytes[secondCut...])
                let collected = Self.collect(chunks)
                #expect(collected.map(\.0) == [.stdout, .stderr, .stdout], "cuts at \(cut), \(secondCut)")
                #expect(collected.map(\.1) == ["hello ", "warning\n", "world\n"], "cuts at \(cut), \(secondCut)")
                #expect(demuxer.isAtFrameBoundary)
            }
        }
    }

    @Test func aLargePayloadIsHandedOnAsItArrivesNotBuffered() throws {
        var demuxer = DockerLogDemuxer()
        let payload = String(repeating: "a", count: 100_000)
        let bytes = Self.frame(1, payload)
        var largestChunk = 0
        var total = 0
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + 4096)
            for chunk in try demuxer.feed(bytes[offset..<end]) {
                largestChunk = max(largestChunk, chunk.bytes.count)
                total += chunk.bytes.count
            }
            offset = end
        }
        #expect(total == 100_000)
        #expect(largestChunk <= 4096)
        #expect(demuxer.isAtFrameBoundary)
    }

    @Test func emptyFramesAreSkipped() throws {
        var demuxer = DockerLogDemuxer()
        let chunks = try demuxer.feed(Self.frame(1, "") + Self.frame(2, "x"))
        #expect(chunks == [DockerLogDemuxer.Chunk(stream: .stderr, bytes: Array("x".utf8))])
    }

    @Test func aTruncatedStreamIsNotAtAFrameBoundary() throws {
        var demuxer = DockerLogDemuxer()
        _ = try demuxer.feed(Self.frame(1, "abcdef").prefix(10))
        #expect(!demuxer.isAtFrameBoundary)
    }

    @Test func aTTYStreamIsRejectedAsMalformed() {
        var demuxer = DockerLogDemuxer()
        #expect(throws: DockerLogDemuxer.FormatError.self) { try demuxer.feed(Array("plain text output\n".utf8)) }
        var padded = DockerLogDemuxer()
        #expect(throws: DockerLogDemuxer.FormatError.self) { try padded.feed([1, 0, 1, 0, 0, 0, 0, 1, 65]) }
    }
}
