/// The framing of a chunked body (RFC 9112 §7.1) between the data: chunk-size
/// lines, the CRLF after each chunk's data, and the last chunk. The data and
/// the trailer section are the parser's (slices of its buffer, and a scan like
/// the head's). Bytes of framing are consumed as they are read: they are
/// never kept.
struct HTTP1ChunkedDecoder: Sendable {
    enum State: Sendable, Hashable {
        /// The first hex digit of a chunk size.
        case sizeStart
        case size
        /// In the extensions after the size (`;name=value`, `;name="quoted"`).
        case extensionNameStart
        case extensionName
        case extensionValueStart
        case extensionToken
        case extensionQuoted
        case extensionQuotedPair
        case extensionAfterQuoted
        /// After the CR that ends the size line.
        case sizeLF
        /// This many bytes of chunk data to hand out.
        case data(remaining: Int)
        /// The CRLF after a chunk's data.
        case dataCR
        case dataLF
        /// The last chunk was read: the trailer section follows.
        case trailers
    }

    enum Outcome {
        case needMore
        /// Reached `.data` or `.trailers`.
        case progressed
        case failed(HTTP1ParseError.Reason)
    }

    var state = State.sizeStart
    private var size: UInt64 = 0
    private var digits = 0
    /// Bytes of the current size line so far.
    private var lineBytes = 0

    /// Reads framing bytes until data or the trailers start, or the bytes end.
    /// - Returns: how many bytes were read, and why it stopped.
    mutating func advance(
        _ bytes: UnsafeRawBufferPointer, limits: HTTP1RequestParser.Limits
    ) -> (consumed: Int, outcome: Outcome) {
        var position = 0
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch state {
            case .data, .trailers:
                return (position - 1, .progressed)
            case .dataCR:
                guard byte == HTTP1Bytes.cr else { return (position, .failed(.badChunk)) }
                state = .dataLF
                continue
            case .dataLF:
                guard byte == HTTP1Bytes.lf else { return (position, .failed(.badChunk)) }
                state = .sizeStart
                size = 0
                digits = 0
                lineBytes = 0
                continue
            case .sizeLF:
                guard byte == HTTP1Bytes.lf else { return (position, .failed(.badChunk)) }
                if size == 0 {
                    state = .trailers
                } else {
                    // The size is at most 16 hex digits: it fits in UInt64, and
                    // anything past Int's range is over every body limit anyway.
                    state = .data(remaining: size > UInt64(Int.max) ? Int.max : Int(size))
                }
                return (position, .progressed)
            default:
                break
            }

            // The size line: bounded, whatever it holds.
            lineBytes += 1
            if byte == HTTP1Bytes.cr {
                switch state {
                case .size, .extensionName, .extensionToken, .extensionAfterQuoted, .extensionValueStart:
                    // (`;name=` with an empty value is tolerated, as llhttp does.)
                    state = .sizeLF
                    continue
                case .sizeStart:
                    return (position, .failed(.badChunk))
                default:
                    return (position, .failed(.badChunkExtension))
                }
            }
            if lineBytes > limits.maxChunkLineBytes { return (position, .failed(.chunkLineTooLong)) }

            switch state {
            case .sizeStart, .size:
                if let value = HTTP1Bytes.hexValue(byte) {
                    digits += 1
                    // 16 hex digits fill a UInt64: one more could overflow.
                    if digits > 16 { return (position, .failed(.chunkLineTooLong)) }
                    size = size << 4 | value
                    state = .size
                } else if byte == HTTP1Bytes.semicolon && state == .size {
                    state = .extensionNameStart
                } else {
                    return (position, .failed(.badChunk))
                }
            case .extensionNameStart:
                guard HTTP1Bytes.isTchar(byte) else { return (position, .failed(.badChunkExtension)) }
                state = .extensionName
            case .extensionName:
                if HTTP1Bytes.isTchar(byte) { continue }
                if byte == HTTP1Bytes.equals {
                    state = .extensionValueStart
                } else if byte == HTTP1Bytes.semicolon {
                    state = .extensionNameStart
                } else {
                    return (position, .failed(.badChunkExtension))
                }
            case .extensionValueStart:
                if byte == HTTP1Bytes.quote {
                    state = .extensionQuoted
                } else if HTTP1Bytes.isTchar(byte) {
                    state = .extensionToken
                } else if byte == HTTP1Bytes.semicolon {
                    state = .extensionNameStart
                } else {
                    return (position, .failed(.badChunkExtension))
                }
            case .extensionToken:
                if HTTP1Bytes.isTchar(byte) { continue }
                guard byte == HTTP1Bytes.semicolon else { return (position, .failed(.badChunkExtension)) }
                state = .extensionNameStart
            case .extensionQuoted:
                // qdtext: HTAB, SP, VCHAR but `"` and `\`, obs-text.
                if byte == HTTP1Bytes.quote {
                    state = .extensionAfterQuoted
                } else if byte == HTTP1Bytes.backslash {
                    state = .extensionQuotedPair
                } else if !(byte == HTTP1Bytes.htab || (byte >= 0x20 && byte != 0x7F)) {
                    return (position, .failed(.badChunkExtension))
                }
            case .extensionQuotedPair:
                guard byte == HTTP1Bytes.htab || (byte >= 0x20 && byte != 0x7F) else {
                    return (position, .failed(.badChunkExtension))
                }
                state = .extensionQuoted
            case .extensionAfterQuoted:
                guard byte == HTTP1Bytes.semicolon else { return (position, .failed(.badChunkExtension)) }
                state = .extensionNameStart
            case .sizeLF, .data, .dataCR, .dataLF, .trailers:
                return (position, .failed(.badChunk)) // handled above
            }
        }
        switch state {
        case .data, .trailers: return (position, .progressed)
        default: return (position, .needMore)
        }
    }
}
