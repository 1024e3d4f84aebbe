/// Turns a byte stream into lines without ever holding more than one line.
///
/// Lines end at `\n` (a `\r` before it is dropped). A line longer than
/// `maxLineBytes` is emitted cut, marked `… [truncated]`, and the rest of it
/// is skipped up to the next `\n`, so an endless line cannot grow memory.
/// Invalid UTF-8 is replaced, never fatal.
struct LineAssembler: Sendable {
    static let truncationMarker = "… [truncated]"

    let maxLineBytes: Int
    private var pending: [UInt8] = []
    /// Skipping the rest of a line that was already emitted cut.
    private var discarding = false

    init(maxLineBytes: Int) {
        self.maxLineBytes = max(16, maxLineBytes)
    }

    /// Feeds `bytes`; returns the lines they complete.
    mutating func append(_ bytes: some Collection<UInt8>) -> [String] {
        var lines: [String] = []
        var start = bytes.startIndex
        while start != bytes.endIndex {
            let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
            let end = newline ?? bytes.endIndex
            if discarding {
                if newline != nil { discarding = false }
            } else {
                let room = maxLineBytes - pending.count
                let piece = bytes[start..<end]
                if piece.count > room {
                    pending.append(contentsOf: piece.prefix(room))
                    lines.append(Self.decode(pending, cut: true))
                    pending.removeAll(keepingCapacity: true)
                    discarding = newline == nil
                } else {
                    pending.append(contentsOf: piece)
                    if newline != nil {
                        lines.append(Self.decode(pending, cut: false))
                        pending.removeAll(keepingCapacity: true)
                    }
                }
            }
            guard let newline else { break }
            start = bytes.index(after: newline)
        }
        return lines
    }

    /// The unterminated last line, if any, once the stream has ended.
    mutating func finish() -> String? {
        defer {
            pending.removeAll()
            discarding = false
        }
        guard !pending.isEmpty else { return nil }
        return Self.decode(pending, cut: false)
    }

    private static func decode(_ bytes: [UInt8], cut: Bool) -> String {
        var slice = bytes[...]
        if !cut, slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
        if cut {
            // Do not leave half a UTF-8 sequence before the marker: find the
            // last sequence's lead byte and drop the sequence if it is short.
            var lead = slice.endIndex
            while lead > slice.startIndex, slice.endIndex - lead < 4 {
                lead -= 1
                if slice[lead] & 0xC0 != 0x80 { break }
            }
            if lead < slice.endIndex {
                let byte = slice[lead]
                let expected = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                if slice.endIndex - lead < expected { slice = slice[..<lead] }
            }
        }
        let text = String(decoding: slice, as: UTF8.self)
        return cut ? text + truncationMarker : text
    }
}
