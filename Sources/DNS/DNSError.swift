/// Why a DNS lookup gave no answer.
///
/// Each message names the DNS server and the name asked for when they are
/// known, and says what to do. DNS data is public, so messages hold no
/// secrets and are safe to log and to show to the owner of a domain. `label`
/// is short and stable: use it as a metrics label or to tell kinds apart.
public struct DNSError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: String, Sendable, Hashable {
        case invalidName = "invalid_name"
        case invalidConfiguration = "invalid_configuration"
        case timeout = "timeout"
        case serverFailure = "server_failure"
        case refused = "refused"
        case unexpectedResponseCode = "unexpected_rcode"
        case malformedResponse = "malformed_response"
        case unreachable = "unreachable"
        case cnameLoop = "cname_loop"
        case cnameChainTooLong = "cname_chain_too_long"
    }

    private let code: Code
    /// A sentence for operators and domain owners: what failed and what to do.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A short, stable name of the failure kind (a metrics label):
    /// `invalid_name`, `invalid_configuration`, `timeout`, `server_failure`,
    /// `refused`, `unexpected_rcode`, `malformed_response`, `unreachable`,
    /// `cname_loop` or `cname_chain_too_long`.
    public var label: String { code.rawValue }

    public var description: String { message }

    /// Whether the server did not answer in time (worth asking it again).
    var isTimeout: Bool { code == .timeout }

    static func invalidName(_ name: String, _ reason: String) -> DNSError {
        DNSError(
            .invalidName,
            "\"\(name)\" is not a valid DNS name: \(reason); names are ASCII letters, digits, hyphens and underscores "
                + "separated by dots (write an internationalized name in its xn-- form)")
    }

    static func invalidConfiguration(_ message: String) -> DNSError {
        DNSError(.invalidConfiguration, message)
    }

    static func timeout(server: String, name: String, type: DNSRecordType, after timeout: Duration) -> DNSError {
        DNSError(
            .timeout,
            "the DNS server \(server) did not answer for \(name) (\(type)) within \(format(timeout)): "
                + "check that it is reachable, or set other servers in SLIPWAY_DNS_RESOLVERS")
    }

    static func serverFailure(server: String, name: String, type: DNSRecordType) -> DNSError {
        DNSError(
            .serverFailure,
            "the DNS server \(server) answered SERVFAIL for \(name) (\(type)): the domain's DNS is failing "
                + "(unreachable name servers or a broken DNSSEC signature); fix the zone at its DNS provider, "
                + "or try again later")
    }

    static func refused(server: String, name: String, type: DNSRecordType) -> DNSError {
        DNSError(
            .refused,
            "the DNS server \(server) refused to answer for \(name) (\(type)): it may not resolve names for "
                + "Slipway's address; set a recursive resolver in SLIPWAY_DNS_RESOLVERS")
    }

    static func unexpectedResponseCode(
        _ rcode: DNSResponseCode, server: String, name: String, type: DNSRecordType
    ) -> DNSError {
        DNSError(
            .unexpectedResponseCode,
            "the DNS server \(server) answered \(rcode) for \(name) (\(type)): "
                + "set a recursive resolver in SLIPWAY_DNS_RESOLVERS")
    }

    static func malformedResponse(server: String, name: String, _ reason: String) -> DNSError {
        DNSError(
            .malformedResponse,
            "the DNS server \(server) sent an unusable response for \(name): \(reason); "
                + "check that SLIPWAY_DNS_RESOLVERS names DNS servers")
    }

    static func unreachable(server: String, name: String, _ reason: String) -> DNSError {
        DNSError(
            .unreachable,
            "the DNS server \(server) could not be asked about \(name): \(reason); "
                + "check that it is running and reachable, or set other servers in SLIPWAY_DNS_RESOLVERS")
    }

    static func cnameLoop(name: String, at target: String) -> DNSError {
        DNSError(
            .cnameLoop,
            "the CNAME records of \(name) form a loop (back at \(target)): fix the CNAME records at the domain's "
                + "DNS provider")
    }

    static func cnameChainTooLong(name: String, limit: Int) -> DNSError {
        DNSError(
            .cnameChainTooLong,
            "\(name) is an alias through more than \(limit) CNAME records: point the CNAME closer to its target")
    }

    /// `2s`, `1.5s` or `300ms`: how long a wait was, for messages.
    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        if milliseconds >= 1000 { return "\(Double(milliseconds) / 1000)s" }
        return "\(milliseconds)ms"
    }
}

/// A failure while decoding a response, before the resolver knows which
/// server and which name it is about; the resolver turns it into a
/// ``DNSError`` that names both.
struct DNSDecodingError: Error, Hashable, CustomStringConvertible {
    enum Kind: Hashable {
        /// Not a well-formed DNS message.
        case malformed
        /// Well-formed, but not the answer to our query (ID, QR, opcode or question).
        case mismatched
    }

    let kind: Kind
    let reason: String

    static func malformed(_ reason: String) -> DNSDecodingError { DNSDecodingError(kind: .malformed, reason: reason) }
    static func mismatched(_ reason: String) -> DNSDecodingError { DNSDecodingError(kind: .mismatched, reason: reason) }

    var description: String { reason }
}
