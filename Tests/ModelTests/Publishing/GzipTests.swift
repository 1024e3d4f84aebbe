import CZlib
import Model
import SlipwayTestSupport
import Testing

@Suite struct GzipTests {

    @Test func compressedBytesInflateToTheOriginal() throws {
        let text = Array(String(repeating: "function render(view) { return view.html; }\n", count: 2000).utf8)
        let compressed = try GzipCompressor.compress(text)
        #expect(compressed.count < text.count / 10)
        #expect(compressed.prefix(2) == [0x1f, 0x8b])
        #expect(try gunzip(compressed) == text)
    }

    @Test func streamingInManyChunksGivesAValidStream() throws {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<300_000).map { _ in UInt8(ascii: "a") + UInt8(generator.next(upperBound: UInt8(4))) }
        let compressor = try GzipCompressor()
        var output: [UInt8] = []
        var offset = 0
        while offset < data.count {
            let end = min(data.count, offset + 7919)
            try data[offset..<end].withUnsafeBytes { try compressor.update($0, into: &output) }
            offset = end
        }
        try compressor.finish(into: &output)
        #expect(try gunzip(output) == data)
    }

    @Test func emptyInputIsAValidEmptyStream() throws {
        #expect(try gunzip(try GzipCompressor.compress([])) == [])
    }
}
