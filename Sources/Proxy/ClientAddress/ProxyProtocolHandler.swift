import NIOCore

/// The first handler of a connection from a trusted load balancer when
/// `SLIPWAY_PROXY_PROTOCOL` is on: it reads the PROXY protocol header
/// (``ProxyProtocolHeader``, versions 1 and 2), records the client's
/// address on the ``EdgeConnection``, hands the bytes after the header to
/// the handlers behind it (HTTP/1.1, or TLS) and leaves the pipeline. A
/// connection that does not start with a valid header is closed without an
/// answer. How long the header may take is the header timeout of the
/// handler behind it (or the TLS handshake timeout), which runs from the
/// connection's start.
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let connection: EdgeConnection
    private let onRefused: (String) -> Void
    private let onClient: (ChannelHandlerContext) -> Void
    private var received: ByteBuffer?

    /// - Parameters:
    ///   - onRefused: told why a connection's header was refused (logs, metrics).
    ///   - onClient: called once the header named the client (on the
    ///     ``EdgeConnection``), before the bytes after it are passed on: the
    ///     per-client connection limit counts the connection here, and may
    ///     close it or put a handler of its own right behind this one.
    init(
        connection: EdgeConnection, onRefused: @escaping (String) -> Void,
        onClient: @escaping (ChannelHandlerContext) -> Void = { _ in }
    ) {
        self.connection = connection
        self.onRefused = onRefused
        self.onClient = onClient
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var received {
            received.writeBuffer(&bytes)
            self.received = received
        } else {
            received = bytes
        }
        guard let buffer = received else { return }
        switch ProxyProtocolHeader.parse(buffer) {
        case .needMore:
            return
        case .invalid(let reason):
            received = nil
            onRefused(reason)
            context.close(promise: nil)
        case .header(let client, let length):
            if let client { connection.clientAddress = client }
            var rest = buffer
            rest.moveReaderIndex(forwardBy: length)
            received = nil
            onClient(context)
            if rest.readableBytes > 0 && context.channel.isActive { context.fireChannelRead(wrapInboundOut(rest)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Swallowed while the header is incomplete; passed on once it is read.
        if received == nil { context.fireChannelReadComplete() }
    }
}
