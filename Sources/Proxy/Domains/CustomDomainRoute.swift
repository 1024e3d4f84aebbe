import Crypto
import Foundation
import Model
import NIOCore
import NIOHTTP1

/// What a request for a host outside the apps domain gets when the host is
/// one of the users' own domains (`docs/custom-domains.md`):
///
/// 1. `GET /.well-known/acme-challenge/<token>` for any known custom
///    domain, whatever its state: the key authorization, `<token>.<account
///    thumbprint>`. Every proxy answers it without shared state, so a
///    certificate authority validating from several places through any
///    load balancer gets the same answer; only Slipway's ACME account key
///    can use it.
///    `GET /.well-known/slipway-domain-probe` likewise gets the routing
///    probe's answer (``DomainProbe``), which proves to the domain checker
///    that the name reaches this installation.
/// 2. A domain whose ownership and routing are not proven (`pending`,
///    `failed`) routes nowhere: the no-site page, so adding someone else's
///    domain that happens to point here serves nothing.
/// 3. The half of an apex/`www` pair that is not primary: a 308 to the
///    primary host, keeping the scheme, port, path and query.
/// 4. Otherwise the deployment's active build, as at `<slug>.<apps-domain>`.
enum CustomDomainRoute: Sendable, Equatable {
    /// Answer with this (challenge answer or redirect).
    case answer(status: HTTPResponseStatus, headers: HTTPHeaders, body: String)
    /// Serve the deployment with this slug.
    case site(slug: String)

    /// The path prefix certificate authorities fetch HTTP-01 answers from.
    static let challengePrefix = "/.well-known/acme-challenge/"

    /// The route for a request to `host` (normalized), nil when it is no
    /// custom domain Slipway serves.
    static func route(
        host: String, request: IncomingRequest, table: SiteTable, acmeThumbprint: String?,
        probeKey: Data? = nil
    ) -> CustomDomainRoute? {
        guard let domain = table.domain(host: host) else { return nil }
        let isRead = request.method == .GET || request.method == .HEAD
        if let probeKey, isRead, request.target == DomainProbe.path {
            return plainText(DomainProbe.answer(host: host, key: SymmetricKey(data: probeKey)))
        }
        if let acmeThumbprint, isRead, let token = challengeToken(in: request.target) {
            return plainText(token + "." + acmeThumbprint)
        }
        guard domain.status == .active || domain.status == .moved else { return nil }
        if let primary = domain.redirectTo {
            let scheme = request.isSecure ? "https" : "http"
            var headers = HTTPHeaders()
            headers.add(name: "Location", value: scheme + "://" + primary + port(of: request.host) + request.target)
            headers.add(name: "Cache-Control", value: "no-store")
            return .answer(status: .permanentRedirect, headers: headers, body: "")
        }
        guard let site = table.lookup(siteID: domain.siteID) else { return nil }
        return .site(slug: site.slug)
    }

    /// A 200 `text/plain` answer no cache keeps.
    private static func plainText(_ body: String) -> CustomDomainRoute {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Cache-Control", value: "no-store")
        return .answer(status: .ok, headers: headers, body: body)
    }

    /// The token of an HTTP-01 challenge path: 1 to 256 characters of
    /// base64url (`[-_A-Za-z0-9]`); nil for any other target.
    static func challengeToken(in target: String) -> String? {
        guard target.hasPrefix(challengePrefix) else { return nil }
        let token = target.dropFirst(challengePrefix.count)
        guard (1...256).contains(token.utf8.count),
            token.utf8.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_")
            })
        else { return nil }
        return String(token)
    }

    /// `:<port>` of a `Host` value that names one (not an IPv6 literal's colons); "" otherwise.
    static func port(of host: String) -> String {
        guard !host.hasPrefix("["), let colon = host.lastIndex(of: ":") else { return "" }
        let digits = host[host.index(after: colon)...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return "" }
        return ":" + digits
    }
}
