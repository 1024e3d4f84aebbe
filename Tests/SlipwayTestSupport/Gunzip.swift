import CZlib

/// Inflates a gzip stream with zlib (`windowBits` 15 + 16).
public func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
    var stream = z_stream()
    guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw TestFailure("zlib could not start inflating")
    }
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
    guard status == Z_STREAM_END else { throw TestFailure("inflate ended with \(status)") }
    return output
}
