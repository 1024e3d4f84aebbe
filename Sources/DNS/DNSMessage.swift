/// One resource record of an answer.
public struct DNSRecord: Hashable, Sendable {
    /// The owner name, lowercased, without the trailing dot.
    public let name: String
    public let type: DNSRecordType
    /// Seconds the record may be cached.
    public let ttl: UInt32
    public let data: DNSRecordData

    public init(name: String, type: DNSRecordType, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.ttl = ttl
        self.data = data
    }
}

/// What a record says, for the types Slipway reads; other types keep their
/// raw RDATA.
public enum DNSRecordData: Hashable, Sendable {
    /// An A or AAAA record.
    case address(DNSAddress)
    /// A CNAME record: the target, lowercased, without the trailing dot.
    case cname(String)
    /// A TXT record: its character-strings joined (RFC 7208 §3.3 style), as
    /// UTF-8 with invalid bytes replaced. Each record stays separate.
    case txt(String)
    /// A CAA record.
    case caa(CAARecord)
    /// Any other type: the RDATA bytes as sent (names inside may be
    /// compressed, so they only make sense within the original message).
    case other([UInt8])

    /// The address of an A or AAAA record.
    public var address: DNSAddress? { if case .address(let address) = self { address } else { nil } }
    /// The target of a CNAME record.
    public var cnameTarget: String? { if case .cname(let target) = self { target } else { nil } }
    /// The text of a TXT record.
    public var text: String? { if case .txt(let text) = self { text } else { nil } }
    /// A CAA record.
    public var caa: CAARecord? { if case .caa(let record) = self { record } else { nil } }
}

/// A decoded answer: NOERROR or NXDOMAIN with its records.
public struct DNSResponse: Hashable, Sendable {
    /// NOERROR or NXDOMAIN (the resolver throws for the other codes).
    public let rcode: DNSResponseCode
    /// The answer section, in the order the server sent it.
    public let answers: [DNSRecord]
    /// The authority section (the zone's SOA in a negative answer).
    public let authority: [DNSRecord]
    /// Whether the answer came from a server authoritative for the name (AA bit).
    public let isAuthoritative: Bool

    public init(rcode: DNSResponseCode, answers: [DNSRecord], authority: [DNSRecord], isAuthoritative: Bool) {
        self.rcode = rcode
        self.answers = answers
        self.authority = authority
        self.isAuthoritative = isAuthoritative
    }
}

/// One question to send, as Slipway's resolver sends it (RFC 1035 §4): one
/// question with the RD bit and an EDNS0 OPT record advertising a 1232-byte
/// UDP payload (RFC 6891 §6.2.5; 1232 is the size the DNS flag day 2020
/// settled on to avoid IP fragmentation). Responses are decoded by
/// `DNSMessageDecoder` in DNSMessage+Decoding.swift.
struct DNSQuery: Hashable, Sendable {
    /// The UDP payload size advertised in the OPT record.
    static let udpPayloadSize: UInt16 = 1232
    /// The class of every question and record Slipway reads: IN.
    static let internetClass: UInt16 = 1

    let id: UInt16
    let name: String
    let type: DNSRecordType

    /// A query with a fresh ID from the system's CSPRNG
    /// (`SystemRandomNumberGenerator`), so an off-path attacker cannot guess
    /// it (RFC 5452 §4.3).
    /// - Parameter name: a name `DNSName.normalize` accepted.
    init(name: String, type: DNSRecordType, id: UInt16? = nil) {
        var generator = SystemRandomNumberGenerator()
        self.id = id ?? UInt16.random(in: .min ... .max, using: &generator)
        self.name = name
        self.type = type
    }

    /// The same question with a new ID, for the next try.
    func withNewID() -> DNSQuery { DNSQuery(name: name, type: type) }

    /// The query in wire format.
    var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12 + name.utf8.count + 2 + 4 + 11)
        bytes.appendUInt16(id)
        bytes.appendUInt16(0x0100) // QR=0, OPCODE=QUERY, RD=1
        bytes.appendUInt16(1) // QDCOUNT
        bytes.appendUInt16(0) // ANCOUNT
        bytes.appendUInt16(0) // NSCOUNT
        bytes.appendUInt16(1) // ARCOUNT: the OPT record
        DNSName.encode(name, into: &bytes)
        bytes.appendUInt16(type.rawValue)
        bytes.appendUInt16(Self.internetClass)
        // OPT (RFC 6891 §6.1.2): root owner, CLASS = payload size, TTL =
        // extended RCODE 0, version 0, no flags; no options.
        DNSName.encode("", into: &bytes)
        bytes.appendUInt16(DNSRecordType.opt.rawValue)
        bytes.appendUInt16(Self.udpPayloadSize)
        bytes.appendUInt16(0)
        bytes.appendUInt16(0)
        bytes.appendUInt16(0) // RDLENGTH
        return bytes
    }
}

extension [UInt8] {
    mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    mutating func appendUInt32(_ value: UInt32) {
        appendUInt16(UInt16(value >> 16))
        appendUInt16(UInt16(value & 0xFFFF))
    }
}
