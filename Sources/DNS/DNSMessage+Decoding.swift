/// Decoding DNS responses from untrusted bytes.
///
/// Anyone on the path, or a hostile DNS server, chooses these bytes, so every
/// read is bounds-checked and every failure is a thrown `DNSDecodingError`,
/// never a trap:
/// - names (RFC 1035 §3.1, §4.1.4): a label is at most 63 bytes (length
///   bytes 0x40-0xBF are extended label types, which are refused), a name at
///   most 255 bytes; a compression pointer must point backwards, before the
///   label that holds it, which rules out loops, and at most
///   `maximumPointerHops` are followed;
/// - records: RDATA must lie within RDLENGTH and within the message, and the
///   RDATA of A (4 bytes), AAAA (16), CNAME, TXT and CAA must be well-formed;
/// - the response must answer our query: same ID, QR set, opcode QUERY, one
///   question equal (case-insensitively) to ours.
/// A truncated (TC) response is reported without reading its records, which
/// may be cut off; the resolver repeats the query over TCP.
enum DNSMessageDecoder {
    /// What a response turned out to be.
    enum Decoded: Hashable {
        /// The TC bit was set: ask again over TCP.
        case truncated
        /// A full response (any RCODE; the resolver decides which are errors).
        case response(DNSResponse)
    }

    /// How many compression pointers one name may follow.
    static let maximumPointerHops = 64
    /// The DNS header is 12 bytes (RFC 1035 §4.1.1).
    static let headerLength = 12

    /// The message ID of `bytes`, if it has one.
    static func messageID(_ bytes: [UInt8]) -> UInt16? {
        bytes.count >= 2 ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : nil
    }

    /// Decodes `bytes` as the answer to `query`.
    static func decode(_ bytes: [UInt8], answering query: DNSQuery) throws(DNSDecodingError) -> Decoded {
        var reader = DNSWireReader(bytes)
        guard bytes.count >= headerLength else {
            throw .malformed("the response is \(bytes.count) bytes, shorter than a DNS header")
        }
        let id = try reader.readUInt16()
        let flags = try reader.readUInt16()
        let questionCount = try reader.readUInt16()
        let answerCount = try reader.readUInt16()
        let authorityCount = try reader.readUInt16()
        let additionalCount = try reader.readUInt16()

        guard id == query.id else { throw .mismatched("the response's ID \(id) is not the query's \(query.id)") }
        guard flags & 0x8000 != 0 else { throw .mismatched("the message is a query, not a response (QR is 0)") }
        let opcode = (flags >> 11) & 0xF
        guard opcode == 0 else { throw .mismatched("the response has opcode \(opcode), not QUERY") }
        let rcode = DNSResponseCode(rawValue: UInt8(flags & 0xF))
        let truncated = flags & 0x0200 != 0
        let authoritative = flags & 0x0400 != 0

        // Some servers leave the question out of an error response; when it
        // is there it must be ours.
        guard questionCount == 1 || (questionCount == 0 && rcode != .noError && rcode != .nonExistentDomain) else {
            throw .mismatched("the response has \(questionCount) questions, not the query's one")
        }
        if questionCount == 1 {
            let name = try reader.readName()
            let type = try reader.readUInt16()
            let questionClass = try reader.readUInt16()
            guard name == query.name, type == query.type.rawValue, questionClass == DNSQuery.internetClass else {
                throw .mismatched(
                    "the response is about \(name.isEmpty ? "." : name) \(DNSRecordType(rawValue: type)), "
                        + "not \(query.name) \(query.type)")
            }
        }
        if truncated { return .truncated }

        let answers = try readRecords(answerCount, from: &reader)
        let authority = try readRecords(authorityCount, from: &reader)
        // The additional section is read to check it is well-formed; Slipway
        // does not use its records (OPT, glue).
        _ = try readRecords(additionalCount, from: &reader)
        return .response(
            DNSResponse(rcode: rcode, answers: answers, authority: authority, isAuthoritative: authoritative))
    }

    private static func readRecords(_ count: UInt16, from reader: inout DNSWireReader) throws(DNSDecodingError)
        -> [DNSRecord]
    {
        var records: [DNSRecord] = []
        // Every record takes at least 11 bytes, so a count larger than the
        // message allows fails on reading; no need to reserve for it.
        for _ in 0..<count {
            records.append(try readRecord(from: &reader))
        }
        return records
    }

    private static func readRecord(from reader: inout DNSWireReader) throws(DNSDecodingError) -> DNSRecord {
        let name = try reader.readName()
        let type = DNSRecordType(rawValue: try reader.readUInt16())
        _ = try reader.readUInt16() // CLASS (for OPT: the payload size)
        let ttl = try reader.readUInt32()
        let length = Int(try reader.readUInt16())
        let start = reader.offset
        guard length <= reader.remaining else {
            throw .malformed("a \(type) record of \(name) claims \(length) bytes of data past the end of the message")
        }
        let end = start + length
        let data: DNSRecordData
        switch type {
        case .a, .aaaa:
            let expected = type == .a ? 4 : 16
            guard length == expected else {
                throw .malformed("an \(type) record of \(name) has \(length) bytes of data, not \(expected)")
            }
            let bytes = Array(try reader.read(length))
            guard let address = DNSAddress(bytes: bytes) else { throw .malformed("an \(type) record is unreadable") }
            data = .address(address)
        case .cname:
            let target = try reader.readName()
            guard reader.offset == end else {
                throw .malformed("the CNAME record of \(name) does not fill its \(length) bytes of data")
            }
            data = .cname(target)
        case .txt:
            data = .txt(try readText(reader.read(length), owner: name))
        case .caa:
            data = .caa(try readCAA(reader.read(length), owner: name))
        default:
            data = .other(Array(try reader.read(length)))
        }
        return DNSRecord(name: name, type: type, ttl: ttl, data: data)
    }

