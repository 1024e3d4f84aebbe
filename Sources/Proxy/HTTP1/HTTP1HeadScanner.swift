import NIOCore

/// The resumable scan of a request head (or of a chunked body's trailer
/// section) over the bytes buffered so far.
///
/// It never consumes anything: positions count from the reader index of the
/// parser's buffer, which stays at the head's first byte until the head is
/// complete, so a scan interrupted by the end of the bytes resumes where it
/// stopped when more arrive, and the bytes are looked at once however they
/// were split. What it learns on the way is a handful of integers; the head's
/// bytes stay where they are, and the parser hands a slice of them out.
///
/// Every error is decided at a fixed byte (the first one that breaks a rule
/// or a limit), so the result does not depend on how the bytes were split.
struct HTTP1HeadScanner: Sendable {
    enum Mode: Sendable {
        case request
        case trailers
    }

    enum Step {
        case needMore
        /// The section ends before this position (after its empty line).
        case done(end: Int)
        case failed(HTTP1ParseError)
    }

    private enum State: UInt8 {
        /// Before the request line: an empty line or the method's first byte.
        case lineStart
        /// After the CR of an empty line before the request line.
        case emptyLineLF
        case method
        /// After the space following the method.
        case targetStart
        case target
        case version
        /// After the version: its CR.
        case requestLineCR
        case requestLineLF
        /// At the start of a field line, or of the empty line ending the section.
        case fieldStart
        case fieldName
        /// After the colon, skipping OWS.
        case valueStart
        case value
        case fieldLF
        /// After the CR of the empty line ending the section.
        case endLF
    }

    /// Empty lines (CRLF) accepted before a request line (RFC 9112 §2.2: a
    /// server SHOULD ignore at least one, left after a body by some clients).
    static let maxLeadingEmptyLines = 4

    let mode: Mode
    private var state: State
    /// The next byte to look at.
    private var position = 0
    /// Where the request line starts (after the empty lines before it).
    private(set) var base = 0
    private var emptyLines = 0
    /// The last position of the request line and of the whole section, plus
    /// one: reaching either with bytes left over is a limit error.
    private var lineLimit = 0
    private var rawLimit = 0

    // The request line.
    private var methodEnd = 0
    private var targetStart = 0
    private var targetEnd = 0
    private var versionStart = 0
    private var version = HTTP1Version.http11

    // The field line being read.
    private var nameStart = 0
    private var nameEnd = 0
    private var valueStart = 0
    private var valueEnd = 0
    /// A name byte here or after it takes the field bytes over the limit.
    private var nameLimit = 0
    /// The same for a value byte.
    private var valueLimit = 0

    // What the fields said so far.
    private(set) var fieldCount = 0
    private(set) var fieldBytes = 0
    private var host = HTTP1FieldSlot.absent
    private var contentLength = HTTP1FieldSlot.absent
    private var transferEncoding = HTTP1FieldSlot.absent
    private var ifNoneMatch = HTTP1FieldSlot.absent
    private var ifModifiedSince = HTTP1FieldSlot.absent
    private var range = HTTP1FieldSlot.absent
    private var ifRange = HTTP1FieldSlot.absent
    private var acceptEncoding = HTTP1FieldSlot.absent
    private var connection = HTTP1FieldSlot.absent
    private var expect = HTTP1FieldSlot.absent
    private var cookie = HTTP1FieldSlot.absent
    private var authorization = HTTP1FieldSlot.absent
    private var contentType = HTTP1FieldSlot.absent
    private var contentLengthTrailingOWS = false
    private var transferEncodingTrailingTab = false
    private var connectionClose = false
    private var connectionKeepAlive = false
    private var expectation = HTTP1Expectation.none
    private var encodings = HTTP1AcceptEncodingState()

