import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What decides a prepared answer: the `Host` and target bytes exactly as the
/// request sent them, and the precompressed codings it accepts. Everything
/// else the serving pipeline reads to answer a plain GET (the site, its
/// active build, the manifest, `_headers` and `_redirects`) follows from
/// these and from the site table, whose ``SiteTable/version`` the answer
/// is checked against.
struct PreparedAnswerKey: Hashable, Sendable {
    let host: ByteBufferView
    let target: ByteBufferView
    let encodings: HTTP1AcceptedEncodings

    init(host: ByteBufferView, target: ByteBufferView, encodings: HTTP1AcceptedEncodings) {
        self.host = host
        self.target = target
        self.encodings = encodings
    }

    /// The key of a request, when a prepared answer may answer it: a GET in
    /// origin form, without a body, a range or an `If-Range`, and without
    /// `If-Modified-Since` unless one `If-None-Match` decides instead (RFC
    /// 9110 §13.1.3). Any other request takes the whole pipeline.
    init?(_ head: HTTP1RequestHead) {
        guard head.method == .get, head.targetForm == .origin, !head.hasBody, head.expectation == .none,
            !head.range.isPresent, !head.ifRange.isPresent, head.ifNoneMatch.count <= 1,
            head.ifNoneMatch.isPresent || !head.ifModifiedSince.isPresent
        else { return nil }
        self.init(host: head.hostBytes, target: head.targetBytes, encodings: head.acceptedEncodings)
    }

    /// The same key in memory of its own, holding on to none of the
    /// connection's receive buffer.
    func detached() -> PreparedAnswerKey {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(host.count + target.count)
        buffer.writeBytes(host)
        buffer.writeBytes(target)
        let view = buffer.readableBytesView
        let split = view.startIndex + host.count
        return PreparedAnswerKey(
            host: view[view.startIndex..<split], target: view[split..<view.endIndex], encodings: encodings)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(encodings.rawValue)
        Self.withBytes(host) { hasher.combine(bytes: $0) }
        hasher.combine(UInt8(0xFF))
        Self.withBytes(target) { hasher.combine(bytes: $0) }
    }

    static func == (lhs: PreparedAnswerKey, rhs: PreparedAnswerKey) -> Bool {
        lhs.encodings == rhs.encodings && equal(lhs.host, rhs.host) && equal(lhs.target, rhs.target)
    }

    static func equal(_ lhs: ByteBufferView, _ rhs: ByteBufferView) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard lhs.count > 0 else { return true }
        return withBytes(lhs) { left in
            withBytes(rhs) { right in memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
        }
    }

    /// A view's bytes in place (a `ByteBufferView` is always contiguous).
    private static func withBytes<T>(_ view: ByteBufferView, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        view.withContiguousStorageIfAvailable { body(UnsafeRawBufferPointer($0)) }!
    }
}

/// The answer to a plain GET of a cached file, kept ready to write: the
/// start of its 200 head and of its 304 head (``ResponseHeadWriter``; the
/// ending with `Date` is added as it is sent), its body, and the entity tag
/// a client sends back. Sending it is one lookup and a gathered write of
/// buffers that already exist.
///
/// For the usual ending (an HTTP/1.1 connection that stays open) the answer
/// also keeps, for the current second, its whole head in one buffer, and
/// with a small body the body too: most answers are then one buffer,
/// joined once per second rather than gathered on every write.
final class PreparedAnswer {
    /// Bodies up to this size are joined to the head.
    static let joinedBodyLimit = 64 << 10

    let start200: ByteBuffer
    let start304: ByteBuffer
    let body: ByteBuffer
    /// The entity tag in quotes, as `If-None-Match` carries it back.
    let quotedETag: ByteBuffer
    /// ``joined200`` holds the body as well.
    let joinsBody: Bool
    private var joined200 = ByteBuffer()
    private var joined304 = ByteBuffer()
    private var second200 = Int64.min
    private var second304 = Int64.min

    init(start200: ByteBuffer, start304: ByteBuffer, body: ByteBuffer, quotedETag: ByteBuffer) {
        self.start200 = start200
        self.start304 = start304
        self.body = body
        self.quotedETag = quotedETag
        self.joinsBody = body.readableBytes <= Self.joinedBodyLimit
    }

    /// The start, `ending` (which names `second`) and, for a 200 when
    /// ``joinsBody``, the body, in one buffer: made on the first answer of
    /// each second, then shared by every answer in it.
    func joined(notModified: Bool, ending: ByteBuffer, second: Int64) -> ByteBuffer {
        if notModified {
            if second304 != second {
                joined304 = Self.join(start304, ending, nil)
                second304 = second
            }
            return joined304
        }
        if second200 != second {
            joined200 = Self.join(start200, ending, joinsBody ? body : nil)
            second200 = second
        }
        return joined200
    }

