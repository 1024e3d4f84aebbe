import Foundation

/// Finds secret values in log text and replaces them with `***`, comparing
/// UTF-8 bytes.
///
/// - Bytes, not characters: a secret followed by a combining mark (which
///   merges with the secret's last letter into one `Character`) or starting
///   with one is found all the same. A match of valid UTF-8 inside valid
///   UTF-8 always starts and ends on a scalar boundary, so masking never
///   splits a character.
/// - A value spanning several lines (a PEM key) reaches the log a line at a
///   time: each of its lines is a mask of its own, besides the whole value.
/// - Overlapping or adjacent matches become one `***`: no byte of any
///   secret shows, whatever the order of the masks.
/// - A line that was cut before it reached the log may end with the start
///   of a secret: with `cutAtEnd`, that start is masked too.
///
/// Values shorter than ``minimumLength`` characters (and such lines of a
/// multi-line value) are not masked: they would mangle every line and say
/// little.
struct SecretMasker: Sendable {
    /// Shortest value masked, in characters.
    static let minimumLength = 4
    static let replacement: [UInt8] = Array("***".utf8)

    /// Every mask, as UTF-8 bytes.
    private(set) var masks: [[UInt8]] = []
    /// For each byte value, the masks starting with it.
    private var byFirstByte = [[Int]](repeating: [], count: 256)

    init(secrets: [String] = []) {
        add(secrets)
    }

    var isEmpty: Bool { masks.isEmpty }

    /// Masks `secrets` from now on.
    mutating func add(_ secrets: [String]) {
        var known = Set(masks)
        for secret in secrets {
            for value in Self.maskedForms(of: secret) {
                let bytes = Array(value.utf8)
                guard known.insert(bytes).inserted else { continue }
                byFirstByte[Int(bytes[0])].append(masks.count)
                masks.append(bytes)
            }
        }
    }

    /// What is masked for one secret: the value, and each line of a value
    /// that has several (as it is, and without the spaces around it).
    static func maskedForms(of secret: String) -> [String] {
        var forms = [secret]
        if secret.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            for line in secret.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
                forms.append(String(line))
                forms.append(line.trimmingCharacters(in: .whitespaces))
            }
        }
        return forms.filter { $0.count >= minimumLength }
    }

    /// `text` with every occurrence of a mask replaced by `***`.
    /// - Parameter cutAtEnd: `text` is the start of a longer line that was
    ///   cut: a mask whose beginning ends the text is masked too.
    func mask(_ text: [UInt8], cutAtEnd: Bool = false) -> [UInt8] {
        guard !masks.isEmpty, !text.isEmpty else { return text }
        var covered: [Range<Int>] = []
        text.withUnsafeBufferPointer { bytes in
            let count = bytes.count
            for start in 0..<count {
                for index in byFirstByte[Int(bytes[start])] {
                    let mask = masks[index]
                    let length = min(mask.count, count - start)
                    guard length == mask.count || cutAtEnd else { continue }
                    var matched = true
                    for offset in 1..<max(1, length) where bytes[start + offset] != mask[offset] {
                        matched = false
                        break
                    }
                    guard matched else { continue }
                    let end = start + length
                    // Starts only grow: a match touching the last run extends it.
                    if let last = covered.last, start <= last.upperBound {
                        covered[covered.count - 1] = last.lowerBound..<max(last.upperBound, end)
                    } else {
                        covered.append(start..<end)
                    }
                }
            }
        }
        guard !covered.isEmpty else { return text }
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        var copied = 0
        for run in covered {
            result.append(contentsOf: text[copied..<run.lowerBound])
            result.append(contentsOf: Self.replacement)
            copied = run.upperBound
        }
        result.append(contentsOf: text[copied...])
        return result
    }

    /// `text` cut to at most `limit` bytes, marker included, on a UTF-8
    /// scalar boundary, with `marker` at the end.
    static func cut(_ text: [UInt8], toBytes limit: Int, marker: [UInt8]) -> [UInt8] {
        var end = max(0, min(text.count, limit - marker.count))
        // `text[end]` is the first byte left out: while it continues a
        // sequence, the sequence would be split, so leave it out whole.
        while end > 0, end < text.count, text[end] & 0xC0 == 0x80 { end -= 1 }
        return Array(text[..<end]) + marker
    }
}
