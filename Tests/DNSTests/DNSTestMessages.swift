/// Hand-built DNS messages for the decoder tests and the scripted server:
/// answers to a query's bytes, records, and the pieces a hostile server
/// would bend (IDs, counts, names, compression pointers).
enum DNSTestMessages {
    /// Flags of a normal answer: QR, RD, RA, NOERROR.
    static let answerFlags: UInt16 = 0x8180

    /// The ID of a query or response.
    static func id(of message: [UInt8]) -> UInt16 { UInt16(message[0]) << 8 | UInt16(message[1]) }

    /// The question section of a query (its name is never compressed).
    static func question(of query: [UInt8]) -> [UInt8] {
        var index = 12
        while query[index] != 0 { index += Int(query[index]) + 1 }
        return Array(query[12..<(index + 1 + 4)])
    }

    /// The question's name, as text.
    static func name(of query: [UInt8]) -> String {
        var labels: [String] = []
        var index = 12
        while query[index] != 0 {
            let length = Int(query[index])
            labels.append(String(decoding: query[(index + 1)...(index + length)], as: UTF8.self))
            index += length + 1
        }
        return labels.joined(separator: ".")
    }

    /// The question's type.
    static func type(of query: [UInt8]) -> UInt16 {
        let question = question(of: query)
        return UInt16(question[question.count - 4]) << 8 | UInt16(question[question.count - 3])
    }

    /// A response to `query` carrying `answers` (records built with ``record(_:type:ttl:rdata:)``).
    static func response(
        to query: [UInt8], id: UInt16? = nil, flags: UInt16 = answerFlags, answers: [[UInt8]] = [],
        authority: [[UInt8]] = []
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        append16(id ?? Self.id(of: query), to: &bytes)
        append16(flags, to: &bytes)
        append16(1, to: &bytes)
        append16(UInt16(answers.count), to: &bytes)
        append16(UInt16(authority.count), to: &bytes)
        append16(0, to: &bytes)
        bytes += question(of: query)
        for record in answers + authority { bytes += record }
        return bytes
    }

    /// A record owned by `name` (uncompressed) with class IN.
    static func record(_ name: String, type: UInt16, ttl: UInt32 = 60, rdata: [UInt8]) -> [UInt8] {
        var bytes = wireName(name)
        append16(type, to: &bytes)
        append16(1, to: &bytes)
        append16(UInt16(ttl >> 16), to: &bytes)
        append16(UInt16(ttl & 0xFFFF), to: &bytes)
        append16(UInt16(rdata.count), to: &bytes)
        return bytes + rdata
    }

    /// TXT RDATA: `text` cut into character-strings of at most 255 bytes.
    static func txtData(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var rdata: [UInt8] = []
        var index = 0
        repeat {
            let chunk = bytes[index..<min(index + 255, bytes.count)]
            rdata.append(UInt8(chunk.count))
            rdata += chunk
            index += 255
        } while index < bytes.count
        return rdata
    }

    /// A name in wire format, uncompressed.
    static func wireName(_ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += label.utf8
        }
        return bytes + [0]
    }

    static func append16(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }
}
