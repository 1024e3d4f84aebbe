import NIOCore

/// Slipway's strict HTTP/1.1 request parser, for the edge: a value type fed
/// the connection's inbound bytes as they come (split anywhere), pulled for
/// events one at a time.
///
/// It works on the bytes in place. A head that arrives in one read is handed
/// out as a slice of that read; only a head that spans reads is gathered by
/// appending to the bytes already held. The head keeps small integer offsets
/// of what the proxy reads (method, target, Host, the conditional and range
/// fields, Accept-Encoding, the framing fields), so parsing a request
/// allocates no `String` and no array.
///
/// Strictness (each is a 400 unless said otherwise, and the parser is then
/// dead: it returns the same error forever and parses nothing more):
/// - CRLF line endings only (a bare LF or a bare CR is refused); at most
///   four empty lines before a request line;
/// - `method SP request-target SP HTTP-version CRLF` with single spaces, a
///   token method, a target of visible ASCII without `#`, in origin form or
///   in absolute form naming the `Host` field's host (the asterisk and
///   authority forms are refused), and `HTTP/1.1` or `HTTP/1.0` only;
/// - `name ":" OWS value OWS CRLF` fields: a token name right before the
///   colon, no line folding, no control character in values but HTAB;
/// - one way to frame a body: not both `Content-Length` and
///   `Transfer-Encoding`, at most one of each, `Content-Length` 1–18 digits
///   (no trailing OWS, as today's edge), `Transfer-Encoding` exactly
///   `chunked` (no trailing HTAB, as llhttp) and never in HTTP/1.0; neither
///   in a chunked body's trailer section;
/// - exactly one non-empty `Host`, for HTTP/1.0 too;
/// - the limits of ``Limits`` (414, 431, 413), each found at the first byte
///   that breaks it, so nothing is ever buffered past them. Leading OWS of
///   field values is not counted (as today), so the raw bytes of a head are
///   bounded apart: request line + 2 × `maxHeaderBytes` (then 431).
///
/// Field values are trimmed of OWS on both sides (RFC 9112 §5); the
/// `Connection` tokens `close` and `keep-alive` decide ``HTTP1RequestHead/isKeepAlive``
/// (`close` wins). `Upgrade` is ignored: the parser goes on with the next
/// request.
///
/// The parser never reads past the end of the current request while it
/// returns that request's events: a caller that stops pulling (to answer a
/// request before reading the next one) leaves the rest buffered, in order.
struct HTTP1RequestParser: Sendable {
    /// The sizes a request may have.
    struct Limits: Sendable, Hashable {
        /// The request line without its CRLF; longer is a 414.
        var maxRequestLineBytes: Int
        /// The header fields, counted as Slipway counts them: name + value
        /// (OWS-trimmed) + 4 for each field; more is a 431. The trailer section
        /// of a chunked body has the same limit.
        var maxHeaderBytes: Int
        /// Header fields (or trailer fields); more is a 431.
        var maxHeaderCount: Int
        /// A declared `Content-Length` above this, or a chunked body growing
        /// past it, is a 413.
        var maxBodyBytes: Int
        /// A chunk's size line (size and extensions, without CRLF); longer is a 400.
        var maxChunkLineBytes: Int

        init(
            maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100,
            maxBodyBytes: Int = 1024, maxChunkLineBytes: Int = 1024
        ) {
            // Offsets in a head are Int32: keep every limit far below that.
            let cap = 1 << 26
            self.maxRequestLineBytes = min(max(maxRequestLineBytes, 16), cap)
            self.maxHeaderBytes = min(max(maxHeaderBytes, 0), cap)
            self.maxHeaderCount = min(max(maxHeaderCount, 0), cap)
            self.maxBodyBytes = max(maxBodyBytes, 0)
            self.maxChunkLineBytes = min(max(maxChunkLineBytes, 1), cap)
        }
    }

    /// What the parser found next in the bytes.
    enum Event: Sendable {
        /// A request's head. Its body (if any) follows as `.body` events.
        case head(HTTP1RequestHead)
        /// Bytes of the current request's body (slices of what was fed).
        case body(ByteBuffer)
        /// The current request is complete; the next event belongs to the next request.
        case end
        /// Everything fed so far has been parsed: feed more bytes.
        case needMore
        /// The bytes cannot be taken: answer this and close the connection.
        case error(HTTP1ParseError)
    }

    private enum Phase: Sendable {
        /// Reading a head.
        case head
        /// A body of this many more bytes (`Content-Length`).
        case fixedBody(remaining: Int)
        /// A chunked body.
        case chunked
        /// The head had no body: `.end` comes next.
        case endPending
        case failed(HTTP1ParseError)
    }

    let limits: Limits
    /// The bytes fed and not yet handed out or skipped. During a head its
    /// reader index stays at the head's start (the scanner's positions count
    /// from there); during a body it moves forward as bytes are handed out.
    private var buffer: ByteBuffer
    private var phase = Phase.head
    private var scanner: HTTP1HeadScanner
    private var chunks = HTTP1ChunkedDecoder()
    /// Body bytes of the current chunked request so far.
    private var bodyBytes = 0

