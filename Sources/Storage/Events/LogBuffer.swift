/// The most recent lines of one build's log, bounded in lines and bytes.
///
/// A build that floods its log cannot grow memory: past either bound the
/// oldest lines are dropped and counted, and a replay starts with a
/// ``Delivery/missed(_:)`` that says how many. A single line longer than
/// `maxLineBytes` is cut and marked `… [truncated]`.
public struct LogBuffer: Sendable {
    /// Most lines kept.
    public let maxLines: Int
    /// Most bytes of line text kept.
    public let maxBytes: Int
    /// Longest line kept whole, in bytes.
    public let maxLineBytes: Int

    private var lines = RingBuffer<LogLine>()
    private var bytes = 0
    /// How many of the oldest lines were dropped to stay within bounds.
    public private(set) var droppedCount = 0

    public init(maxLines: Int = 10_000, maxBytes: Int = 2 << 20, maxLineBytes: Int = 16 << 10) {
        self.maxLines = max(1, maxLines)
        self.maxBytes = max(1, maxBytes)
        self.maxLineBytes = max(16, min(maxLineBytes, self.maxBytes))
    }

    /// How many lines are kept now.
    public var count: Int { lines.count }

    /// How many times appending found the kept lines shared with a copy of
    /// this buffer and copied them all (an O(count) append). Appending to
    /// a buffer nothing else holds never copies.
    var storageCopies: Int { lines.copyCount }

    /// The identity of the kept lines' storage: once the buffer holds
    /// `maxLines` lines it changes only when the lines are copied.
    var storageIdentity: ObjectIdentifier { lines.storageIdentity }

    /// Adds `line` (cut to `maxLineBytes`) and drops the oldest lines while
    /// over a bound. Returns the line as kept.
    @discardableResult
    public mutating func append(_ line: LogLine) -> LogLine {
        let kept = LogBuffer.cut(line, toBytes: maxLineBytes)
        lines.append(kept)
        bytes += kept.text.utf8.count
        while lines.count > maxLines || (bytes > maxBytes && lines.count > 1) {
            guard let dropped = lines.popFirst() else { break }
            bytes -= dropped.text.utf8.count
            droppedCount += 1
        }
        return kept
    }

    /// What a new subscriber receives first: a ``Delivery/missed(_:)`` when
    /// lines were dropped, then every kept line, oldest first.
    public func replay() -> [Delivery<LogLine>] {
        var result: [Delivery<LogLine>] = []
        result.reserveCapacity(lines.count + 1)
        if droppedCount > 0 { result.append(.missed(droppedCount)) }
        for line in lines.elements() { result.append(.value(line)) }
        return result
    }

    static let truncationMarker = "… [truncated]"

    /// `line` with its text cut on a character boundary so that it, plus the
    /// truncation marker, fits in `limit` bytes.
    package static func cut(_ line: LogLine, toBytes limit: Int) -> LogLine {
        guard line.text.utf8.count > limit else { return line }
        let budget = max(0, limit - truncationMarker.utf8.count)
        var used = 0
        var end = line.text.startIndex
        for index in line.text.indices {
            let width = line.text[index].utf8.count
            if used + width > budget { break }
            used += width
            end = line.text.index(after: index)
        }
        return LogLine(timestamp: line.timestamp, stream: line.stream, text: line.text[..<end] + truncationMarker)
    }
}
