/// A DNS resource record type (RFC 1035 §3.2.2), as a number with names for
/// the types Slipway's domain checks read. Any other number is carried
/// through unchanged, so an answer with a type Slipway does not know still
/// decodes.
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// An IPv4 address (RFC 1035 §3.4.1).
    public static let a = DNSRecordType(rawValue: 1)
    /// A name server (RFC 1035 §3.3.11); only seen in authority sections.
    public static let ns = DNSRecordType(rawValue: 2)
    /// An alias to another name (RFC 1035 §3.3.1).
    public static let cname = DNSRecordType(rawValue: 5)
    /// The start of a zone (RFC 1035 §3.3.13); the authority section of a
    /// negative answer holds one.
    public static let soa = DNSRecordType(rawValue: 6)
    /// Text (RFC 1035 §3.3.14): Slipway's `_slipway-challenge` ownership proof.
    public static let txt = DNSRecordType(rawValue: 16)
    /// An IPv6 address (RFC 3596 §2.1).
    public static let aaaa = DNSRecordType(rawValue: 28)
    /// The EDNS0 pseudo-record of the additional section (RFC 6891 §6.1.1).
    public static let opt = DNSRecordType(rawValue: 41)
    /// Certification Authority Authorization (RFC 8659 §4).
    public static let caa = DNSRecordType(rawValue: 257)

    /// The mnemonic (`A`, `TXT`, ...) or `TYPE<n>` for others (RFC 3597 §5).
    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .txt: "TXT"
        case .aaaa: "AAAA"
        case .opt: "OPT"
        case .caa: "CAA"
        default: "TYPE\(rawValue)"
        }
    }
}

/// The response code of a DNS answer (RFC 1035 §4.1.1, RFC 6895 §2.3).
/// Only NOERROR and NXDOMAIN are answers; the resolver turns the others into
/// a ``DNSError``.
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The name exists; the answer section holds what it has of the type.
    public static let noError = DNSResponseCode(rawValue: 0)
    /// The server could not understand the query.
    public static let formatError = DNSResponseCode(rawValue: 1)
    /// The server could not get an answer (SERVFAIL): a broken zone, DNSSEC
    /// failure or unreachable authoritative servers.
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    /// The name does not exist (NXDOMAIN).
    public static let nonExistentDomain = DNSResponseCode(rawValue: 3)
    /// The server does not support this kind of query.
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    /// The server refuses to answer (often: it does not recurse for us).
    public static let refused = DNSResponseCode(rawValue: 5)

    /// The mnemonic (`NOERROR`, `SERVFAIL`, ...) or `RCODE<n>`.
    public var description: String {
        switch self {
        case .noError: "NOERROR"
        case .formatError: "FORMERR"
        case .serverFailure: "SERVFAIL"
        case .nonExistentDomain: "NXDOMAIN"
        case .notImplemented: "NOTIMP"
        case .refused: "REFUSED"
        default: "RCODE\(rawValue)"
        }
    }
}
