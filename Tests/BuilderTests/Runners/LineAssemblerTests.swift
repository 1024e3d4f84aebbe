import Testing

@testable import Builder

@Suite struct LineAssemblerTests {
    @Test func linesSplitAcrossChunksAreJoined() {
        var assembler = LineAssembler(maxLineBytes: 1024)
        #expect(assembler.append(Array("hel".utf8)) == [])
        #expect(assembler.append(Array("lo\nwor".utf8)) == ["hello"])
        #expect(assembler.append(Array("ld\r\n\nlast".utf8)) == ["world", ""])
        #expect(assembler.finish() == "last")
        #expect(assembler.finish() == nil)
    }

    @Test func anEndlessLineIsCutAndTheRestSkippedToTheNextNewline() {
        var assembler = LineAssembler(maxLineBytes: 32)
        var lines: [String] = []
        for _ in 0..<1000 { lines += assembler.append(Array(repeating: UInt8(ascii: "x"), count: 100)) }
        lines += assembler.append(Array("\nnext line\n".utf8))
        #expect(lines.count == 2)
        #expect(lines[0] == String(repeating: "x", count: 32) + LineAssembler.truncationMarker)
        #expect(lines[1] == "next line")
    }

    @Test func aCutNeverSplitsAUTF8Character() {
        var assembler = LineAssembler(maxLineBytes: 16)
        // 15 ASCII bytes, then a 3-byte character that would straddle the limit.
        let lines = assembler.append(Array((String(repeating: "a", count: 15) + "€€€\n").utf8))
        #expect(lines == [String(repeating: "a", count: 15) + LineAssembler.truncationMarker])
    }

    @Test func invalidUTF8IsReplacedNotFatal() {
        var assembler = LineAssembler(maxLineBytes: 64)
        #expect(assembler.append([0x66, 0xff, 0x6f, 0x0a]) == ["f\u{FFFD}o"])
    }
}
