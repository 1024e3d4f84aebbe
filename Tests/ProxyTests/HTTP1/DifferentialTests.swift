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

    /// The parsing runs on a thread of its own (see `offTheSharedPool`).
    @Test(arguments: Corpus.entries + Corpus.batches)
    func entry(_ entry: Corpus.Entry) async {
        let failures = await offTheSharedPool { Self.check(entry) }
        for failure in failures { Issue.record(Comment(rawValue: failure)) }
    }

    /// What is wrong with the new parser on `entry`, whole and split.
    static func check(_ entry: Corpus.Entry) -> [String] {
        let bytes = entry.bytes
        let whole = SlipwayEdge.run([bytes])
        let reference = ReferenceEdge.run([bytes])
        let verdict = compare(reference: reference, new: whole)
        if verdict.isFailure { return ["\(entry.name): \(printable(bytes))\n\(verdict)"] }
        // Whole, the rejection kinds agree too (split, the connection guard's
        // 414 depends on where a read ends, so only the decisions are compared).
        if verdict == .same, case .rejected(let kind) = reference.ending, whole.outcome.ending != .rejected(kind) {
            return [
                "\(entry.name): rejected as \(String(describing: whole.outcome.ending)), the reference says \(kind)"
            ]
        }
        for pieces in splits(of: bytes) {
            let run = SlipwayEdge.run(pieces)
            if run.looped { return ["\(entry.name): loops"] }
            // However the bytes were split, the same result.
            guard run.outcome == whole.outcome, run.error == whole.error else {
                return [
                    "\(entry.name): split \(pieces.map(\.count)) gives\n\(run.outcome)\ninstead of\n\(whole.outcome)"
                ]
            }
            let splitVerdict = compare(reference: ReferenceEdge.run(pieces), new: run)
            if splitVerdict.isFailure { return ["\(entry.name): split \(pieces.map(\.count)):\n\(splitVerdict)"] }
        }
        return []
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
