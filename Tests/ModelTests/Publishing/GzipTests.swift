import CZlib
import Testing

@testable import Builder

@Suite struct GzipTests {
    /// Inflates a gzip stream with zlib (`windowBits` 15 + 16).
    static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        #expect(inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        var input = bytes
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inputBuffer in
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = uInt(inputBuffer.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { out -> Int in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                output += chunk[0..<produced]
            } while status == Z_OK
        }
        guard status == Z_STREAM_END else { throw HarnessError(description: "inflate ended with \(status)") }
        return output
    }

    @Test func compressedBytesInflateToTheOriginal() throws {
        let text = Array(String(repeating: "function render(view) { return view.html; }\n", count: 2000).utf8)
        let compressed = try GzipCompressor.compress(text)
        #expect(compressed.count < text.count / 10)
        #expect(compressed.prefix(2) == [0x1f, 0x8b])
        #expect(try Self.gunzip(compressed) == text)
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
        #expect(try Self.gunzip(output) == data)
    }

    @Test func emptyInputIsAValidEmptyStream() throws {
        #expect(try Self.gunzip(try GzipCompressor.compress([])) == [])
    }
}
