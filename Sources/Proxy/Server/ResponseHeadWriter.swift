import NIOCore
import NIOHTTP1

/// Writes HTTP/1.1 response heads as raw bytes, so that a response leaves
/// the request handler as buffers: the head, then the body, with no HTTP
/// encoder or per-part handlers in between.
///
/// A head is two buffers written one after the other:
///
/// - its **start** (``start(status:headers:contentLength:cacheHit:allocator:)``):
///   the status line, the reply's own fields, then `Content-Length` of a file
///   body and `X-Cache`, which together depend only on what is answered, so
///   a prepared answer (``PreparedAnswers``) keeps it and sends it again;
/// - its **ending** (``HeadEndings``): `Connection` when the connection needs
///   saying, `Date` and the blank line, which depend on the moment and the
///   connection and are shared by every answer within a second.
///
/// This is the one place that writes `Date`, `Content-Length` of a file body,
/// `X-Cache` and `Connection`.
///
/// Every field is checked as it is copied: a name that is not an RFC 9110
/// token, or a value with a control character other than tab, is left out
/// rather than sent, so nothing in a header (a `_headers` rule read from the
/// bucket, a redirect target) can split the response.
enum ResponseHeadWriter {
    /// The start of a head, in a buffer from `allocator`.
    /// - Parameters:
    ///   - contentLength: `Content-Length` of a file body, when the reply's own fields do not carry it.
    ///   - cacheHit: `X-Cache: HIT` when the body came from the body cache, else `MISS`.
    /// - Returns: the buffer, and how many fields were left out.
    static func start(
        status: HTTPResponseStatus, headers: HTTPHeaders, contentLength: Int?, cacheHit: Bool,
        allocator: ByteBufferAllocator
    ) -> (ByteBuffer, dropped: Int) {
        var fieldBytes = 0
        var dropped = 0
        for (name, value) in headers {
            if isToken(name) && isFieldValue(value) {
                fieldBytes += name.utf8.count + value.utf8.count + 4
            } else {
                dropped += 1
            }
        }
        let length = contentLength.map(String.init)
        if let length { fieldBytes += "Content-Length: \r\n".utf8.count + length.utf8.count }
        fieldBytes += "X-Cache: MISS\r\n".utf8.count
        var buffer = allocator.buffer(capacity: 48 + fieldBytes)
        buffer.writeStaticString("HTTP/1.1 ")
        writeStatusLine(status, into: &buffer)
        // The fields in one copy into the buffer's memory.
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: fieldBytes) { memory in
            var offset = 0
            func put(_ text: String) {
                var text = text
                text.withUTF8 { bytes in
                    guard let source = bytes.baseAddress, bytes.count > 0 else { return }
                    memory.baseAddress!.advanced(by: offset).copyMemory(from: source, byteCount: bytes.count)
                    offset += bytes.count
                }
            }
            func put(_ text: StaticString) {
                text.withUTF8Buffer { bytes in
                    memory.baseAddress!.advanced(by: offset).copyMemory(
                        from: bytes.baseAddress!, byteCount: bytes.count)
                    offset += bytes.count
                }
            }
            for (name, value) in headers where dropped == 0 || (isToken(name) && isFieldValue(value)) {
                put(name)
                put(": ")
                put(value)
                put("\r\n")
            }
            if let length {
                put("Content-Length: ")
                put(length)
                put("\r\n")
            }
            put(cacheHit ? "X-Cache: HIT\r\n" : "X-Cache: MISS\r\n")
            return offset
        }
        return (buffer, dropped)
    }

    private static func writeStatusLine(_ status: HTTPResponseStatus, into buffer: inout ByteBuffer) {
        switch status {
        case .ok: buffer.writeStaticString("200 OK\r\n")
        case .notModified: buffer.writeStaticString("304 Not Modified\r\n")
        case .notFound: buffer.writeStaticString("404 Not Found\r\n")
        case .partialContent: buffer.writeStaticString("206 Partial Content\r\n")
        default:
            buffer.writeString(String(status.code))
            buffer.writeInteger(UInt8(ascii: " "))
            // Reason phrases are NIO's own, or "" for unknown codes.
            let reason = status.reasonPhrase
            if isFieldValue(reason) { buffer.writeString(reason) }
            buffer.writeStaticString("\r\n")
        }
    }

    /// RFC 9110 §5.6.2 `token`.
    static func isToken(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        return name.utf8.withContiguousStorageIfAvailable(isToken) ?? isToken(Array(name.utf8))
    }

    private static func isToken(_ bytes: some Collection<UInt8>) -> Bool {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "!"), UInt8(ascii: "#"),
                UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"),
                UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
                UInt8(ascii: "|"), UInt8(ascii: "~"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// A field value without CR, LF, NUL or other controls (tab allowed).
    static func isFieldValue(_ value: String) -> Bool {
        func check<S: Sequence<UInt8>>(_ bytes: S) -> Bool {
            for byte in bytes where (byte < 0x20 && byte != 0x09) || byte == 0x7f { return false }
            return true
        }
        return value.utf8.withContiguousStorageIfAvailable(check) ?? check(value.utf8)
    }
}

/// How a head ends: the `Connection` field the connection needs, if any.
enum HeadEnding: Int, CaseIterable {
    /// An HTTP/1.1 connection that stays open: nothing to say.
    case keepAlive
    /// The connection closes after this answer.
    case close
    /// An HTTP/1.0 connection that stays open: `Connection: keep-alive`.
    case keepAliveHTTP10

    fileprivate var field: StaticString? {
        switch self {
        case .keepAlive: nil
        case .close: "Connection: close\r\n"
        case .keepAliveHTTP10: "Connection: keep-alive\r\n"
        }
    }
}

/// The endings of heads (``HeadEnding``: `Connection`, `Date`, the blank
/// line), made once per second and shared by every answer written in that
/// second. One per event loop (``EdgeLoopState``); not thread-safe.
final class HeadEndings {
    private let clock: HTTPDateClock
    private var second = Int64.min
    private var endings: [ByteBuffer] = []

    init(clock: HTTPDateClock) {
        self.clock = clock
    }

    /// The ending of a head written now.
    func ending(_ kind: HeadEnding) -> ByteBuffer {
        current(kind).ending
    }

    /// The ending of a head written now, and the second it names: an
    /// ending for the same second is the same bytes.
    func current(_ kind: HeadEnding) -> (ending: ByteBuffer, second: Int64) {
        let now = clock.currentSecond()
        if now != second { make(second: now) }
        return (endings[kind.rawValue], now)
    }

    /// The `Date` value of a head written now (HTTP/2 heads carry it as a field).
    func date() -> String {
        clock.text(second: clock.currentSecond())
    }

    private func make(second: Int64) {
        self.second = second
        let date = clock.text(second: second)
        endings = HeadEnding.allCases.map { kind in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(64)
            if let field = kind.field { buffer.writeStaticString(field) }
            buffer.writeStaticString("Date: ")
            buffer.writeString(date)
            buffer.writeStaticString("\r\n\r\n")
            return buffer
        }
    }
}
