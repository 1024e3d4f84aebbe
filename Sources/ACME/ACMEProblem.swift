public import Foundation

/// A refusal from the certificate authority: an RFC 7807 problem document
/// (`application/problem+json`) as ACME uses it (RFC 8555 §6.7), e.g.
/// `{"type": "urn:ietf:params:acme:error:unauthorized", "detail": "…", "status": 403}`.
///
/// ``type`` and ``detail`` are what to store as a domain's last error;
/// ``userMessage`` says what the domain's owner can do about it. Problems
/// carry only what the CA said and the names involved, never key material.
public struct ACMEProblem: Error, Sendable, Hashable, CustomStringConvertible, Decodable {
    /// The prefix of ACME's own problem types.
    public static let acmeNamespace = "urn:ietf:params:acme:error:"

    /// The problem type URI, e.g. `urn:ietf:params:acme:error:caa`.
    public var type: String
    /// The CA's explanation, for people.
    public var detail: String
    /// The HTTP status the CA answered with, when it is known.
    public var status: Int?
    /// Per-identifier problems of a request about several names (RFC 8555 §6.7.1).
    public var subproblems: [ACMEProblem]
    /// The DNS name a subproblem or a failed challenge is about.
    public var identifier: String?
    /// When the CA asked to be asked again (`Retry-After`), for rate limits.
    public var retryAfter: Date?
    /// The CA's CAA identity (the directory's `meta.caaIdentities`), when it
    /// published one: what a CAA record must name to allow it.
    public var certificateAuthority: String?

    public init(
        type: String, detail: String, status: Int? = nil, subproblems: [ACMEProblem] = [], identifier: String? = nil,
        retryAfter: Date? = nil, certificateAuthority: String? = nil
    ) {
        self.type = type
        self.detail = detail
        self.status = status
        self.subproblems = subproblems
        self.identifier = identifier
        self.retryAfter = retryAfter
        self.certificateAuthority = certificateAuthority
    }

    private enum CodingKeys: String, CodingKey {
        case type, detail, status, subproblems, identifier
    }

    private struct Identifier: Decodable {
        var value: String
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decodeIfPresent(String.self, forKey: .type) ?? "about:blank"
        detail = try container.decodeIfPresent(String.self, forKey: .detail) ?? ""
        status = try container.decodeIfPresent(Int.self, forKey: .status)
        subproblems = try container.decodeIfPresent([ACMEProblem].self, forKey: .subproblems) ?? []
        identifier = try container.decodeIfPresent(Identifier.self, forKey: .identifier)?.value
        retryAfter = nil
        certificateAuthority = nil
    }

    /// The ACME error name without its namespace (`badNonce`, `caa`, …), or
    /// the whole type when it is not one of ACME's.
    public var name: String {
        type.hasPrefix(Self.acmeNamespace) ? String(type.dropFirst(Self.acmeNamespace.count)) : type
    }

    /// The nonce was stale or unknown: the request may be repeated with the
    /// nonce of this response (RFC 8555 §6.5). ``ACMEClient`` does so itself.
    public var isBadNonce: Bool { name == "badNonce" }

    /// A rate limit was hit (``retryAfter`` says when to try again, if the CA said).
    public var isRateLimited: Bool { name == "rateLimited" }

    /// The names' CAA records forbid this CA to issue (RFC 8659).
    public var isCAA: Bool { name == "caa" || subproblems.contains(where: \.isCAA) }

    /// Validation failed: the CA could not confirm control of a name.
    public var isValidationFailure: Bool {
        ["unauthorized", "incorrectResponse", "connection", "dns", "tls", "caa"].contains(name)
            || subproblems.contains(where: \.isValidationFailure)
    }

    public var description: String {
        var text = "\(type): \(detail)"
        if let identifier { text = "\(identifier): " + text }
        if let status { text += " (HTTP \(status))" }
        for subproblem in subproblems { text += "; " + subproblem.description }
        return text
    }

    /// What went wrong and what the domain's owner can do about it, with
    /// the CA's own words at the end.
    public var userMessage: String {
        if name != "caa", name != "rateLimited", let caa = subproblems.first(where: \.isCAA) {
            var inner = caa
            inner.certificateAuthority = inner.certificateAuthority ?? certificateAuthority
            return inner.userMessage
        }
        let domain = identifier.map { "'\($0)'" } ?? "the domain"
        let ca = certificateAuthority ?? "<the certificate authority's domain>"
        let advice: String
        switch name {
        case "caa":
            advice =
                "the CAA records of \(domain) do not allow this certificate authority to issue for it: add a CAA record "
                + "`0 issue \"\(ca)\"` to \(domain) (or to its parent domain), or remove the restriction"
        case "unauthorized", "incorrectResponse":
            advice =
                "the certificate authority could not confirm that \(domain) points at Slipway: make its DNS A/AAAA or "
                + "CNAME records point at Slipway and let http://\(identifier ?? "<domain>")/.well-known/acme-challenge/ "
                + "reach Slipway on port 80 (no other server, CDN rule or redirect in the way)"
        case "connection":
            advice =
                "the certificate authority could not connect to \(domain) on port 80: point its DNS records at Slipway "
                + "and open port 80 in any firewall in front of it"
        case "dns":
            advice =
                "the certificate authority could not look up \(domain) in DNS: create its A/AAAA or CNAME record (or fix "
                + "the name servers' answers) and try again once the record has propagated"
        case "tls":
            advice = "the certificate authority hit a TLS error while validating \(domain): check the server it reached"
        case "rateLimited":
            let when = retryAfter.map { "after \($0.formatted(.iso8601))" } ?? "later (at least an hour)"
            advice = "the certificate authority's rate limit was reached: Slipway will try again \(when)"
        case "rejectedIdentifier", "unsupportedIdentifier":
            advice = "the certificate authority will not issue a certificate for \(domain): use another name"
        case "badNonce":
            advice = "the certificate authority kept rejecting request nonces: try again later"
        case "serverInternal":
            advice = "the certificate authority had an internal error: Slipway will try again later"
        case "accountDoesNotExist", "unauthorizedAccount":
            advice = "the certificate authority does not know Slipway's ACME account: register it again"
        case "externalAccountRequired":
            advice =
                "the certificate authority requires external account binding, which Slipway does not support: use another CA"
        default:
            advice = "the certificate authority refused the request"
        }
        return detail.isEmpty ? "\(advice) (\(type))" : "\(advice). The CA said: \(detail) (\(type))"
    }
}
