import Foundation
import Testing

@testable import Proxy

/// A small seeded generator (SplitMix64), so that a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random and mutated requests, fed in random pieces: the new parser never
/// loops, gives the same result however the bytes are split, and never
/// accepts (or reads differently) what today's edge refuses, but for the
/// intended differences. The seed is printed with any failure; set
/// `HTTP1_FUZZ_SEED` to replay a run.
@Suite(.serialized) struct GeneratedTests {
    static let seed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["HTTP1_FUZZ_SEED"], let seed = UInt64(text) { return seed }
        return UInt64(Date().timeIntervalSince1970 * 1000)
    }()

    /// `HTTP1_FUZZ_SCALE` multiplies the iterations, for a longer local run.
    static let scale = ProcessInfo.processInfo.environment["HTTP1_FUZZ_SCALE"].flatMap { Int($0) } ?? 1
    static let randomCount = 3000 * scale
    static let mutationCount = 4000 * scale

    /// Pieces of requests, so that random strings get past the first byte.
    static let tokens: [[UInt8]] =
        [
            "GET", "POST", "HEAD", "FOO", "get", " ", "  ", "/", "/a?b=c", "/a#b", "http://a.example/x",
            "http://b.example/", "*", "a.example:80", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "\r\n", "\r\n", "\r\n",
            "\r", "\n", "Host: a.example", "Host:", "Host: a.example ", "Content-Length: ", "Content-Length: 5",
            "5", "0", "12", "3", "Transfer-Encoding: chunked", "Transfer-Encoding: ", "chunked", ",", ";", ":", "=",
            "\"", "Connection: close", "Connection: keep-alive", "Connection: upgrade", "Upgrade: x",
            "Expect: 100-continue", "hello", "\u{0}", "\t", "X-A: b", "0\r\n\r\n", "5\r\nhello\r\n", "5;a=b\r\n",
            "Accept-Encoding: gzip;q=0, br", "If-None-Match: \"x\"", "Range: bytes=0-1", "é",
        ].map { Array($0.utf8) }

    // Both loops run on a thread of their own (see `offTheSharedPool`).
    @Test func randomRequests() async {
        let failures = await offTheSharedPool {
            var random = SplitMix64(state: Self.seed)
            var failures: [String] = []
            for iteration in 0..<Self.randomCount where failures.count < 5 {
                var bytes: [UInt8] = []
                for _ in 0..<Int.random(in: 1...40, using: &random) {
                    if Int.random(in: 0..<10, using: &random) == 0 {
                        bytes.append(UInt8.random(in: 0...255, using: &random))
                    } else {
                        bytes += Self.tokens.randomElement(using: &random) ?? []
                    }
                }
                if let failure = Self.check(bytes, &random, "random #\(iteration)") { failures.append(failure) }
            }
            return failures
        }
        for failure in failures { Issue.record(Comment(rawValue: failure)) }
    }

    @Test func mutatedCorpus() async {
        let failures = await offTheSharedPool {
            var random = SplitMix64(state: Self.seed ^ 0xA5A5)
            let pool = (Corpus.entries + Corpus.batches).filter { $0.bytes.count <= 4096 }
            var failures: [String] = []
            for iteration in 0..<Self.mutationCount where failures.count < 5 {
                var bytes: [UInt8] = []
                // One entry, or a few pipelined.
                for _ in 0..<(Int.random(in: 0..<4, using: &random) == 0 ? Int.random(in: 2...3, using: &random) : 1) {
                    bytes += pool.randomElement(using: &random)?.bytes ?? []
                }
                for _ in 0..<Int.random(in: 1...4, using: &random) { Self.mutate(&bytes, &random) }
                if let failure = Self.check(bytes, &random, "mutation #\(iteration)") { failures.append(failure) }
            }
            return failures
        }
        for failure in failures { Issue.record(Comment(rawValue: failure)) }
    }

    /// Checks one input; what is wrong with it (with the seed to replay it), or nil.
    static func check(_ bytes: [UInt8], _ random: inout SplitMix64, _ label: String) -> String? {
        let whole = SlipwayEdge.run([bytes])
        let pieces = randomSplit(bytes, &random)
        let split = SlipwayEdge.run(pieces)
        let context = "\(label), seed \(Self.seed): \(printable(bytes)) split \(pieces.map(\.count))"
        guard !whole.looped, !split.looped else {
            return "loops: \(context)"
        }
        guard split.outcome == whole.outcome, split.error == whole.error else {
            return "split-dependent: \(context)\nwhole:\n\(whole.outcome)\nsplit:\n\(split.outcome)"
        }
        if bytes.count <= 300 {
            let byteByByte = SlipwayEdge.run(bytes.map { [$0] })
            guard byteByByte.outcome == whole.outcome, byteByByte.error == whole.error else {
                return "byte by byte differs: \(context)\n\(byteByByte.outcome)\nvs\n\(whole.outcome)"
            }
        }
        let verdict = compare(reference: ReferenceEdge.run(pieces), new: split)
        // Still waiting where the reference refused is not accepting.
        guard !verdict.isFailure || verdict.isUndecided else {
            return "\(context)\n\(verdict)"
        }
        return nil
    }

    static func randomSplit(_ bytes: [UInt8], _ random: inout SplitMix64) -> [[UInt8]] {
        guard bytes.count > 1 else { return [bytes] }
        var cuts = Set<Int>()
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            cuts.insert(Int.random(in: 1..<bytes.count, using: &random))
        }
        var pieces: [[UInt8]] = []
        var start = 0
        for cut in cuts.sorted() {
            pieces.append(Array(bytes[start..<cut]))
            start = cut
        }
        pieces.append(Array(bytes[start...]))
        return pieces
    }

    static let interesting: [UInt8] = [0x0D, 0x0A, 0x00, 0x20, 0x3A, 0x09, 0x2C, 0x3B, 0x7F, 0x80, 0x23]

    static func mutate(_ bytes: inout [UInt8], _ random: inout SplitMix64) {
        func byte() -> UInt8 {
            Bool.random(using: &random)
                ? Self.interesting.randomElement(using: &random) ?? 0 : UInt8.random(in: 0...255, using: &random)
        }
        guard !bytes.isEmpty else {
            bytes.append(byte())
            return
        }
        let index = Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<6, using: &random) {
        case 0: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
        case 1: bytes[index] = byte()
        case 2: bytes.insert(byte(), at: index)
        case 3: bytes.remove(at: index)
        case 4: bytes.removeSubrange(index...)
        default:
            let end = min(bytes.count, index + Int.random(in: 1...16, using: &random))
            bytes.insert(contentsOf: bytes[index..<end], at: index)
        }
    }
}
