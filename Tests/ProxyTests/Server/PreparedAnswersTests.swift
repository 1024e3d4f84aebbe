import NIOCore
import Testing

@testable import Proxy

/// The table of one event loop's prepared answers: versions and bounds.
@Suite struct PreparedAnswersTests {
    static func key(_ host: String, _ target: String, _ encodings: HTTP1AcceptedEncodings = []) -> PreparedAnswerKey {
        // Inside a larger buffer, as a request's bytes are.
        let buffer = ByteBuffer(string: "GET \(target) HTTP/1.1\r\nHost: \(host)\r\n\r\n")
        let view = buffer.readableBytesView
        let targetStart = view.startIndex + 4
        let hostStart = view.startIndex + 4 + target.utf8.count + 17
        return PreparedAnswerKey(
            host: view[hostStart..<(hostStart + host.utf8.count)],
            target: view[targetStart..<(targetStart + target.utf8.count)], encodings: encodings)
    }

    static func answer(bodyBytes: Int) -> PreparedAnswer {
        PreparedAnswer(
            start200: ByteBuffer(string: "HTTP/1.1 200 OK\r\n"), start304: ByteBuffer(string: "HTTP/1.1 304 x\r\n"),
            body: ByteBuffer(repeating: 0x61, count: bodyBytes), quotedETag: ByteBuffer(string: "\"e\""))
    }

    @Test func keysCompareTheirBytesWhereverTheyLive() {
        let a = Self.key("a.apps.test", "/x")
        #expect(a == Self.key("a.apps.test", "/x"))
        #expect(a.hashValue == Self.key("a.apps.test", "/x").hashValue)
        #expect(a == a.detached())
        #expect(a.hashValue == a.detached().hashValue)
        #expect(a != Self.key("a.apps.test", "/y"))
        #expect(a != Self.key("b.apps.test", "/x"))
        #expect(a != Self.key("a.apps.test", "/x", .gzip))
        // The boundary between host and target is part of the key.
        #expect(Self.key("a.apps.test", "/x/y") != Self.key("a.apps.test/x", "/y"))
    }

    @Test func anAnswerServesOnlyAtTheVersionItWasPreparedAt() {
        let answers = PreparedAnswers(limits: .init(maxEntries: 10, maxBytes: 1 << 20))
        let key = Self.key("a.apps.test", "/")
        answers.insert(Self.answer(bodyBytes: 10), for: key, version: 3)
        #expect(answers.answer(for: key, version: 3) != nil)
        // The table moved on: everything prepared before is dropped.
        #expect(answers.answer(for: key, version: 4) == nil)
        #expect(answers.count == 0)
        // An answer worked out from an older table is not kept.
        answers.insert(Self.answer(bodyBytes: 10), for: key, version: 3)
        #expect(answers.answer(for: key, version: 4) == nil)
        answers.insert(Self.answer(bodyBytes: 10), for: key, version: 4)
        #expect(answers.answer(for: key, version: 4) != nil)
    }

    @Test func theTableKeepsToItsBounds() {
        let answers = PreparedAnswers(limits: .init(maxEntries: 4, maxBytes: 10_000))
        for index in 0..<10 {
            answers.insert(Self.answer(bodyBytes: 100), for: Self.key("a.apps.test", "/\(index)"), version: 1)
            #expect(answers.count <= 4)
        }
        #expect(answers.answer(for: Self.key("a.apps.test", "/9"), version: 1) != nil)
        // Bytes: each answer costs its buffers plus a little, a small body
        // twice (alone and joined to its head): one of 3,000 fits in 10,000.
        for index in 0..<10 {
            answers.insert(Self.answer(bodyBytes: 3_000), for: Self.key("b.apps.test", "/\(index)"), version: 1)
            #expect(answers.count <= 4)
            #expect(answers.totalCost <= 10_000)
        }
        // One larger than the whole bound is never kept.
        answers.insert(Self.answer(bodyBytes: 20_000), for: Self.key("c.apps.test", "/"), version: 1)
        #expect(answers.answer(for: Self.key("c.apps.test", "/"), version: 1) == nil)
        #expect(answers.answer(for: Self.key("b.apps.test", "/9"), version: 1) != nil)
    }

    /// The whole head, and a small body, in one buffer for each second.
    @Test func anAnswerJoinsItsHeadOncePerSecond() {
        let small = Self.answer(bodyBytes: 5)
        let ending = ByteBuffer(string: "Date: one\r\n\r\n")
        let first = small.joined(notModified: false, ending: ending, second: 1)
        #expect(String(buffer: first) == "HTTP/1.1 200 OK\r\nDate: one\r\n\r\naaaaa")
        #expect(
            String(buffer: small.joined(notModified: true, ending: ending, second: 1))
                == "HTTP/1.1 304 x\r\nDate: one\r\n\r\n")
        // The same second: the same buffer, not made again.
        let again = small.joined(notModified: false, ending: ByteBuffer(string: "Date: other\r\n\r\n"), second: 1)
        #expect(again == first)
        // The next second: made with that second's ending.
        let later = small.joined(notModified: false, ending: ByteBuffer(string: "Date: two\r\n\r\n"), second: 2)
        #expect(String(buffer: later) == "HTTP/1.1 200 OK\r\nDate: two\r\n\r\naaaaa")
        // A large body is written from its own buffer, after the head.
        let large = Self.answer(bodyBytes: PreparedAnswer.joinedBodyLimit + 1)
        #expect(!large.joinsBody && small.joinsBody)
        #expect(
            String(buffer: large.joined(notModified: false, ending: ending, second: 1))
                == "HTTP/1.1 200 OK\r\nDate: one\r\n\r\n")
    }

    @Test func onlyTheTagAsSentMatchesExactly() {
        let answer = Self.answer(bodyBytes: 1)
        #expect(answer.isExactMatch(ByteBuffer(string: "\"e\"").readableBytesView))
        #expect(!answer.isExactMatch(ByteBuffer(string: "W/\"e\"").readableBytesView))
        #expect(!answer.isExactMatch(ByteBuffer(string: "\"e\", \"f\"").readableBytesView))
    }
}
