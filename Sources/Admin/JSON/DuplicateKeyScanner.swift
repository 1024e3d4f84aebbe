/// Finds a key that appears twice in one object of a JSON text.
///
/// RFC 8259 (section 4) only says names SHOULD be unique, and parsers
/// disagree on what a repeated one means: Foundation's decoder keeps the
/// first, others the last. A body that two readers could understand
/// differently is refused instead (``StrictJSON``).
///
/// Keys are compared after their escapes are decoded, as Swift strings
/// (`"slug"` and `"sl\u0075g"` are the same key). The scan is iterative, so
/// deep nesting cannot exhaust the stack, and tolerant: it only looks for
/// repeated keys, and whether the text is valid JSON is for the decoder to say.
struct DuplicateKeyScanner {
    /// The first repeated key, in reading order.
    struct Duplicate: Sendable, Hashable {
        /// The key with the path of its object: `env[1].name`.
        let path: String
        /// Byte offset of the repeated key's opening quote, counted from 0
        /// like Foundation's "around character N".
        let offset: Int
    }

    /// The first key repeated within one object of `bytes`; nil when there
    /// is none, or when the text ends or breaks before the scan can tell.
    static func firstDuplicate(in bytes: [UInt8]) -> Duplicate? {
        var scanner = DuplicateKeyScanner(bytes: bytes)
        return try? scanner.scan()
    }

    private struct Malformed: Error {}

    /// An open object (its keys so far and the key being read) or array
    /// (the index being read).
    private enum Container {
        case object(keys: Set<String>, current: String)
        case array(index: Int)
    }

    private let bytes: [UInt8]
    private var index = 0
    private var stack: [Container] = []

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func scan() throws(Malformed) -> Duplicate? {
        var found: Duplicate?
        while true {
            // A value starts here.
            skipWhitespace()
            guard index < bytes.count else { throw Malformed() }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "}") {
                    index += 1
                } else {
                    let key = try readKey()
                    stack.append(.object(keys: [key], current: key))
                    continue
                }
            case UInt8(ascii: "["):
                index += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "]") {
                    index += 1
                } else {
                    stack.append(.array(index: 0))
                    continue
                }
            case UInt8(ascii: "\""):
                _ = try readString()
            default:
                try skipScalar()
            }
            // The value ended: close the containers it completes, up to the
            // next value to read.
            closing: while true {
                skipWhitespace()
                guard let top = stack.popLast() else {
                    // Only whitespace may follow the top-level value.
                    guard index == bytes.count else { throw Malformed() }
                    return found
                }
                switch (top, peek()) {
                case (.object(var keys, _), UInt8(ascii: ",")):
                    index += 1
                    skipWhitespace()
                    let start = index
                    let key = try readKey()
                    if !keys.insert(key).inserted, found == nil {
                        found = Duplicate(path: path(appending: key), offset: start)
                    }
                    stack.append(.object(keys: keys, current: key))
                    break closing
                case (.array(let position), UInt8(ascii: ",")):
                    index += 1
                    stack.append(.array(index: position + 1))
                    break closing
                case (.object, UInt8(ascii: "}")), (.array, UInt8(ascii: "]")):
                    index += 1
                default:
                    throw Malformed()
                }
            }
        }
    }

    /// `"key"` then `:`; leaves the index on the value.
    private mutating func readKey() throws(Malformed) -> String {
        guard peek() == UInt8(ascii: "\"") else { throw Malformed() }
        let key = try readString()
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else { throw Malformed() }
        index += 1
        return key
    }

    /// A string starting at the index, its escapes decoded.
    private mutating func readString() throws(Malformed) -> String {
        index += 1 // the opening quote
        var utf8: [UInt8] = []
        var pendingHighSurrogate: UInt16?
        while index < bytes.count {
            if pendingHighSurrogate != nil, !startsUnicodeEscape(at: index) {
                // A high surrogate without its low half stands for U+FFFD.
                pendingHighSurrogate = nil
                append(Self.replacement, to: &utf8)
            }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw Malformed() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    let unit = try readHex4()
                    if let high = pendingHighSurrogate {
                        pendingHighSurrogate = nil
                        if (0xDC00...0xDFFF).contains(unit) {
                            let value = 0x10000 + (UInt32(high - 0xD800) << 10) + UInt32(unit - 0xDC00)
                            append(Unicode.Scalar(value)!, to: &utf8)
                            continue
                        }
                        append(Self.replacement, to: &utf8)
                    }
                    if (0xD800...0xDBFF).contains(unit) {
                        pendingHighSurrogate = unit
                    } else {
                        append(Unicode.Scalar(UInt32(unit)) ?? Self.replacement, to: &utf8)
                    }
                default:
                    throw Malformed()
                }
            case 0x00..<0x20:
                throw Malformed()
            default:
                utf8.append(byte)
            }
        }
        throw Malformed()
    }

    private static let replacement: Unicode.Scalar = "\u{FFFD}"

    private func append(_ scalar: Unicode.Scalar, to utf8: inout [UInt8]) {
        utf8.append(contentsOf: String(Character(scalar)).utf8)
    }

    private func startsUnicodeEscape(at position: Int) -> Bool {
        position + 1 < bytes.count && bytes[position] == UInt8(ascii: "\\") && bytes[position + 1] == UInt8(ascii: "u")
    }

    private mutating func readHex4() throws(Malformed) -> UInt16 {
        guard index + 4 <= bytes.count else { throw Malformed() }
        var value: UInt16 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Malformed()
            }
            value = value << 4 | UInt16(digit)
        }
        index += 4
        return value
    }

    /// A number, `true`, `false` or `null`, read loosely: the decoder checks
    /// their grammar.
    private mutating func skipScalar() throws(Malformed) {
        let start = index
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "E"):
                index += 1
            default:
                guard index > start else { throw Malformed() }
                return
            }
        }
        guard index > start else { throw Malformed() }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count,
            bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D
        {
            index += 1
        }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    /// `env[1].name`: the open containers' keys and indices, then `key`.
    private func path(appending key: String) -> String {
        var text = ""
        for container in stack {
            switch container {
            case .object(_, let current): text += text.isEmpty ? current : ".\(current)"
            case .array(let position): text += "[\(position)]"
            }
        }
        return text.isEmpty ? key : "\(text).\(key)"
    }
}
