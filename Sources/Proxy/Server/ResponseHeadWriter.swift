import NIOCore
import NIOHTTP1

/// Writes an HTTP/1.1 response head (status line, header fields, blank
/// line) into one buffer, so that a response leaves the request handler as
/// raw bytes: one write for the head, then the body, with no HTTP encoder or
/// per-part handlers in between.
///
/// Every field is checked as it is copied: a name that is not an RFC 9110
/// token, or a value with a control character other than tab, is left out
/// rather than sent, so nothing in a header (a `_headers` rule read from the
/// bucket, a redirect target) can split the response.
enum ResponseHeadWriter {
    /// The fields every answer carries, whatever produced it: the one place
    /// that writes `Date`, `Content-Length` of a file body, `X-Cache` and
    /// `Connection`. They depend on the moment, the body sent and the
    /// connection, and are written after the reply's own fields, so those
    /// never need copying to add them.
    struct ExtraFields {
        /// `Date`, from the server's ``HTTPDateClock``.
        var date: String
        /// `Content-Length`, when the reply's own fields do not carry it.
        var contentLength: Int?
        /// `X-Cache: HIT` when the body came from the body cache, else `MISS`.
        var cacheHit: Bool
        /// `Connection`.
        var connection: StaticString?

        init(date: String, contentLength: Int? = nil, cacheHit: Bool = false, connection: StaticString? = nil) {
            self.date = date
            self.contentLength = contentLength
            self.cacheHit = cacheHit
            self.connection = connection
        }

        /// Calls `body` with each field that is set, in order.
        func forEach(_ body: (_ name: StaticString, _ value: String) -> Void) {
            body("Date", date)
            if let contentLength { body("Content-Length", String(contentLength)) }
            body("X-Cache", cacheHit ? "HIT" : "MISS")
            if let connection { body("Connection", connection.description) }
        }
    }

    /// The head's bytes, in a buffer from `allocator`.
    /// - Returns: the buffer, and how many fields were left out.
    static func head(
        status: HTTPResponseStatus, headers: HTTPHeaders, extra: ExtraFields,
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
        // `extra` is a fixed list of fields, not a Sequence: its own forEach is the only way through it.
        // swift-format-ignore: ReplaceForEachWithForLoop
        extra.forEach { name, value in fieldBytes += name.utf8CodeUnitCount + value.utf8.count + 4 }
        var buffer = allocator.buffer(capacity: 48 + fieldBytes)
        buffer.writeStaticString("HTTP/1.1 ")
        writeStatusLine(status, into: &buffer)
        // The fields in one copy into the buffer's memory.
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: fieldBytes + 2) { memory in
            var offset = 0
            func put(_ text: String) {
                var text = text
                text.withUTF8 { bytes in
                    guard let source = bytes.baseAddress, bytes.count > 0 else { return }
                    memory.baseAddress!.advanced(by: offset).copyMemory(from: source, byteCount: bytes.count)
                    offset += bytes.count
                }
            }
            func put(_ first: UInt8, _ second: UInt8) {
                memory[offset] = first
                memory[offset + 1] = second
                offset += 2
            }
            for (name, value) in headers where dropped == 0 || (isToken(name) && isFieldValue(value)) {
                put(name)
                put(UInt8(ascii: ":"), UInt8(ascii: " "))
                put(value)
                put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            }
            // swift-format-ignore: ReplaceForEachWithForLoop
            extra.forEach { name, value in
                name.withUTF8Buffer { bytes in
                    memory.baseAddress!.advanced(by: offset).copyMemory(
                        from: bytes.baseAddress!, byteCount: bytes.count)
                    offset += bytes.count
                }
                put(UInt8(ascii: ":"), UInt8(ascii: " "))
                put(value)
                put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            }
            put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
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
