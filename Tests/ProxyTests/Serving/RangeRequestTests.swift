import Testing

@testable import Proxy

@Suite struct RangeRequestTests {
    @Test func aSingleRangeResolvesWithinTheObject() {
        #expect(RangeRequest.evaluate("bytes=0-99", size: 1000) == .partial(0..<100))
        #expect(RangeRequest.evaluate("bytes=990-2000", size: 1000) == .partial(990..<1000))
        #expect(RangeRequest.evaluate("bytes=500-", size: 1000) == .partial(500..<1000))
        #expect(RangeRequest.evaluate("bytes=-100", size: 1000) == .partial(900..<1000))
        #expect(RangeRequest.evaluate("bytes=-5000", size: 1000) == .partial(0..<1000))
        #expect(RangeRequest.evaluate(" Bytes = 1-1 ", size: 10) == .partial(1..<2))
        #expect(RangeRequest.evaluate("bytes=0-1,", size: 10) == .partial(0..<2))
    }

    @Test func rangesOutsideTheObjectAreUnsatisfiable() {
        #expect(RangeRequest.evaluate("bytes=1000-", size: 1000) == .unsatisfiable)
        #expect(RangeRequest.evaluate("bytes=1000-1001", size: 1000) == .unsatisfiable)
        #expect(RangeRequest.evaluate("bytes=-0", size: 1000) == .unsatisfiable)
        #expect(RangeRequest.evaluate("bytes=0-", size: 0) == .unsatisfiable)
        #expect(RangeRequest.evaluate("bytes=-1", size: 0) == .unsatisfiable)
        #expect(RangeRequest.contentRange(0..<100, size: 1000) == "bytes 0-99/1000")
        #expect(RangeRequest.unsatisfiedContentRange(size: 1000) == "bytes */1000")
    }

    @Test func severalRangesGetTheWholeBodyNeverAMultipartAmplification() {
        #expect(RangeRequest.evaluate("bytes=0-1,5-6", size: 1000) == .full)
        #expect(RangeRequest.evaluate("bytes=0-999,0-999,0-999", size: 1000) == .full)
        #expect(RangeRequest.evaluate("bytes=2000-,3000-", size: 1000) == .full)
        let many = "bytes=" + (0..<500).map { "\($0)-\($0)" }.joined(separator: ",")
        #expect(RangeRequest.evaluate(many, size: 1000) == .full)
    }

    @Test func malformedOrForeignRangesAreIgnored() {
        for value in [
            "bytes=5-1", "items=0-1", "bytes=abc", "bytes=-", "bytes=1-2-3", "bytes=+1-2", "bytes=0x1-2", "bytes",
            "bytes=99999999999999999999-", "=0-1",
        ] {
            #expect(RangeRequest.evaluate(value, size: 1000) == .full, "\(value)")
        }
    }
}
