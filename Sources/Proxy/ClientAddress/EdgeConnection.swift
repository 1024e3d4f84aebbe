import Model
import NIOCore

/// What is known of one client connection beyond its bytes: the client's
/// address — the peer's, or the one a trusted load balancer gave in a
/// PROXY protocol header (``ProxyProtocolHandler``). Shared by the
/// connection's request handler and, on HTTP/2, every stream's; read and
/// written on the connection's event loop only.
final class EdgeConnection {
    /// The client's address as text (`203.0.113.7`, `2001:db8::1`), or `-` when unknown.
    var clientAddress: String
    /// Whether `X-Forwarded-*` headers are believed on this connection, once
    /// worked out (``believesForwardedHeaders(_:)``).
    var forwardedHeadersTrusted: Bool?

    init(peer: SocketAddress?) {
        clientAddress = peer?.ipAddress ?? "-"
    }
}

extension TrustedProxies {
    /// Whether a connection from `address` comes from a trusted proxy.
    func contains(_ address: SocketAddress?) -> Bool {
        contains(ipAddress: address?.ipAddress)
    }
}