    /// TXT RDATA (RFC 1035 §3.3.14): one or more length-prefixed
    /// character-strings, joined.
    private static func readText(_ rdata: ArraySlice<UInt8>, owner: String) throws(DNSDecodingError) -> String {
        var joined: [UInt8] = []
        var index = rdata.startIndex
        while index < rdata.endIndex {
            let length = Int(rdata[index])
            guard length <= rdata.endIndex - index - 1 else {
                throw .malformed("a TXT record of \(owner) has a character-string running past its data")
            }
            joined.append(contentsOf: rdata[(index + 1)..<(index + 1 + length)])
            index += 1 + length
        }
        return String(decoding: joined, as: UTF8.self)
    }

    /// CAA RDATA (RFC 8659 §4.1): flags, tag length, tag, value.
    private static func readCAA(_ rdata: ArraySlice<UInt8>, owner: String) throws(DNSDecodingError) -> CAARecord {
        guard rdata.count >= 2 else { throw .malformed("a CAA record of \(owner) is shorter than 2 bytes") }
        let flags = rdata[rdata.startIndex]
        let tagLength = Int(rdata[rdata.startIndex + 1])
        let tagStart = rdata.startIndex + 2
        guard tagLength >= 1, tagLength <= rdata.endIndex - tagStart else {
            throw .malformed("a CAA record of \(owner) has a tag length of \(tagLength)")
        }
        let tagBytes = rdata[tagStart..<(tagStart + tagLength)]
        guard tagBytes.allSatisfy({ isASCIIAlphanumeric($0) }) else {
            throw .malformed("a CAA record of \(owner) has a tag that is not letters and digits")
        }
        return CAARecord(
            flags: flags,
            tag: String(decoding: tagBytes, as: UTF8.self),
            value: String(decoding: rdata[(tagStart + tagLength)...], as: UTF8.self))
    }

    private static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }
}

/// A cursor over a message's bytes; every read checks the bounds.
struct DNSWireReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func readUInt8() throws(DNSDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw .malformed("the message ends early (truncated)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() throws(DNSDecodingError) -> UInt16 {
        let high = try readUInt8()
        let low = try readUInt8()
        return UInt16(high) << 8 | UInt16(low)
    }

    mutating func readUInt32() throws(DNSDecodingError) -> UInt32 {
        let high = try readUInt16()
        let low = try readUInt16()
        return UInt32(high) << 16 | UInt32(low)
    }

    mutating func read(_ count: Int) throws(DNSDecodingError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw .malformed("the message ends early (truncated)") }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    /// Reads a possibly compressed name at the cursor and moves past it
    /// (past the first pointer, if any).
    mutating func readName() throws(DNSDecodingError) -> String {
        var labels: [String] = []
        var position = offset
        var end: Int? = nil
        // Where the labels being read began: a pointer must point before it.
        var segmentStart = offset
        var hops = 0
        var wireLength = 1
        while true {
            guard position < bytes.count else { throw .malformed("a name runs past the end of the message") }
            let length = bytes[position]
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    offset = end ?? position + 1
                    return labels.joined(separator: ".")
                }
                let start = position + 1
                guard Int(length) <= bytes.count - start else {
                    throw .malformed("a name's label runs past the end of the message")
                }
                wireLength += Int(length) + 1
                guard wireLength <= DNSName.maximumWireLength else {
                    throw .malformed("a name is longer than \(DNSName.maximumWireLength) bytes")
                }
                labels.append(Self.presentation(bytes[start..<(start + Int(length))]))
                position = start + Int(length)
            case 0xC0:
                guard position + 1 < bytes.count else {
                    throw .malformed("a name's compression pointer runs past the end of the message")
                }
                let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
                if end == nil { end = position + 2 }
                guard target < bytes.count else {
                    throw .malformed("a compression pointer points past the end of the message")
                }
                // RFC 1035 §4.1.4: a pointer refers to a prior occurrence of
                // the name, so it points before the labels read so far. Each
                // jump then goes strictly backwards, and no chain of
                // pointers can loop.
                guard target < segmentStart else {
                    throw .malformed("a compression pointer points forward or into its own name (a loop)")
                }
                segmentStart = target
                hops += 1
                guard hops <= DNSMessageDecoder.maximumPointerHops else {
                    throw .malformed("a name follows more than \(DNSMessageDecoder.maximumPointerHops) pointers")
                }
                position = target
            default:
                throw .malformed(
                    "a name has a label longer than 63 bytes or of an unknown type (0x\(String(length, radix: 16)))")
            }
        }
    }

    /// A label as text: ASCII letters lowercased; a dot, a backslash and
    /// bytes outside printable ASCII escaped as `\DDD` (RFC 4343 §2.1), so a
    /// hostile label cannot pass for two labels or smuggle control bytes.
    private static func presentation(_ label: ArraySlice<UInt8>) -> String {
        var text = ""
        for byte in label {
            switch byte {
            case 0x41...0x5A: text.unicodeScalars.append(Unicode.Scalar(byte + 0x20))
            case 0x2E, 0x5C, 0x00...0x20, 0x7F...0xFF:
                let digits = String(byte)
                text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
            default: text.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return text
    }
}
