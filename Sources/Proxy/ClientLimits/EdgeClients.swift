import Model
import NIOCore
import NIOHTTP1

/// Who the edge believes is at the other end of each request, and what it
/// limits per client: the trusted proxies whose `X-Forwarded-For` and
/// `X-Forwarded-Proto` are believed, the per-address request rate limit and
/// the per-address connection limit. Shared by every connection.
///
/// With no trusted proxy and no rate limit (the defaults), a request costs
/// nothing here: ``needsRequestWork(_:)`` is false once per connection, and
/// the request's client is the connection's (``EdgeConnection``).
final class EdgeClients: Sendable {
    let trustedProxies: TrustedProxies
    /// Nil: requests are not rate limited.
    let rateLimiter: ClientRateLimiter?
    /// Nil: connections are not limited per address.
    let connectionLimiter: ClientConnectionLimiter?

    init(
        trustedProxies: TrustedProxies, rateLimiter: ClientRateLimiter?, connectionLimiter: ClientConnectionLimiter?
    ) {
        self.trustedProxies = trustedProxies
        self.rateLimiter = rateLimiter
        self.connectionLimiter = connectionLimiter
    }

    /// Nothing is limited and no header is believed.
    static let none = EdgeClients(trustedProxies: .none, rateLimiter: nil, connectionLimiter: nil)

    /// Whether the requests of `connection` need per-request work: a rate
    /// limit to apply, or forwarded headers to read from a trusted proxy.
    func needsRequestWork(_ connection: EdgeConnection) -> Bool {
        rateLimiter != nil || connection.believesForwardedHeaders(trustedProxies)
    }

    /// The client of one request on `connection`, and whether it may go on:
    /// `X-Forwarded-For` and `X-Forwarded-Proto` count only when the
    /// connection's address (the peer, or the PROXY header's) is a trusted
    /// proxy (``TrustedProxies/client(peer:forwardedFor:)``,
    /// ``TrustedProxies/isSecure(peer:connectionIsSecure:forwardedProto:)``);
    /// then the rate limit takes a token for the client's address.
    /// - Parameters:
    ///   - values: the values of every field line with a name, in order; only
    ///     called for a connection from a trusted proxy.
    func client(
        of connection: EdgeConnection, connectionIsSecure: Bool, values: (_ name: String) -> [String]
    ) -> RequestClient {
        var client = RequestClient(address: connection.clientAddress, isSecure: connectionIsSecure)
        var fromProxy = false
        if connection.believesForwardedHeaders(trustedProxies) {
            let peer = connection.clientAddress
            client.address = trustedProxies.client(peer: peer, forwardedFor: values("x-forwarded-for"))
            client.isSecure = trustedProxies.isSecure(
                peer: peer, connectionIsSecure: connectionIsSecure, forwardedProto: values("x-forwarded-proto"))
            // A trusted proxy that named no client is no client of its own:
            // limiting it would limit everyone behind it at once.
            fromProxy = trustedProxies.contains(ipAddress: client.address)
        }
        if let rateLimiter, !fromProxy {
            client.retryAfter = rateLimiter.take(client.address)
        }
        return client
    }
}

/// The client of one request as the edge determined it.
struct RequestClient: Sendable, Hashable {
    /// The client's address as text (`203.0.113.7`, `2001:db8::1`), `-` when unknown.
    var address: String
    /// Whether the client reached Slipway over HTTPS as far as it can tell.
    var isSecure: Bool
    /// Set when the rate limit refuses the request: the wait until it would not.
    var retryAfter: Duration?

    init(address: String, isSecure: Bool, retryAfter: Duration? = nil) {
        self.address = address
        self.isSecure = isSecure
        self.retryAfter = retryAfter
    }
}

extension EdgeConnection {
    /// Whether this connection's `X-Forwarded-*` headers are believed: its
    /// address — the peer's, or the one its PROXY header gave — is a
    /// trusted proxy. Worked out at the first request (after any PROXY
    /// header) and kept.
    func believesForwardedHeaders(_ trustedProxies: TrustedProxies) -> Bool {
        if let forwardedHeadersTrusted { return forwardedHeadersTrusted }
        let trusted = trustedProxies.contains(ipAddress: clientAddress)
        forwardedHeadersTrusted = trusted
        return trusted
    }
}

extension IncomingRequest {
    /// Takes `client`'s address and security for this request.
    mutating func take(_ client: RequestClient) {
        clientAddress = client.address
        isSecure = client.isSecure
    }
}
