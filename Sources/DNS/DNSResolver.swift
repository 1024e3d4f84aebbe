public import Logging
public import NIOCore
public import NIOPosix

/// Slipway's own DNS client, for checking custom domains before a
/// certificate is asked for.
///
/// The domain checks read three things about a hostname a user adds:
/// - ownership: the TXT record `_slipway-challenge.<hostname>` (``txt(_:)``);
/// - routing: where the name points (``addresses(_:)``, ``cname(_:)``);
/// - certificate authority rules: the CAA record set that applies
///   (``relevantCAA(for:)`` with ``caaPermits(records:issuerDomain:wildcard:)``),
///   to explain a refusal in words the domain owner can act on.
///
/// It asks the configured recursive resolvers directly (not the C library),
/// so it sees fresh answers, can tell NXDOMAIN from a failing server, reads
/// record types getaddrinfo cannot, and can be pointed at a test DNS server.
/// Queries go over UDP with EDNS0 and fall back to TCP for truncated answers;
/// see DNSResolver+Transport.swift for the transport, DNSMessage.swift and
/// DNSMessage+Decoding.swift for the wire format.
///
/// NXDOMAIN and "no records of that type" (NODATA) are answers: the
/// conveniences return empty results. SERVFAIL, REFUSED, timeouts and
/// garbled responses are failures, thrown as ``DNSError`` once every server
/// has been tried.
///
/// Sendable: it holds only its configuration, the event loop group and a
/// logger; every query uses its own short-lived sockets.
public struct DNSResolver: Sendable {
    /// How many CNAME records a lookup follows before giving up.
    public static let maximumCNAMEDepth = 8

    public let configuration: Configuration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    /// - Parameters:
    ///   - configuration: the servers and timeouts (``Configuration/system(path:timeout:attempts:)``
    ///     for the system's).
    ///   - eventLoopGroup: where sockets and timers run.
    ///   - logger: gets a debug line for each query and each failed try.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Asks for the records of `type` at `name`, as they are (CNAMEs are not
    /// followed beyond what the server put in the answer).
    ///
    /// Each server is tried in order; a server that times out gets
    /// `configuration.attempts` tries, one that fails otherwise (SERVFAIL,
    /// REFUSED, unreachable, garbled) is skipped at once.
    /// - Parameter name: a hostname in ASCII (A-labels), with or without
    ///   the trailing dot; case does not matter.
    /// - Returns: a NOERROR or NXDOMAIN response.
    /// - Throws: ``DNSError``: `invalid_name` for a bad name; otherwise what
    ///   the last server tried did wrong.
    public func query(_ name: String, type: DNSRecordType) async throws -> DNSResponse {
        try await query(normalized: DNSName.normalize(name), type: type)
    }

    /// The TXT records of `name` (following CNAMEs), each record's strings
    /// joined; empty when the name or its TXT records do not exist.
    public func txt(_ name: String) async throws -> [String] {
        try await records(name, type: .txt).compactMap(\.data.text)
    }

    /// The IPv4 then IPv6 addresses of `name`, following CNAME chains (at
    /// most ``maximumCNAMEDepth`` records); empty when it has none.
    /// - Throws: ``DNSError`` `cname_loop` or `cname_chain_too_long` for a
    ///   broken chain, or a server failure.
    public func addresses(_ name: String) async throws -> [DNSAddress] {
        async let ipv4 = records(name, type: .a)
        async let ipv6 = records(name, type: .aaaa)
        return try await (ipv4 + ipv6).compactMap(\.data.address)
    }

    /// The target of `name`'s CNAME record (lowercased, without the
    /// trailing dot), or nil when `name` is not an alias.
    public func cname(_ name: String) async throws -> String? {
        let name = try DNSName.normalize(name)
        let response = try await query(normalized: name, type: .cname)
        return response.answers.first { $0.name == name && $0.data.cnameTarget != nil }?.data.cnameTarget
    }

    /// The CAA records at `name` itself (following CNAMEs); empty when it
    /// has none. For the set that governs issuance, use
    /// ``relevantCAA(for:)``.
    public func caa(_ name: String) async throws -> [CAARecord] {
        try await records(name, type: .caa).compactMap(\.data.caa)
    }

    /// The CAA record set relevant to `hostname` (RFC 8659 §3): the records
    /// of the hostname, or else of its closest parent that has any, up to the
    /// top-level domain. Nil when no name up the tree has CAA records: any
    /// certificate authority may issue.
    public func relevantCAA(for hostname: String) async throws -> CAAPolicy? {
        for domain in DNSName.selfAndParents(try DNSName.normalize(hostname)) {
            let records = try await caa(domain)
            if !records.isEmpty { return CAAPolicy(domain: domain, records: records) }
        }
        return nil
    }

    /// The records of `type` that `name` ends at, following CNAME records
    /// in the answers, and asking again for a target the server did not
    /// resolve itself.
    func records(_ name: String, type: DNSRecordType) async throws -> [DNSRecord] {
        let original = try DNSName.normalize(name)
        var current = original
        var seen: Set<String> = [original]
        var depth = 0
        while true {
            let response = try await query(normalized: current, type: type)
            var target = current
            while true {
                let matching = response.answers.filter { $0.name == target && $0.type == type }
                if !matching.isEmpty { return matching }
                guard
                    let next = response.answers.first(where: { $0.name == target && $0.data.cnameTarget != nil })?
                        .data.cnameTarget
                else { break }
                guard seen.insert(next).inserted else { throw DNSError.cnameLoop(name: original, at: next) }
                depth += 1
                guard depth <= Self.maximumCNAMEDepth else {
                    throw DNSError.cnameChainTooLong(name: original, limit: Self.maximumCNAMEDepth)
                }
                target = next
            }
            // NXDOMAIN or NODATA at the end of the chain.
            if target == current { return [] }
            current = target
        }
    }

    /// ``query(_:type:)`` for a name `DNSName.normalize` returned.
    func query(normalized name: String, type: DNSRecordType) async throws -> DNSResponse {
        var lastError: DNSError? = nil
        servers: for server in configuration.servers {
            for attempt in 1...max(1, configuration.attempts) {
                let query = DNSQuery(name: name, type: type)
                do {
                    let response = try await exchange(query, with: server)
                    let described = Self.describe(server)
                    switch response.rcode {
                    case .noError, .nonExistentDomain:
                        return response
                    case .serverFailure:
                        throw DNSError.serverFailure(server: described, name: name, type: type)
                    case .refused:
                        throw DNSError.refused(server: described, name: name, type: type)
                    default:
                        throw DNSError.unexpectedResponseCode(response.rcode, server: described, name: name, type: type)
                    }
                } catch let error as DNSError {
                    lastError = error
                    logger.debug(
                        "DNS try failed",
                        metadata: [
                            "dns.server": "\(Self.describe(server))", "dns.name": "\(name)", "dns.type": "\(type)",
                            "dns.attempt": "\(attempt)", "dns.error": "\(error.label)",
                        ])
                    // Only a timeout is worth asking the same server again.
                    if !error.isTimeout { continue servers }
                }
            }
        }
        // `configuration.servers` is never empty and every try sets lastError.
        throw lastError ?? DNSError.invalidConfiguration("no DNS server is configured: set SLIPWAY_DNS_RESOLVERS")
    }
}
