import NIOCore
import NIOSSL
import NIOTLS

/// How the edge's TLS listener is set up.
enum EdgeTLS {
    /// The server side of the handshake: TLS 1.2 at least (1.3 preferred),
    /// BoringSSL's modern cipher suites (forward-secret AEAD only), ALPN
    /// `http/1.1`, and the certificate chosen by the name the client asks
    /// for from `certificates`, at each handshake, so a certificate put
    /// there is used from the next handshake on. A client that names
    /// nothing a certificate covers, or no name at all, fails its
    /// handshake: the edge has no default certificate.
    ///
    /// - Parameter base: the certificate the configuration is made with,
    ///   when there is one (the operator's files); the per-name choice
    ///   replaces it at every handshake. Without one (a listener that
    ///   serves only custom domains' certificates) the context holds none,
    ///   and every certificate comes from the per-name choice.
    static func serverConfiguration(
        certificates: EdgeCertificates, base: EdgeCertificate?, http2: Bool
    ) -> TLSConfiguration {
        var configuration: TLSConfiguration
        if let base {
            configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: base.chain.map { .certificate($0) }, privateKey: .privateKey(base.key))
        } else {
            // The same defaults as `makeServerConfiguration`, with neither
            // a chain nor a key (no pre-shared key is set either).
            configuration = TLSConfiguration.makePreSharedKeyConfiguration()
        }
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = [
            .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]
        // ALPN: HTTP/2 first when offered; a client that names neither gets HTTP/1.1.
        configuration.applicationProtocols = http2 ? ["h2", "http/1.1"] : ["http/1.1"]
        configuration.sslContextCallback = { values, promise in
            guard let name = values.serverHostname, let certificate = certificates.certificate(forServerName: name)
            else {
                promise.fail(UnknownServerName())
                return
            }
            promise.succeed(certificate.configurationOverride)
        }
        return configuration
    }

    /// The handshake asked for a name no certificate covers.
    struct UnknownServerName: Error {}
}

/// Why a TLS handshake did not complete, as the metrics name it.
enum TLSHandshakeFailure: String, Sendable, CaseIterable {
    /// The client asked for a name no certificate covers, or for none.
    case unknownName = "unknown_name"
    /// A protocol version below TLS 1.2, or nothing in common to agree on.
    case protocolVersion = "protocol_version"
    /// The bytes were not a TLS handshake (plain HTTP to the HTTPS port, garbage).
    case notTLS = "not_tls"
    /// The handshake took longer than the handshake timeout.
    case timeout
    /// The client closed the connection during the handshake.
    case closed
    /// Any other failure (bad messages, a certificate the client refused).
    case handshake

    init(_ error: any Error) {
        if let error = error as? NIOSSLError {
            switch error {
            case .uncleanShutdown:
                self = .closed
                return
            case .handshakeFailed(let failure):
                let text = "\(failure)"
                if text.contains("CERT_CB_ERROR") {
                    self = .unknownName
                } else if text.contains("UNSUPPORTED_PROTOCOL") || text.contains("NO_SHARED_CIPHER")
                    || text.contains("NO_COMMON_SIGNATURE_ALGORITHMS")
                {
                    self = .protocolVersion
                } else if text.contains("WRONG_VERSION_NUMBER") || text.contains("HTTP_REQUEST")
                    || text.contains("UNEXPECTED_RECORD") || text.contains("RECORD_TOO_LARGE")
                {
                    self = .notTLS
                } else {
                    self = .handshake
                }
                return
            default:
                break
            }
        }
        self = error is EdgeTLS.UnknownServerName ? .unknownName : .handshake
    }
}

/// Watches a TLS connection until its handshake completes: closes it when
/// the handshake takes longer than `timeout`, and reports why a handshake
/// failed. It leaves the pipeline once the handshake is done, so the
/// request handler is then alone after the TLS handler.
final class TLSHandshakeGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let timeout: TimeAmount
    private let onFailure: (TLSHandshakeFailure) -> Void
    private var timer: Scheduled<Void>?
    private var finished = false

    init(timeout: TimeAmount, onFailure: @escaping (TLSHandshakeFailure) -> Void) {
        self.timeout = timeout
        self.onFailure = onFailure
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished {
            // Closed before the handshake completed and without an error: the client went away.
            fail(.closed)
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event, !finished {
            finished = true
            timer?.cancel()
            timer = nil
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !finished { fail(TLSHandshakeFailure(error)) }
        context.fireErrorCaught(error)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard timer == nil, !finished else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            timer = nil
            guard !finished else { return }
            fail(.timeout)
            context.close(promise: nil)
        }
    }

    private func fail(_ reason: TLSHandshakeFailure) {
        finished = true
        timer?.cancel()
        timer = nil
        onFailure(reason)
    }
}