    private static func join(_ start: ByteBuffer, _ ending: ByteBuffer, _ body: ByteBuffer?) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(start.readableBytes + ending.readableBytes + (body?.readableBytes ?? 0))
        buffer.writeImmutableBuffer(start)
        buffer.writeImmutableBuffer(ending)
        if let body { buffer.writeImmutableBuffer(body) }
        return buffer
    }

    /// Whether one `If-None-Match` value is exactly this answer's tag (what
    /// a browser sends back). Anything else, a list or a weak tag, is
    /// decided by the whole pipeline.
    func isExactMatch(_ value: ByteBufferView) -> Bool {
        PreparedAnswerKey.equal(value, quotedETag.readableBytesView)
    }

    /// What the answer holds on to, for the table's byte bound: the starts
    /// twice (alone and joined), the body, and its joined copy when it has one.
    var cost: Int {
        2 * (start200.readableBytes + start304.readableBytes + 64) + body.readableBytes
            + (joinsBody ? body.readableBytes : 0)
    }
}

/// Prepared answers of one event loop, so that reading them takes no lock.
/// Every answer was worked out from the site table at one
/// ``SiteTable/version``; when the version moves on (a deploy, a rollback,
/// a site's settings), every answer is dropped at once.
///
/// Bounded in entries and in bytes. The bodies are the body cache's own
/// buffers, shared rather than copied, so the bytes counted here are extra
/// memory only for bodies the body cache has since evicted.
final class PreparedAnswers {
    struct Limits: Sendable {
        var maxEntries: Int
        var maxBytes: Int
    }

    let limits: Limits
    private var answers: [PreparedAnswerKey: PreparedAnswer] = [:]
    private var bytes = 0
    private var version: UInt64 = 0

    init(limits: Limits) {
        self.limits = limits
    }

    var count: Int { answers.count }
    /// What the answers kept cost, in bytes (``PreparedAnswer/cost``).
    var totalCost: Int { bytes }

    /// The answer for `key`, if one was prepared at `version`, the table's current one.
    func answer(for key: PreparedAnswerKey, version: UInt64) -> PreparedAnswer? {
        guard version == self.version else {
            moveOn(to: version)
            return nil
        }
        return answers[key]
    }

    /// Keeps `answer`, worked out from the table at `version`. An answer
    /// from an older table is not kept; one that would not fit makes room
    /// by dropping others.
    func insert(_ answer: PreparedAnswer, for key: PreparedAnswerKey, version: UInt64) {
        if version != self.version {
            guard version > self.version else { return }
            moveOn(to: version)
        }
        let cost = answer.cost
        guard cost <= limits.maxBytes, limits.maxEntries > 0 else { return }
        if let old = answers.removeValue(forKey: key) { bytes -= old.cost }
        while !answers.isEmpty && (answers.count >= limits.maxEntries || bytes + cost > limits.maxBytes) {
            // Dropping whichever comes first in the table's own order is a
            // random choice, which keeps the hot answers often enough.
            let (_, dropped) = answers.remove(at: answers.startIndex)
            bytes -= dropped.cost
        }
        answers[key.detached()] = answer
        bytes += cost
    }

    private func moveOn(to version: UInt64) {
        self.version = version
        answers.removeAll(keepingCapacity: true)
        bytes = 0
    }
}

/// What the connections of one event loop share without locks: the
/// prepared answers and the heads' endings. Each loop has its own (a thread
/// variable); only that loop's thread ever touches it.
final class EdgeLoopState: @unchecked Sendable {
    /// Answers of plain connections.
    let answers: PreparedAnswers
    /// Answers of secure requests (over TLS, or marked `X-Forwarded-Proto:
    /// https` by a trusted proxy), kept apart: their heads may carry
    /// `Strict-Transport-Security`, which plain answers never do.
    let secureAnswers: PreparedAnswers
    let endings: HeadEndings

    init(answers: PreparedAnswers.Limits, clock: HTTPDateClock) {
        self.answers = PreparedAnswers(limits: answers)
        self.secureAnswers = PreparedAnswers(limits: answers)
        self.endings = HeadEndings(clock: clock)
    }
}

/// Hands each thread (event loop) its own ``EdgeLoopState``.
final class EdgeLoopStates: Sendable {
    private let variable = ThreadSpecificVariable<EdgeLoopState>()
    private let limits: PreparedAnswers.Limits
    private let clock: HTTPDateClock

    init(limits: PreparedAnswers.Limits, clock: HTTPDateClock) {
        self.limits = limits
        self.clock = clock
    }

    /// The calling thread's state, made on first use.
    var current: EdgeLoopState {
        if let state = variable.currentValue { return state }
        let state = EdgeLoopState(answers: limits, clock: clock)
        variable.currentValue = state
        return state
    }
}
