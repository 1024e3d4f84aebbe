import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Runs ``RequestIntakeStateMachine`` on an admin connection, between
/// Hummingbird's HTTP/1 decoding and its router: refused requests never
/// reach a route, and their answer is the API's JSON error with
/// `Connection: close`, after which the connection closes.
///
/// Installed through `HTTP1Channel.Configuration.additionalChannelHandlers`,
/// a new one per connection. Parse errors are answered here too (as JSON,
/// instead of Hummingbird's empty 400).
final class RequestIntakeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var machine = RequestIntakeStateMachine()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let action =
            switch unwrapInboundIn(data) {
            case .head(let request): machine.head(request)
            case .body, .end: machine.bodyOrEnd()
            }
        switch action {
        case .forward: context.fireChannelRead(data)
        case .drop: break
        case .refuse(let refusal): write(refusal, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let action =
            if let parseError = error as? HTTPParserError {
                machine.parseError(Self.refusal(for: parseError))
            } else {
                machine.otherError()
            }
        switch action {
        case .forward: context.fireErrorCaught(error)
        case .drop: break
        case .refuse(let refusal): write(refusal, context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let isEnd = if case .end = unwrapOutboundIn(data) { true } else { false }
        context.write(data, promise: promise)
        if isEnd, let refusal = machine.responseEnded() {
            write(refusal, context: context)
        }
    }

    /// Writes `refusal` as the API's JSON error and closes the connection
    /// once it is sent.
    private func write(_ refusal: AdminError, context: ChannelHandlerContext) {
        let body = refusal.jsonBody
        var fields = refusal.responseHeaders
        fields[.contentLength] = String(body.readableBytes)
        fields[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: refusal.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// What the client is told when NIO's parser gives up on its bytes.
    static func refusal(for error: HTTPParserError) -> AdminError {
        switch error {
        case .unexpectedContentLength, .invalidContentLength, .invalidChunkSize, .unknown:
            // `unknown` is how NIO reports llhttp's invalid Transfer-Encoding.
            .badFraming(
                "the request's framing is invalid: send one Content-Length, or Transfer-Encoding: chunked alone and no Content-Length"
            )
        default:
            .badHTTP(error.debugDescription)
        }
    }
}
