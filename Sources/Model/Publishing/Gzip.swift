import CZlib

/// A streaming gzip compressor over zlib (RFC 1952 framing: `windowBits`
/// 15 + 16), fed chunk by chunk so that a large file never has to be in
/// memory whole.
///
/// Not thread-safe: one compression per instance, driven by one thread.
public final class GzipCompressor {
    private var stream = z_stream()
    private var finished = false

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameter level: zlib's level, 1 (fast) … 9 (small); 6 by default.
    public init(level: Int32 = 6) throws(Failure) {
        let status = deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
            Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw Failure(description: "zlib could not start a gzip stream (status \(status))")
        }
    }

    deinit {
        deflateEnd(&stream)
    }

    /// Compresses `input`, appending whatever output is ready to `output`.
    public func update(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(Failure) {
        try run(input, flush: Z_NO_FLUSH, into: &output)
    }

    /// Ends the stream, appending the rest of the output and the gzip trailer.
    public func finish(into output: inout [UInt8]) throws(Failure) {
        guard !finished else { return }
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, into: &output)
        finished = true
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32, into output: inout [UInt8]) throws(Failure) {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let base = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        stream.next_in = base
        stream.avail_in = uInt(input.count)
        var status: Int32 = Z_OK
        repeat {
            let produced = chunk.withUnsafeMutableBytes { raw -> Int in
                stream.next_out = raw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(raw.count)
                status = deflate(&stream, flush)
                return raw.count - Int(stream.avail_out)
            }
            if status == Z_STREAM_ERROR {
                throw Failure(description: "zlib failed while compressing (status \(status))")
            }
            output.append(contentsOf: chunk[0..<produced])
            // Z_NO_FLUSH: done once all input is consumed and the output had room.
            // Z_FINISH: done at Z_STREAM_END.
        } while flush == Z_FINISH ? status != Z_STREAM_END : (stream.avail_in > 0 || stream.avail_out == 0)
        stream.next_in = nil
    }

    /// `bytes` compressed in one go.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws(Failure) -> [UInt8] {
        let compressor = try GzipCompressor(level: level)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count / 3 + 64)
        var failure: Failure?
        bytes.withUnsafeBytes { raw in
            do throws(Failure) { try compressor.update(raw, into: &output) } catch { failure = error }
        }
        if let failure { throw failure }
        try compressor.finish(into: &output)
        return output
    }
}
