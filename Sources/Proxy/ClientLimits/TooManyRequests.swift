import Model
import NIOCore
import NIOHTTP1

/// The answers of the per-client limits: `429 Too Many Requests` (RFC 6585
/// §4) with `Retry-After` in whole seconds, `Cache-Control: no-store` (a
/// cache must not hand one client's refusal to another) and a short text
/// saying what happened and when to try again.
enum TooManyRequests {
    /// The answer to a request over the rate limit; the connection stays usable.
    static func rateLimited(retryAfter wait: Duration, limiter: ClientRateLimiter) -> ResponsePlan {
        let seconds = RetryAfter.header(for: wait)
        let text =
            "Too many requests from your address: at most \(format(limiter.rate)) a second, bursts of \(Int(limiter.burst)). Try again in \(seconds) second\(seconds == "1" ? "" : "s").\n"
        return plan(text: text, retryAfter: seconds)
    }

    static func plan(text: String, retryAfter seconds: String) -> ResponsePlan {
        let body = ByteBuffer(string: text)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Retry-After", value: seconds)
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        return .immediate(status: .tooManyRequests, headers: headers, body: body)
    }

    /// The whole answer to a connection over the per-client connection
    /// limit, as bytes (HTTP/1.1), followed by the connection's close.
    static func connectionLimitResponse(limit: Int, date: String) -> ByteBuffer {
        let body =
            "Too many connections from your address: at most \(limit) at once. Close some and try again in a second.\n"
        var buffer = ByteBuffer()
        buffer.writeString(
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nCache-Control: no-store\r\nRetry-After: 1\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nDate: \(date)\r\n\r\n\(body)"
        )
        return buffer
    }

    /// A rate as people write it: `10`, `0.5`.
    private static func format(_ rate: Double) -> String {
        rate == rate.rounded() && rate < 1e15 ? String(Int64(rate)) : String(rate)
    }
}

/// The only handler of an HTTP/1.1 connection refused at the per-client
/// connection limit: it waits for the client's first bytes (its request),
/// answers ``TooManyRequests/connectionLimitResponse(limit:date:)`` and
/// closes. Waiting for the request first means the client reads the answer
/// rather than a reset for bytes it sent into a closed socket. A client
/// that sends nothing within `timeout` is closed without an answer.
final class ClientLimitRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let response: () -> ByteBuffer
    private let timeout: TimeAmount
    private var answered = false
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount, response: @escaping () -> ByteBuffer) {
        self.timeout = timeout
        self.response = response
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        answered = true
        timer?.cancel()
        timer = nil
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(response())).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
