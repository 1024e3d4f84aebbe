import Testing

@testable import Proxy

/// The new parser against today's edge (NIO's `HTTPRequestDecoder` and the
/// copied `RequestIntake` checks) on the corpus: whole, split in two at every
/// byte boundary, and one byte at a time.
@Suite(.serialized) struct DifferentialTests {
    /// Past this size an entry is split at a sample of boundaries (the ends,
    /// every CR and LF, and an even spread) rather than at every one.
    static let everySplitUpTo = 4096

    @Test func corpusIsLargeEnough() {
        #expect(Corpus.entries.count >= 150)
        #expect(Set(Corpus.entries.map(\.name)).count == Corpus.entries.count, "corpus names are unique")
    }

    /// Async and yielding between splits: a long stretch of parsing must not
    /// hold a thread of the shared pool that other suites' timers and lease
    /// renewals run on.
    @Test(arguments: Corpus.entries + Corpus.batches)
    func entry(_ entry: Corpus.Entry) async {
        let bytes = entry.bytes
        let whole = SlipwayEdge.run([bytes])
        let reference = ReferenceEdge.run([bytes])
        let verdict = compare(reference: reference, new: whole)
        #expect(!verdict.isFailure, "\(entry.name): \(printable(bytes))\n\(verdict)")
        // Whole, the rejection kinds agree too (split, the connection guard's
        // 414 depends on where a read ends, so only the decisions are compared).
        if verdict == .same, case .rejected(let kind) = reference.ending {
            #expect(whole.outcome.ending == .rejected(kind), "\(entry.name)")
        }

        for pieces in Self.splits(of: bytes) {
            await Task.yield()
            let run = SlipwayEdge.run(pieces)
            #expect(!run.looped, "\(entry.name): loops")
            // However the bytes were split, the same result.
            guard run.outcome == whole.outcome, run.error == whole.error else {
                Issue.record(
                    "\(entry.name): split \(pieces.map(\.count)) gives\n\(run.outcome)\ninstead of\n\(whole.outcome)")
                return
            }
            let splitReference = ReferenceEdge.run(pieces)
            let splitVerdict = compare(reference: splitReference, new: run)
            guard !splitVerdict.isFailure else {
                Issue.record("\(entry.name): split \(pieces.map(\.count)):\n\(splitVerdict)")
                return
            }
        }
    }

    /// Every intended difference is shown by some corpus entry.
    @Test func everyIntendedDifferenceIsExercised() {
        var seen = Set<IntendedDifference>()
        for entry in Corpus.entries + Corpus.batches {
            if case .intended(let difference) = compare(
                reference: ReferenceEdge.run([entry.bytes]), new: SlipwayEdge.run([entry.bytes]))
            {
                seen.insert(difference)
            }
        }
        #expect(
            seen == Set(IntendedDifference.allCases),
            "not exercised: \(Set(IntendedDifference.allCases).subtracting(seen))")
    }

    /// The ways to feed `bytes`: in two pieces at each boundary, and byte by byte.
    static func splits(of bytes: [UInt8]) -> [[[UInt8]]] {
        guard bytes.count > 1 else { return [] }
        var points: [Int]
        if bytes.count <= everySplitUpTo {
            points = Array(1..<bytes.count)
        } else {
            var chosen = Set<Int>()
            for offset in 1..<min(64, bytes.count) {
                chosen.insert(offset)
                chosen.insert(bytes.count - offset)
            }
            for (index, byte) in bytes.enumerated() where byte == 0x0D || byte == 0x0A {
                for near in (index - 1)...(index + 1) where near > 0 && near < bytes.count { chosen.insert(near) }
            }
            for step in 1..<128 { chosen.insert(bytes.count * step / 128) }
            chosen.formUnion([8191, 8192, 8193, 8194, 8195])
            points = chosen.filter { $0 > 0 && $0 < bytes.count }.sorted()
        }
        var result = points.map { [Array(bytes[..<$0]), Array(bytes[$0...])] }
        result.append(bytes.map { [$0] })
        return result
    }
}

extension Corpus.Entry: CustomTestStringConvertible {
    var testDescription: String { name }
}
