import Foundation
import Testing

@testable import Storage

@Suite struct LogBufferTests {
    private static func line(_ text: String) -> LogLine {
        LogLine(timestamp: Date(timeIntervalSince1970: 0), stream: .stderr, text: text)
    }

    @Test func keepsTheNewestLinesWithinTheLineLimit() {
        var buffer = LogBuffer(maxLines: 3)
        for number in 1...5 { buffer.append(Self.line("\(number)")) }
        #expect(buffer.count == 3)
        #expect(buffer.droppedCount == 2)
        #expect(
            buffer.replay() == [.missed(2), .value(Self.line("3")), .value(Self.line("4")), .value(Self.line("5"))])
    }

    @Test func keepsTheNewestLinesWithinTheByteLimit() {
        var buffer = LogBuffer(maxLines: 100, maxBytes: 100, maxLineBytes: 100)
        for _ in 1...10 { buffer.append(Self.line(String(repeating: "x", count: 30))) }
        #expect(buffer.count == 3)
        #expect(buffer.droppedCount == 7)
    }

    @Test func aReplayWithoutDropsHasNoMissedMarker() {
        var buffer = LogBuffer()
        buffer.append(Self.line("only"))
        #expect(buffer.replay() == [.value(Self.line("only"))])
    }

    @Test func anOverlongLineIsCutOnACharacterBoundaryAndMarked() {
        var buffer = LogBuffer(maxLines: 10, maxBytes: 1000, maxLineBytes: 40)
        let kept = buffer.append(Self.line(String(repeating: "é", count: 100)))
        #expect(kept.text.utf8.count <= 40)
        #expect(kept.text.hasSuffix(LogBuffer.truncationMarker))
        #expect(kept.text.dropLast(LogBuffer.truncationMarker.count).allSatisfy { $0 == "é" })
        #expect(kept.stream == .stderr)
    }

    @Test func appendingToABufferNothingElseHoldsNeverCopiesIt() {
        var buffer = LogBuffer(maxLines: 100)
        for number in 1...100 { buffer.append(Self.line("\(number)")) }
        let storage = buffer.storageIdentity
        for number in 101...1_000 { buffer.append(Self.line("\(number)")) }
        #expect(buffer.storageCopies == 0)
        #expect(buffer.storageIdentity == storage)
    }

    @Test func aCopyOfABufferKeepsItsOwnLines() {
        var buffer = LogBuffer(maxLines: 10)
        buffer.append(Self.line("1"))
        let copy = buffer
        buffer.append(Self.line("2"))
        #expect(copy.replay() == [.value(Self.line("1"))])
        #expect(buffer.replay() == [.value(Self.line("1")), .value(Self.line("2"))])
        #expect(buffer.storageCopies == 1, "the change copied the shared lines once")
    }
}
