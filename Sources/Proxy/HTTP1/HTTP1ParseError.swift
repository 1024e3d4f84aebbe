/// Why a request cannot be taken. Each case maps to one status; the server
/// answers it and closes the connection (nothing after bad bytes is parsed).
enum HTTP1ParseError: Error, Sendable, Hashable {
    /// 400: the bytes break HTTP/1.1's grammar or Slipway's framing rules.
    case badRequest(Reason)
    /// 414: the request line is longer than `Limits.maxRequestLineBytes`.
    case uriTooLong
    /// 431: too many header (or trailer) fields, or too many bytes in them.
    case headersTooLarge
    /// 413: a declared or received body over `Limits.maxBodyBytes`.
    case payloadTooLarge

    /// What was wrong with a bad request, for tests and logs.
    enum Reason: Sendable, Hashable {
        // Bytes and lines.
        /// A CR not followed by LF.
        case bareCR
        /// A line ended by LF alone (RFC 9112 §2.2 allows accepting it; Slipway does not).
        case bareLF
        /// More empty lines before the request line than a client sends by mistake.
        case tooManyEmptyLines
        /// A lone CR or LF before the request line (only CRLF empty lines are skipped).
        case badEmptyLine

        // The request line.
        /// The method is not a token.
        case invalidMethod
        /// Not `method SP target SP version` (two spaces, a missing part, …).
        case badRequestLine
        /// Two spaces where one separates the request line's parts.
        case multipleSpaces
        /// A target byte outside 0x21–0x7E.
        case badTarget
        /// A fragment (`#`) in the target: no request-target form has one (RFC 9112 §3.2).
        case fragment
        /// The asterisk form (`*`), the authority form, or anything but origin
        /// or absolute form, or an absolute form with userinfo.
        case unsupportedTargetForm
        /// The absolute-form target names another host than `Host`.
        case hostMismatch
        /// Anything but `HTTP/1.1` and `HTTP/1.0`.
        case badVersion

        // Field lines.
        /// A field line starting with SP or HTAB (line folding, RFC 9112 §5.2).
        case obsFold
        /// A field line without a name.
        case emptyFieldName
        /// A field name that is not a token.
        case invalidFieldName
        /// Whitespace between a field name and its colon (RFC 9112 §5.1).
        case spaceBeforeColon
        /// NUL, DEL or another control character but HTAB in a field value.
        case badHeaderValue

        // Framing and Host.
        /// Both `Content-Length` and `Transfer-Encoding`, or either in a trailer section.
        case conflictingFraming
        /// More than one `Content-Length` field.
        case duplicateContentLength
        /// A `Content-Length` that is not 1–18 ASCII digits (a list included).
        case badContentLength
        /// A `Transfer-Encoding` other than exactly one `chunked`.
        case badTransferEncoding
        /// `Transfer-Encoding` in an HTTP/1.0 request, which has no chunked coding.
        case transferEncodingInHTTP10
        case missingHost
        case emptyHost
        case duplicateHost
        /// Chunked framing broken: the size line, the CRLF after the data.
        case badChunk
        /// A chunk extension that is not `;name[=value]` (token name, token or
        /// quoted-string value, which may be empty).
        case badChunkExtension
        /// A chunk size of more than 16 hex digits, or a size line over `Limits.maxChunkLineBytes`.
        case chunkLineTooLong
    }
}
