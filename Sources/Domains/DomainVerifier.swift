public import AsyncHTTPClient
import Crypto
public import DNS
public import Foundation
public import Model
import NIOCore
import NIOHTTP1

/// One check of a custom domain: is the ownership record there with the
/// domain's token, and does the name reach a Slipway proxy of this
/// installation? The answer is a ``DomainCheckOutcome`` that says, in words
/// a person can act on, what is missing.
///
/// Ownership: the TXT record `_slipway-challenge.<host>` (the apex's for a
/// `www` paired with it) holds `slipway-verify=<token>`. Routing: the name's
/// A/AAAA addresses (CNAMEs followed) answer `GET` ``DomainProbe/path``
/// with `Host: <host>` on ``probePort`` with ``DomainProbe/answer(host:key:)``.
public struct DomainVerifier: Sendable {
    public let resolver: DNSResolver
    public let httpClient: HTTPClient
    /// The port proxies listen on for plain HTTP where the name points (80).
    public let probePort: Int
    /// The probe's keys (``DomainProbe/keys(_:)``) as bytes; any may answer.
    let probeKeys: [Data]
    public let probeTimeout: Duration
    /// Addresses probed per check at most.
    static let maxProbes = 3

    public init(
        resolver: DNSResolver, httpClient: HTTPClient, probePort: Int = 80, probeKeys: [Data],
        probeTimeout: Duration = .seconds(5)
    ) {
        self.resolver = resolver
        self.httpClient = httpClient
        self.probePort = probePort
        self.probeKeys = probeKeys
        self.probeTimeout = probeTimeout
    }

    /// Checks `domain` now.
    public func check(_ domain: CustomDomain) async -> DomainCheckOutcome {
        let recordName = domain.ownershipRecordName
        let expected = DomainRules.ownershipRecordValue(token: domain.verificationToken)
        let values: [String]
        do {
            values = try await resolver.txt(recordName).map { $0.trimmingCharacters(in: .whitespaces) }
        } catch {
            return .dnsError(detail: "could not read the TXT record \(recordName): \(error)")
        }
        guard values.contains(expected) else {
            let ours = values.filter { $0.hasPrefix("slipway-verify=") }
            if !ours.isEmpty {
                let shown = ours.prefix(3).map { "'\($0.prefix(80))'" }.joined(separator: ", ")
                return .refused(
                    code: "ownership_record_mismatch",
                    detail:
                        "the TXT record \(recordName) holds \(shown), not '\(expected)'; set it to the value shown for this domain (each domain has its own token)"
                )
            }
            return .refused(
                code: "ownership_record_missing",
                detail:
                    "no TXT record \(recordName) with the value '\(expected)' was found; create it at your DNS host (new records can take a few minutes to an hour to appear)"
            )
        }
        let addresses: [DNSAddress]
        do {
            addresses = try await resolver.addresses(domain.hostname)
        } catch {
            return .dnsError(detail: "could not resolve \(domain.hostname): \(error)")
        }
        guard !addresses.isEmpty else {
            return .refused(
                code: "not_routed",
                detail:
                    "\(domain.hostname) has no A, AAAA or CNAME record; create the routing record shown for this domain"
            )
        }
        var seen: [String] = []
        for address in addresses.prefix(Self.maxProbes) {
            let answer = await probe(address, host: domain.hostname)
            if answer == nil { return .verified }
            seen.append("\(address): \(answer!)")
        }
        let list = addresses.prefix(Self.maxProbes).map(\.description).joined(separator: ", ")
        return .refused(
            code: "not_routed",
            detail:
                "\(domain.hostname) points at \(list), where no Slipway proxy of this installation answered on port \(probePort) (\(seen.joined(separator: "; "))); point the name at Slipway with the records shown and remove any other A/AAAA record"
        )
    }

    /// Nil when `address` answered the probe for `host` as a proxy of this
    /// installation; otherwise what happened instead.
    func probe(_ address: DNSAddress, host: String) async -> String? {
        let authority = address.isIPv6 ? "[\(address)]" : "\(address)"
        var request = HTTPClientRequest(url: "http://\(authority):\(probePort)\(DomainProbe.path)")
        request.headers.replaceOrAdd(name: "Host", value: host)
        request.headers.add(name: "User-Agent", value: "Slipway domain check")
        do {
            let response = try await httpClient.execute(request, timeout: .init(probeTimeout))
            let body = try await response.body.collect(upTo: 1024)
            guard response.status == .ok else { return "it answered HTTP \(response.status.code)" }
            let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            let answers = probeKeys.map { DomainProbe.answer(host: host, key: .init(data: $0)) }
            return answers.contains(text) ? nil : "it answered, but not as this installation's proxy"
        } catch {
            return "\(error)"
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
