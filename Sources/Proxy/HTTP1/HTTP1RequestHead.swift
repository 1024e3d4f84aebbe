import NIOCore

/// A request method. The common ones are cases of their own, so that routing
/// compares small integers; any other token is `.other`, its bytes in
/// ``HTTP1RequestHead/methodRange``.
enum HTTP1Method: UInt8, Sendable, Hashable {
    case get
    case head
    case post
    case options
    case put
    case delete
    case patch
    case connect
    case trace
    case other
}

/// The two versions Slipway speaks.
enum HTTP1Version: UInt8, Sendable, Hashable {
    case http10
    case http11
}

/// How the request target was written (RFC 9112 §3.2). The asterisk form and
/// the authority form are refused by the parser (`.unsupportedTargetForm`).
enum HTTP1TargetForm: UInt8, Sendable, Hashable {
    /// `/path?query`.
    case origin
    /// `http://host/path?query` or `https://…`, whose host is the `Host` field's.
    case absolute
}

/// What the client's `Expect` fields ask for.
enum HTTP1Expectation: UInt8, Sendable, Hashable {
    case none
    /// Only `100-continue` (any case).
    case `continue`
    /// Some other expectation (RFC 9110 §10.1.1: the server may answer 417).
    case other
}

/// Where a field the proxy reads sits in the head: the OWS-trimmed value of its
/// first field line, as offsets into ``HTTP1RequestHead/bytes``, and how many
/// field lines had that name (0: absent, and `value` is empty).
struct HTTP1FieldSlot: Sendable, Hashable {
    var value: Range<Int32>
    var count: Int32

    init(value: Range<Int32>, count: Int32) {
        self.value = value
        self.count = count
    }

    static let absent = HTTP1FieldSlot(value: 0..<0, count: 0)

    var isPresent: Bool { count > 0 }
}

/// A parsed request head: the head's bytes, unchanged (a slice of what the
/// connection received, from the request line to the empty line, both
/// included), with offsets of the parts the proxy reads and what the parser
/// worked out on the way. Building it allocates nothing; the `String`
/// accessors allocate, for the rare paths that want text.
struct HTTP1RequestHead: Sendable {
    /// The head's bytes; the offsets below count from its reader index.
    let bytes: ByteBuffer
    let method: HTTP1Method
    let version: HTTP1Version
    let targetForm: HTTP1TargetForm
    /// The method token.
    let methodRange: Range<Int32>
    /// The request target as sent.
    let targetRange: Range<Int32>
    /// The target in origin form (`/path?query`): all of it for the origin
    /// form, the part after the authority for the absolute form. Empty, or
    /// starting with `?`, when ``originNeedsSlash`` is set.
    let originRange: Range<Int32>
    /// The origin form is `/` followed by ``originRange`` (an absolute-form
    /// target with an empty path, `http://host` or `http://host?q`).
    let originNeedsSlash: Bool
    /// The `Host` value (exactly one `Host` field, not empty, is required).
    let host: Range<Int32>
    let ifNoneMatch: HTTP1FieldSlot
    let ifModifiedSince: HTTP1FieldSlot
    let range: HTTP1FieldSlot
    let ifRange: HTTP1FieldSlot
    let acceptEncoding: HTTP1FieldSlot
    let connection: HTTP1FieldSlot
    let expect: HTTP1FieldSlot
    /// The body's length from `Content-Length` (nil when there is none).
    let contentLength: Int?
    /// The body is chunked (`Transfer-Encoding: chunked`).
    let isChunked: Bool
    /// The connection stays open after this request's answer.
    let isKeepAlive: Bool
    let expectation: HTTP1Expectation
    /// The codings of the precompressed variants the client accepts.
    let acceptedEncodings: HTTP1AcceptedEncodings
    /// Header field lines in the head.
    let fieldCount: Int
    /// Their size as Slipway counts it: name + trimmed value + 4 per field.
    let fieldBytes: Int
    /// Read by a protected site's sign-in (`Sources/Proxy/Protection`).
    var cookie = HTTP1FieldSlot.absent
    var authorization = HTTP1FieldSlot.absent
    var contentType = HTTP1FieldSlot.absent

    /// A body follows the head (chunked, or a `Content-Length` above zero).
    var hasBody: Bool { isChunked || (contentLength ?? 0) > 0 }

    /// The client waits for `100 Continue` before sending its body: the server
    /// answers the final status at once and closes (the edge takes no bodies).
    var expectsContinue: Bool { expectation == .continue && hasBody }

    // MARK: Bytes

    /// The bytes at `range` (offsets into ``bytes``), without copying.
    func view(_ range: Range<Int32>) -> ByteBufferView {
        let view = bytes.readableBytesView
        let start = view.startIndex + Int(range.lowerBound)
        return view[start..<(start + range.count)]
    }

    var hostBytes: ByteBufferView { view(host) }
    var targetBytes: ByteBufferView { view(targetRange) }
    var methodBytes: ByteBufferView { view(methodRange) }

    // MARK: Text (allocates)

    func string(_ range: Range<Int32>) -> String {
        String(decoding: view(range), as: UTF8.self)
    }

    /// The `Host` value.
    var hostString: String { string(host) }
    /// The request target as sent.
    var targetString: String { string(targetRange) }
    /// The method's name (`GET`, or the token of an `.other` method).
    var methodString: String { string(methodRange) }
    /// The origin-form target (`/path?query`), still percent-encoded.
    var originTarget: String { originNeedsSlash ? "/" + string(originRange) : string(originRange) }

    /// The value of the first field line of a slot, or nil when absent.
    func firstValue(_ slot: HTTP1FieldSlot) -> String? { slot.isPresent ? string(slot.value) : nil }

    /// Every field line of the head, in order, as offsets of the name and the
    /// OWS-trimmed value. A re-scan of bytes the parser has already checked:
    /// for rare paths (a repeated field, logging).
    func forEachField(_ body: (_ name: Range<Int32>, _ value: Range<Int32>) throws -> Void) rethrows {
        try bytes.withUnsafeReadableBytes { raw in
            // Skip the request line.
            var index = 0
            while index < raw.count && raw[index] != HTTP1Bytes.lf { index += 1 }
            index += 1
            while index < raw.count && raw[index] != HTTP1Bytes.cr {
                let lineEnd = HTTP1Bytes.firstIndex(of: HTTP1Bytes.cr, in: raw, index..<raw.count)
                let colon = HTTP1Bytes.firstIndex(of: HTTP1Bytes.colon, in: raw, index..<lineEnd)
                let value = HTTP1Bytes.trimmed(raw, min(colon + 1, lineEnd)..<lineEnd)
                try body(
                    Int32(index)..<Int32(colon), Int32(value.lowerBound)..<Int32(value.upperBound))
                index = lineEnd + 2
            }
        }
    }

    /// The values of every field line named `name` (compared ignoring ASCII case), in order.
    func values(named name: String) -> [String] {
        var result: [String] = []
        let wanted = Array(name.utf8)
        forEachField { nameRange, value in
            let candidate = view(nameRange)
            guard candidate.count == wanted.count,
                zip(candidate, wanted).allSatisfy({ HTTP1Bytes.lower($0) == HTTP1Bytes.lower($1) })
            else { return }
            result.append(string(value))
        }
        return result
    }
}
