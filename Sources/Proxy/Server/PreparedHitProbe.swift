import NIOCore

/// The edge's own work for one cache hit answered from its prepared form,
/// without a socket or a channel, for the micro-benchmarks in `bench/`
/// (which count its allocations): parsing the request's bytes, the prepared
/// answer's key and lookup, the connection's state machine, and the head's
/// ending joined to it. What the event loop and the kernel add around it is measured by
/// `bench/run`.
@_spi(Benchmarks) public final class PreparedHitProbe {
    private var parser = HTTP1RequestParser(limits: .init())
    private let answers = PreparedAnswers(limits: .init(maxEntries: 16, maxBytes: 1 << 20))
    private let endings: HeadEndings
    private var machine: ConnectionStateMachine<PendingAnswer>
    private let now = NIODeadline.uptimeNanoseconds(1)
    /// The request, as one read brings it.
    private let request: ByteBuffer

    /// A probe whose table holds one answer, with a `bodyBytes` body, for
    /// `request` (a plain GET, as a client sends it).
    public init(request text: String, bodyBytes: Int) {
        let request = ByteBuffer(string: text)
        self.request = request
        endings = HeadEndings(clock: HTTPDateClock { 1_780_000_000 })
        machine = ConnectionStateMachine(
            timeouts: .init(headerRead: .seconds(10), idle: .seconds(60), writeIdle: .seconds(30)),
            now: NIODeadline.uptimeNanoseconds(1))
        var parser = HTTP1RequestParser(limits: .init())
        parser.feed(request)
        guard case .head(let head) = parser.next(), let key = PreparedAnswerKey(head) else {
            preconditionFailure("the probe's request is a plain GET")
        }
        let answer = PreparedAnswer(
            start200: ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Cache: HIT\r\n"),
            start304: ByteBuffer(string: "HTTP/1.1 304 Not Modified\r\nX-Cache: MISS\r\n"),
            body: ByteBuffer(repeating: 0x61, count: bodyBytes), quotedETag: ByteBuffer(string: "\"e\""))
        answers.insert(answer, for: key, version: 0)
    }

    /// Answers the request once.
    /// - Returns: the bytes that would be written, or -1 when it was not a hit.
    public func answer() -> Int {
        parser.feed(request)
        guard case .head(let head) = parser.next(), let key = PreparedAnswerKey(head),
            let answer = answers.answer(for: key, version: 0), case .end = parser.next(),
            case .answer = machine.requestReceived(.prepared, closesConnection: !head.isKeepAlive)
        else { return -1 }
        let (ending, second) = endings.current(.keepAlive)
        let joined = answer.joined(notModified: false, ending: ending, second: second)
        _ = machine.answerEnded(now: now)
        return joined.readableBytes + (answer.joinsBody ? 0 : answer.body.readableBytes)
    }
}
