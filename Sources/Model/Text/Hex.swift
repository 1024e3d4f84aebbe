/// Lower-case hexadecimal, as digests and signatures are written in
/// headers, ETags and SigV4.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Two hex digits per byte; at most `maxBytes` bytes are encoded.
    public static func encode(_ bytes: some Sequence<UInt8>, maxBytes: Int = .max) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(maxBytes, bytes.underestimatedCount) * 2)
        var count = 0
        for byte in bytes {
            if count == maxBytes { break }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
            count += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