    init(limits: Limits = Limits()) {
        self.limits = limits
        self.buffer = ByteBuffer()
        self.scanner = HTTP1HeadScanner(mode: .request, limits: limits)
    }

    /// Adds bytes received on the connection. After an error they are dropped.
    mutating func feed(_ bytes: ByteBuffer) {
        if case .failed = phase { return }
        guard bytes.readableBytes > 0 else { return }
        if buffer.readableBytes == 0 {
            // The common case: nothing left over, so the read is taken as it is.
            buffer = bytes
            return
        }
        // Bytes left over (a head or a chunk line spanning reads): append.
        // Handed-out bytes before the reader index are dropped first when they
        // are the larger part, so a connection's buffer never grows with them.
        if buffer.readerIndex > buffer.readableBytes { buffer.discardReadBytes() }
        var bytes = bytes
        buffer.writeBuffer(&bytes)
    }

    /// The next event from the bytes fed so far.
    mutating func next() -> Event {
        switch phase {
        case .failed(let error):
            return .error(error)
        case .head:
            return nextHead()
        case .endPending:
            phase = .head
            return .end
        case .fixedBody(let remaining):
            guard buffer.readableBytes > 0 else { return .needMore }
            let count = min(remaining, buffer.readableBytes)
            guard let slice = buffer.readSlice(length: count) else { return .needMore }
            phase = count == remaining ? .endPending : .fixedBody(remaining: remaining - count)
            return .body(slice)
        case .chunked:
            return nextChunked()
        }
    }

    private mutating func fail(_ error: HTTP1ParseError) -> Event {
        phase = .failed(error)
        // Nothing after bad bytes is ever parsed: let them go.
        buffer = ByteBuffer()
        return .error(error)
    }

    private mutating func nextHead() -> Event {
        let limits = self.limits
        let step = buffer.withUnsafeReadableBytes { scanner.scan($0, limits: limits) }
        switch step {
        case .needMore:
            // Everything received was handed out: let the read's buffer go,
            // so the channel reuses it for the next read instead of
            // allocating another (and an idle connection holds none).
            if buffer.readableBytes == 0 { buffer = ByteBuffer() }
            return .needMore
        case .failed(let error):
            return fail(error)
        case .done(let end):
            let base = scanner.base
            guard let slice = buffer.getSlice(at: buffer.readerIndex + base, length: end - base) else {
                return fail(.badRequest(.badRequestLine)) // cannot happen: the scanner saw these bytes
            }
            let made = buffer.withUnsafeReadableBytes { scanner.makeHead($0, slice: slice, limits: limits) }
            switch made {
            case .failure(let error):
                return fail(error)
            case .success(let head):
                buffer.moveReaderIndex(forwardBy: end)
                scanner = HTTP1HeadScanner(mode: .request, limits: limits)
                if head.isChunked {
                    phase = .chunked
                    chunks = HTTP1ChunkedDecoder()
                    bodyBytes = 0
                } else if let length = head.contentLength, length > 0 {
                    phase = .fixedBody(remaining: length)
                } else {
                    phase = .endPending
                }
                return .head(head)
            }
        }
    }

    private mutating func nextChunked() -> Event {
        let limits = self.limits
        while true {
            switch chunks.state {
            case .data(let remaining):
                guard buffer.readableBytes > 0 else { return .needMore }
                let count = min(remaining, buffer.readableBytes)
                // Counted as it arrives, like the body limit always was: the
                // byte past the limit is refused, whatever the chunk sizes said.
                if count > limits.maxBodyBytes - bodyBytes { return fail(.payloadTooLarge) }
                guard let slice = buffer.readSlice(length: count) else { return .needMore }
                bodyBytes += count
                chunks.state = count == remaining ? .dataCR : .data(remaining: remaining - count)
                return .body(slice)
            case .trailers:
                let step = buffer.withUnsafeReadableBytes { scanner.scan($0, limits: limits) }
                switch step {
                case .needMore:
                    return .needMore
                case .failed(let error):
                    return fail(error)
                case .done(let end):
                    buffer.moveReaderIndex(forwardBy: end)
                    scanner = HTTP1HeadScanner(mode: .request, limits: limits)
                    phase = .head
                    return .end
                }
            default:
                guard buffer.readableBytes > 0 else { return .needMore }
                let (consumed, outcome) = buffer.withUnsafeReadableBytes { chunks.advance($0, limits: limits) }
                buffer.moveReaderIndex(forwardBy: consumed)
                switch outcome {
                case .needMore:
                    return .needMore
                case .failed(let reason):
                    return fail(.badRequest(reason))
                case .progressed:
                    if case .trailers = chunks.state {
                        scanner = HTTP1HeadScanner(mode: .trailers, limits: limits)
                    }
                }
            }
        }
    }
}