    init(mode: Mode, limits: HTTP1RequestParser.Limits) {
        self.mode = mode
        switch mode {
        case .request:
            state = .lineStart
            // The empty lines, the request line and its CRLF, then the fields
            // with room for OWS as large again as the counted bytes (whose
            // count leaves OWS out) and the final CRLF: never more than that
            // is buffered for one head.
            rawLimit =
                2 * Self.maxLeadingEmptyLines + limits.maxRequestLineBytes + 2 + 2 * limits.maxHeaderBytes + 2
        case .trailers:
            state = .fieldStart
            rawLimit = 2 * limits.maxHeaderBytes + 2
        }
    }

    // MARK: Scanning

    /// Scans on from where the last call stopped.
    /// - Parameter bytes: everything buffered from the section's first byte.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, limits: HTTP1RequestParser.Limits) -> Step {
        let end = min(bytes.count, rawLimit)
        var position = self.position
        defer { self.position = position }

        while position < end {
            switch state {
            case .lineStart:
                let byte = bytes[position]
                if byte == HTTP1Bytes.cr {
                    state = .emptyLineLF
                    position += 1
                } else if HTTP1Bytes.isTchar(byte) {
                    base = position
                    lineLimit = position + limits.maxRequestLineBytes
                    state = .method
                } else {
                    return .failed(
                        .badRequest(
                            byte == HTTP1Bytes.lf
                                ? .badEmptyLine : HTTP1Bytes.isOWS(byte) ? .badRequestLine : .invalidMethod))
                }

            case .emptyLineLF:
                guard bytes[position] == HTTP1Bytes.lf else { return .failed(.badRequest(.badEmptyLine)) }
                emptyLines += 1
                if emptyLines > Self.maxLeadingEmptyLines { return .failed(.badRequest(.tooManyEmptyLines)) }
                position += 1
                state = .lineStart

            case .method:
                while position < end {
                    if position >= lineLimit { return .failed(.uriTooLong) }
                    let byte = bytes[position]
                    if HTTP1Bytes.isTchar(byte) {
                        position += 1
                        continue
                    }
                    if byte == HTTP1Bytes.sp {
                        methodEnd = position
                        position += 1
                        state = .targetStart
                        break
                    }
                    return .failed(.badRequest(Self.requestLineError(byte, otherwise: .invalidMethod)))
                }

            case .targetStart:
                if position >= lineLimit { return .failed(.uriTooLong) }
                let byte = bytes[position]
                guard Self.isTargetByte(byte) else {
                    return .failed(
                        .badRequest(
                            byte == HTTP1Bytes.sp ? .multipleSpaces : Self.requestLineError(byte, otherwise: .badTarget)
                        ))
                }
                targetStart = position
                state = .target

            case .target:
                // The hot loop of the request line: visible ASCII up to the space.
                while position < end {
                    if position >= lineLimit { return .failed(.uriTooLong) }
                    let byte = bytes[position]
                    if Self.isTargetByte(byte) {
                        position += 1
                        continue
                    }
                    if byte == HTTP1Bytes.sp {
                        targetEnd = position
                        position += 1
                        versionStart = position
                        state = .version
                        break
                    }
                    return .failed(
                        .badRequest(
                            byte == UInt8(ascii: "#") ? .fragment : Self.requestLineError(byte, otherwise: .badTarget)))
                }

            case .version:
                if position >= lineLimit { return .failed(.uriTooLong) }
                let byte = bytes[position]
                let index = position - versionStart
                let expected: StaticString = "HTTP/1."
                if index < 7 {
                    guard byte == expected.utf8Start[index] else {
                        if index == 0 && byte == HTTP1Bytes.sp { return .failed(.badRequest(.multipleSpaces)) }
                        return .failed(.badRequest(byte == HTTP1Bytes.lf ? .bareLF : .badVersion))
                    }
                } else {
                    switch byte {
                    case UInt8(ascii: "1"): version = .http11
                    case UInt8(ascii: "0"): version = .http10
                    default: return .failed(.badRequest(byte == HTTP1Bytes.lf ? .bareLF : .badVersion))
                    }
                    state = .requestLineCR
                }
                position += 1

            case .requestLineCR:
                let byte = bytes[position]
                guard byte == HTTP1Bytes.cr else {
                    return .failed(.badRequest(byte == HTTP1Bytes.lf ? .bareLF : .badVersion))
                }
                position += 1
                state = .requestLineLF

            case .requestLineLF:
                guard bytes[position] == HTTP1Bytes.lf else { return .failed(.badRequest(.bareCR)) }
                position += 1
                state = .fieldStart

            case .fieldStart:
                let byte = bytes[position]
                if byte == HTTP1Bytes.cr {
                    position += 1
                    state = .endLF
                    continue
                }
                guard HTTP1Bytes.isTchar(byte) else {
                    let reason: HTTP1ParseError.Reason =
                        switch byte {
                        case HTTP1Bytes.lf: .bareLF
                        case HTTP1Bytes.sp, HTTP1Bytes.htab: .obsFold
                        case HTTP1Bytes.colon: .emptyFieldName
                        default: .invalidFieldName
                        }
                    return .failed(.badRequest(reason))
                }
                if fieldCount >= limits.maxHeaderCount { return .failed(.headersTooLarge) }
                nameStart = position
                // name + value + 4 must stay within the limit.
                nameLimit = position + limits.maxHeaderBytes - fieldBytes - 4
                state = .fieldName

            case .fieldName:
                while position < end {
                    let byte = bytes[position]
                    if HTTP1Bytes.isTchar(byte) {
                        if position >= nameLimit { return .failed(.headersTooLarge) }
                        position += 1
                        continue
                    }
                    if byte == HTTP1Bytes.colon {
                        nameEnd = position
                        position += 1
                        state = .valueStart
                        break
                    }
                    let reason: HTTP1ParseError.Reason =
                        switch byte {
                        case HTTP1Bytes.sp, HTTP1Bytes.htab: .spaceBeforeColon
                        case HTTP1Bytes.cr, HTTP1Bytes.lf: .invalidFieldName // a line without a colon
                        default: .invalidFieldName
                        }
                    return .failed(.badRequest(reason))
                }

            case .valueStart:
                let byte = bytes[position]
                if HTTP1Bytes.isOWS(byte) {
                    position += 1
                } else if byte == HTTP1Bytes.cr {
                    valueStart = position
                    valueEnd = position
                    position += 1
                    state = .fieldLF
                } else if Self.isValueByte(byte) {
                    valueStart = position
                    valueEnd = position
                    valueLimit = position + (limits.maxHeaderBytes - fieldBytes - 4 - (nameEnd - nameStart))
                    state = .value
                } else {
                    return .failed(.badRequest(byte == HTTP1Bytes.lf ? .bareLF : .badHeaderValue))
                }

            case .value:
                // The hot loop of the fields: VCHAR, obs-text and OWS up to the CR.
                // Trailing OWS is not part of the value (RFC 9112 §5) but counts
                // towards the limit, as it always did at Slipway's edge.
                while position < end {
                    let byte = bytes[position]
                    if Self.isValueByte(byte) {
                        if position >= valueLimit { return .failed(.headersTooLarge) }
                        position += 1
                        valueEnd = position
                        continue
                    }
                    if HTTP1Bytes.isOWS(byte) {
                        if position >= valueLimit { return .failed(.headersTooLarge) }
                        position += 1
                        continue
                    }
                    if byte == HTTP1Bytes.cr {
                        position += 1
                        state = .fieldLF
                        break
                    }
                    return .failed(.badRequest(byte == HTTP1Bytes.lf ? .bareLF : .badHeaderValue))
                }

            case .fieldLF:
                guard bytes[position] == HTTP1Bytes.lf else { return .failed(.badRequest(.bareCR)) }
                // The value as counted runs from its first byte to the CR.
                let rawValueEnd = position - 1
                fieldBytes += (nameEnd - nameStart) + (rawValueEnd - valueStart) + 4
                position += 1
                fieldCount += 1
                switch mode {
                case .request:
                    noteField(bytes, rawValueEnd: rawValueEnd)
                case .trailers:
                    // The body's framing is settled by now: a trailer must not
                    // try to change it (RFC 9110 §6.5.1), and llhttp refuses it too.
                    let name = nameStart..<nameEnd
                    if HTTP1Bytes.equalsIgnoringCase(bytes, name, "content-length")
                        || HTTP1Bytes.equalsIgnoringCase(bytes, name, "transfer-encoding")
                    {
                        return .failed(.badRequest(.conflictingFraming))
                    }
                }
                state = .fieldStart

            case .endLF:
                guard bytes[position] == HTTP1Bytes.lf else { return .failed(.badRequest(.bareCR)) }
                position += 1
                return .done(end: position)
            }
        }
        // Bytes beyond the raw limit while the section is not over.
        if end < bytes.count { return .failed(.headersTooLarge) }
        return .needMore
    }

    /// A request-target byte: visible ASCII but `#` (a fragment has no place in a request).
    @inline(__always)
    private static func isTargetByte(_ byte: UInt8) -> Bool {
        byte &- 0x21 < 0x5E && byte != UInt8(ascii: "#")
    }

    /// A field value byte that is not OWS: VCHAR or obs-text.
    @inline(__always)
    private static func isValueByte(_ byte: UInt8) -> Bool { byte > 0x20 && byte != 0x7F }

    /// The reason for an unexpected byte in the request line.
    private static func requestLineError(
        _ byte: UInt8, otherwise: HTTP1ParseError.Reason
    ) -> HTTP1ParseError.Reason {
        switch byte {
        case HTTP1Bytes.cr, HTTP1Bytes.sp: .badRequestLine
        case HTTP1Bytes.lf: .bareLF
        default: otherwise
        }
    }

    // MARK: Fields

    /// Records a complete field line, if it is one the proxy reads.
    /// - Parameter rawValueEnd: where the value ends with its trailing OWS (the CR).
    private mutating func noteField(_ bytes: UnsafeRawBufferPointer, rawValueEnd: Int) {
        let name = nameStart..<nameEnd
        let value = valueStart..<valueEnd
        func note(_ slot: inout HTTP1FieldSlot) {
            if slot.count == 0 { slot.value = Int32(value.lowerBound)..<Int32(value.upperBound) }
            slot.count += 1
        }
        // Dispatch on the length first: most fields are none of these.
        switch name.count {
        case 4:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "host") { note(&host) }
        case 5:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "range") { note(&range) }
        case 6:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "expect") {
                note(&expect)
                if HTTP1Bytes.equalsIgnoringCase(bytes, value, "100-continue") {
                    if expectation == .none { expectation = .continue }
                } else {
                    expectation = .other
                }
            } else if HTTP1Bytes.equalsIgnoringCase(bytes, name, "cookie") {
                note(&cookie)
            }
        case 8:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "if-range") { note(&ifRange) }
        case 10:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "connection") {
                note(&connection)
                noteConnectionTokens(bytes, value)
            }
        case 13:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "if-none-match") {
                note(&ifNoneMatch)
            } else if HTTP1Bytes.equalsIgnoringCase(bytes, name, "authorization") {
                note(&authorization)
            }
        case 12:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "content-type") { note(&contentType) }
        case 14:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "content-length") {
                note(&contentLength)
                // Trailing OWS is not part of a value (RFC 9112 §5), but today's
                // edge always refused it here (NIO keeps it, and the check wants
                // digits only): for the body's framing, the stricter reading stays.
                if rawValueEnd != valueEnd { contentLengthTrailingOWS = true }
            }
        case 15:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "accept-encoding") {
                note(&acceptEncoding)
                encodings.add(bytes, value)
            }
        case 17:
            if HTTP1Bytes.equalsIgnoringCase(bytes, name, "transfer-encoding") {
                note(&transferEncoding)
                // `chunked` + HTAB is a known obfuscation: llhttp (today's edge)
                // refuses it, and a front proxy may not read it as chunked. For
                // framing, refuse it too (a trailing SP stays fine, as today).
                for index in valueEnd..<rawValueEnd where bytes[index] == HTTP1Bytes.htab {
                    transferEncodingTrailingTab = true
                }
            } else if HTTP1Bytes.equalsIgnoringCase(bytes, name, "if-modified-since") {
                note(&ifModifiedSince)
            }
        default:
            break
        }
    }

    /// `close` and `keep-alive` among a `Connection` value's comma-separated tokens.
    private mutating func noteConnectionTokens(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) {
        var start = value.lowerBound
        while start < value.upperBound {
            let end = HTTP1Bytes.firstIndex(of: HTTP1Bytes.comma, in: bytes, start..<value.upperBound)
            let token = HTTP1Bytes.trimmed(bytes, start..<end)
            if HTTP1Bytes.equalsIgnoringCase(bytes, token, "close") {
                connectionClose = true
            } else if HTTP1Bytes.equalsIgnoringCase(bytes, token, "keep-alive") {
                connectionKeepAlive = true
            }
            start = end + 1
        }
    }

    // MARK: The head

    /// Applies the rules that need the whole head, in the order of Slipway's
    /// checks (framing, Host, target form, declared body size), and builds it.
    /// - Parameters:
    ///   - bytes: everything buffered from the scan's first byte.
    ///   - slice: the head's bytes (`base..<end` of `bytes`), which the head keeps.
    func makeHead(
        _ bytes: UnsafeRawBufferPointer, slice: ByteBuffer, limits: HTTP1RequestParser.Limits
    ) -> Result<HTTP1RequestHead, HTTP1ParseError> {
        // Framing: exactly one way to know where the body ends (RFC 9112 §6.3).
        if contentLength.count > 1 { return .failure(.badRequest(.duplicateContentLength)) }
        if contentLength.count > 0 && transferEncoding.count > 0 {
            return .failure(.badRequest(.conflictingFraming))
        }
        // HTTP/1.0 has no chunked coding: a Transfer-Encoding there is faulty framing (RFC 9112 §6.1).
        if transferEncoding.count > 0 && version == .http10 {
            return .failure(.badRequest(.transferEncodingInHTTP10))
        }
        if transferEncoding.count > 1 || transferEncodingTrailingTab
            || (transferEncoding.count == 1
                && !HTTP1Bytes.equalsIgnoringCase(bytes, absolute(transferEncoding.value), "chunked"))
        {
            return .failure(.badRequest(.badTransferEncoding))
        }
        var length: Int?
        if contentLength.count == 1 {
            let digits = absolute(contentLength.value)
            guard !digits.isEmpty, digits.count <= 18, !contentLengthTrailingOWS else {
                return .failure(.badRequest(.badContentLength))
            }
            var value = 0
            for index in digits {
                let byte = bytes[index]
                guard HTTP1Bytes.isDigit(byte) else { return .failure(.badRequest(.badContentLength)) }
                value = value * 10 + Int(byte - 0x30)
            }
            length = value
        }

        // Host: exactly one, not empty; HTTP/1.0 too (without it there is no site).
        if host.count == 0 { return .failure(.badRequest(.missingHost)) }
        if host.count > 1 { return .failure(.badRequest(.duplicateHost)) }
        if host.value.isEmpty { return .failure(.badRequest(.emptyHost)) }

        // The target: origin form, or an absolute form naming the Host's host.
        let form: HTTP1TargetForm
        var origin = targetStart..<targetEnd
        var needsSlash = false
        if bytes[targetStart] == HTTP1Bytes.slash {
            form = .origin
        } else {
            let target = targetStart..<targetEnd
            let scheme: Int
            if HTTP1Bytes.equalsIgnoringCase(bytes, targetStart..<min(targetStart + 7, targetEnd), "http://") {
                scheme = 7
            } else if HTTP1Bytes.equalsIgnoringCase(bytes, targetStart..<min(targetStart + 8, targetEnd), "https://") {
                scheme = 8
            } else {
                return .failure(.badRequest(.unsupportedTargetForm))
            }
            let authorityStart = target.lowerBound + scheme
            var authorityEnd = authorityStart
            while authorityEnd < target.upperBound {
                let byte = bytes[authorityEnd]
                if byte == HTTP1Bytes.slash || byte == UInt8(ascii: "?") { break }
                authorityEnd += 1
            }
            let authority = authorityStart..<authorityEnd
            // Userinfo (`user@host`) has no place in a request target.
            guard !authority.isEmpty, HTTP1Bytes.firstIndex(of: UInt8(ascii: "@"), in: bytes, authority) == authorityEnd
            else { return .failure(.badRequest(.unsupportedTargetForm)) }
            guard HTTP1HostName.sameHost(bytes, authority: authority, host: absolute(host.value)) else {
                return .failure(.badRequest(.hostMismatch))
            }
            form = .absolute
            origin = authorityEnd..<targetEnd
            needsSlash = origin.isEmpty || bytes[authorityEnd] != HTTP1Bytes.slash
        }

        if let length, length > limits.maxBodyBytes { return .failure(.payloadTooLarge) }

        let method = Self.method(bytes, base..<methodEnd)
        // HTTP/1.1 stays open unless told to close; HTTP/1.0 closes unless told
        // to stay. `close` wins over `keep-alive` when a client sends both.
        let keepAlive = !connectionClose && (version == .http11 || connectionKeepAlive)
        return .success(
            HTTP1RequestHead(
                bytes: slice, method: method, version: version, targetForm: form,
                methodRange: relative(base..<methodEnd), targetRange: relative(targetStart..<targetEnd),
                originRange: relative(origin), originNeedsSlash: needsSlash,
                host: rebased(host).value, ifNoneMatch: rebased(ifNoneMatch),
                ifModifiedSince: rebased(ifModifiedSince), range: rebased(range), ifRange: rebased(ifRange),
                acceptEncoding: rebased(acceptEncoding), connection: rebased(connection), expect: rebased(expect),
                contentLength: length, isChunked: transferEncoding.count == 1, isKeepAlive: keepAlive,
                expectation: expectation, acceptedEncodings: encodings.accepted, fieldCount: fieldCount,
                fieldBytes: fieldBytes, cookie: rebased(cookie), authorization: rebased(authorization),
                contentType: rebased(contentType)))
    }

    /// Positions in the scanned bytes of a slot's value.
    private func absolute(_ range: Range<Int32>) -> Range<Int> { Int(range.lowerBound)..<Int(range.upperBound) }

    /// Positions in the head's slice (which starts at `base`).
    private func relative(_ range: Range<Int>) -> Range<Int32> {
        Int32(range.lowerBound - base)..<Int32(range.upperBound - base)
    }

    private func rebased(_ slot: HTTP1FieldSlot) -> HTTP1FieldSlot {
        guard slot.count > 0 else { return .absent }
        return HTTP1FieldSlot(value: relative(absolute(slot.value)), count: slot.count)
    }

    /// The method of a token (methods are case-sensitive, RFC 9110 §9.1).
    private static func method(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> HTTP1Method {
        func equals(_ name: StaticString) -> Bool {
            guard range.count == name.utf8CodeUnitCount else { return false }
            for offset in 0..<range.count where bytes[range.lowerBound + offset] != name.utf8Start[offset] {
                return false
            }
            return true
        }
        switch range.count {
        case 3: return equals("GET") ? .get : equals("PUT") ? .put : .other
        case 4: return equals("HEAD") ? .head : equals("POST") ? .post : .other
        case 5: return equals("PATCH") ? .patch : equals("TRACE") ? .trace : .other
        case 6: return equals("DELETE") ? .delete : .other
        case 7: return equals("OPTIONS") ? .options : equals("CONNECT") ? .connect : .other
        default: return .other
        }
    }
}
