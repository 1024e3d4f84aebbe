import NIOCore
import NIOHTTP1

/// Answers requests the HTTP parser could not parse, then closes the
/// connection: 431 when the headers overflowed the parser's limits, 414 when
/// `ConnectionGuardHandler` found the request line too long, 400 for
/// everything else (both `Content-Length` and `Transfer-Encoding`,
/// conflicting lengths, bare CR, obs-fold, NUL and control bytes, garbage).
/// Nothing after the bad bytes is ever parsed, so nothing can be smuggled.
///
/// It sits after `HTTPServerPipelineHandler`, which holds a parser error
/// back until the responses to earlier pipelined requests are written, so
/// the error page goes out in order. Like NIO's
/// `HTTPServerProtocolErrorHandler`, it only writes a page when no response
/// has started.
final class ProtocolErrorHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let pages: SlipwayPages
    private let onReject: (SlipwayPages.Kind, _ bodyBytes: Int) -> Void
    private var responseInProgress = false
    private var requestLineTooLong = false
    private var handled = false

    /// - Parameter onReject: told which page was sent and its size, or 0
    ///   when none could be (metrics).
    init(pages: SlipwayPages, onReject: @escaping (SlipwayPages.Kind, _ bodyBytes: Int) -> Void = { _, _ in }) {
        self.pages = pages
        self.onReject = onReject
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ConnectionGuardHandler.RequestLineTooLong {
            requestLineTooLong = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let isParserError = error is HTTPParserError || error is ByteToMessageDecoderError
        guard isParserError else {
            context.fireErrorCaught(error)
            return
        }
        // After the first error nothing more is parsed; and once the
        // connection is gone (the parser reports a request cut short by the
        // close) there is nobody left to answer.
        guard !handled, context.channel.isActive else { return }
        handled = true
        let kind: SlipwayPages.Kind =
            if requestLineTooLong {
                .uriTooLong
            } else if let parserError = error as? HTTPParserError, parserError == .headerOverflow {
                .headersTooLarge
            } else {
                .badRequest
            }
        guard !responseInProgress else {
            // Headers of another response are out: the connection cannot carry an error page any more.
            onReject(kind, 0)
            context.close(promise: nil)
            return
        }
        let page = pages.page(kind)
        onReject(kind, page.body.readableBytes)
        var headers = HTTPHeaders()
        SlipwayResponseHeaders.addPageHeaders(to: &headers, bodyLength: page.body.readableBytes, date: HTTPDateClock.shared.now())
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: page.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(page.body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: responseInProgress = true
        case .end: responseInProgress = false
        case .head, .body: break
        }
        context.write(data, promise: promise)
    }
}
