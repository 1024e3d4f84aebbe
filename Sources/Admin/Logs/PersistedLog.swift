import Foundation
import Storage

/// Reading back the log the builder stores at `logs/<siteId>/<buildId>.log`:
/// one line per entry, `<ISO-8601 time> <stream> <text>` (see `BuildLog`).
enum PersistedLog {
    /// The entry a stored line holds. Lines not in the builder's format
    /// (none are expected) come back whole as `system` lines at `fallback`.
    static func parse(_ line: Substring, fallback: Date) -> LogLine {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count >= 2, let stream = LogLine.Stream(rawValue: String(parts[1])), let time = date(parts[0]) {
            return LogLine(timestamp: time, stream: stream, text: parts.count == 3 ? String(parts[2]) : "")
        }
        return LogLine(timestamp: fallback, stream: .system, text: String(line))
    }

    private static func date(_ text: Substring) -> Date? {
        try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(String(text))
    }

    /// Splits a byte stream into lines without holding more than one line
    /// (at most `maxLineBytes`) in memory.
    struct LineSplitter {
        let maxLineBytes: Int
        private var pending: [UInt8] = []

        init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

        /// The complete lines `bytes` ends, without their line breaks.
        mutating func append(_ bytes: some Sequence<UInt8>) -> [String] {
            var lines: [String] = []
            for byte in bytes {
                if byte == UInt8(ascii: "\n") {
                    lines.append(takeLine())
                } else {
                    pending.append(byte)
                    if pending.count >= maxLineBytes { lines.append(takeLine()) }
                }
            }
            return lines
        }

        /// The last line when the stream did not end with a line break.
        mutating func finish() -> String? {
            pending.isEmpty ? nil : takeLine()
        }

        private mutating func takeLine() -> String {
            if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
            defer { pending.removeAll(keepingCapacity: true) }
            return String(decoding: pending, as: UTF8.self)
        }
    }
}
