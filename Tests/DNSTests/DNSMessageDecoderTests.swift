import SlipwayTestSupport
import Testing

@testable import DNS

/// The wire format against crafted bytes: what a hostile or broken server
/// could send must end in a thrown error, never a crash.
@Suite struct DNSMessageDecoderTests {
    let query = DNSQuery(name: "_slipway-challenge.example.com", type: .txt, id: 0x1234)

    private func decode(_ bytes: [UInt8], _ query: DNSQuery? = nil) throws(DNSDecodingError) -> DNSResponse {
        switch try DNSMessageDecoder.decode(bytes, answering: query ?? self.query) {
        case .response(let response): return response
        case .truncated: throw .malformed("unexpectedly truncated")
        }
    }

    private func failure(_ bytes: [UInt8], _ query: DNSQuery? = nil) -> DNSDecodingError? {
        do {
            _ = try decode(bytes, query)
            return nil
        } catch {
            return error
        }
    }

    @Test func queryHasOneQuestionRecursionDesiredAndEDNS0() {
        let bytes = query.bytes
        #expect(Array(bytes[0..<12]) == [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1])
        #expect(DNSTestMessages.name(of: bytes) == "_slipway-challenge.example.com")
        let question = DNSTestMessages.question(of: bytes)
        #expect(Array(question.suffix(4)) == [0, 16, 0, 1])
        // OPT: root name, type 41, payload 1232, TTL 0, no data.
        #expect(Array(bytes.suffix(11)) == [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0])
    }

    @Test func queryIDsComeFromARandomSource() {
        let ids = Set((0..<64).map { _ in DNSQuery(name: "example.com", type: .a).id })
        #expect(ids.count > 32)
    }

    @Test func encodedQueryRoundTripsThroughTheDecoder() throws {
        let response = DNSTestMessages.response(
            to: query.bytes,
            answers: [
                DNSTestMessages.record(
                    "_slipway-challenge.example.com", type: 16, rdata: DNSTestMessages.txtData("slipway-verify=abc"))
            ])
        let decoded = try decode(response)
        #expect(decoded.rcode == .noError)
        #expect(
            decoded.answers == [
                DNSRecord(name: "_slipway-challenge.example.com", type: .txt, ttl: 60, data: .txt("slipway-verify=abc"))
            ])
    }

    @Test func aQueryIsNotAnAnswer() {
        #expect(failure(query.bytes)?.kind == .mismatched)
    }

    @Test func decodesEveryRecordTypeSlipwayReads() throws {
        let query = DNSQuery(name: "www.example.com", type: .a, id: 7)
        // A CNAME whose owner is a compression pointer to the question name (offset 12).
        let pointerToQuestion: [UInt8] = [0xC0, 12]
        var cname = pointerToQuestion
        DNSTestMessages.append16(5, to: &cname)
        cname += [0, 1, 0, 0, 0, 30]
        let target = DNSTestMessages.wireName("Target.Example.com")
        DNSTestMessages.append16(UInt16(target.count), to: &cname)
        cname += target
        let caa = [0x80, 5] + Array("issueletsencrypt.org; accounturi=x".utf8)
        let response = DNSTestMessages.response(
            to: query.bytes,
            answers: [
                cname,
                DNSTestMessages.record("target.example.com", type: 1, rdata: [192, 0, 2, 1]),
                DNSTestMessages.record(
                    "target.example.com", type: 28,
                    rdata: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]),
                DNSTestMessages.record(
                    "target.example.com", type: 16, rdata: [3] + Array("abc".utf8) + [0, 2] + Array("de".utf8)),
                DNSTestMessages.record("target.example.com", type: 257, rdata: caa),
                DNSTestMessages.record("target.example.com", type: 99, rdata: [1, 2, 3]),
            ])
        let answers = try decode(response, query).answers.map(\.data)
        #expect(
            answers == [
                .cname("target.example.com"),
                .address(DNSAddress(bytes: [192, 0, 2, 1])!),
                .address(DNSAddress(bytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])!),
                .txt("abcde"),
                .caa(CAARecord(flags: 0x80, tag: "issue", value: "letsencrypt.org; accounturi=x")),
                .other([1, 2, 3]),
            ])
        #expect(try decode(response, query).answers[0].name == "www.example.com")
    }

    @Test func addressesPrintInTheirUsualForm() {
        #expect(DNSAddress(bytes: [192, 0, 2, 1])?.description == "192.0.2.1")
        #expect(
            DNSAddress(bytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])?.description
                == "2001:db8::1")
        #expect(DNSAddress(bytes: [1, 2, 3]) == nil)
    }

    @Test func nxdomainIsAnAnswer() throws {
        let response = DNSTestMessages.response(to: query.bytes, flags: 0x8183)
        #expect(try decode(response).rcode == .nonExistentDomain)
    }

    @Test func anErrorAnswerMayLeaveOutTheQuestionButAnAnswerMayNot() throws {
        var servfail: [UInt8] = []
        DNSTestMessages.append16(query.id, to: &servfail)
        DNSTestMessages.append16(0x8182, to: &servfail)
        servfail += [0, 0, 0, 0, 0, 0, 0, 0]
        #expect(try decode(servfail).rcode == .serverFailure)
        servfail[3] = 0x80 // NOERROR
        #expect(failure(servfail)?.kind == .mismatched)
    }

    @Test func truncatedFlagAsksForTCP() throws {
        // TC set and the answer cut off: the records are not read.
        let response = DNSTestMessages.response(to: query.bytes, flags: 0x8380, answers: [[0xC0]])
        #expect(try DNSMessageDecoder.decode(response, answering: query) == .truncated)
    }

    @Test func questionMatchesCaseInsensitively() throws {
        var response = DNSTestMessages.response(to: query.bytes)
        // "_slipway-challenge" starts at 13; upper-case the "example" label.
        let example = 12 + 1 + 18 + 1
        for index in example..<(example + 7) { response[index] -= 0x20 }
        #expect(try decode(response).rcode == .noError)
    }

    @Test func wrongIDOrQuestionIsNotOurAnswer() {
        #expect(failure(DNSTestMessages.response(to: query.bytes, id: 0x4321))?.kind == .mismatched)
        let other = DNSQuery(name: "_slipway-challenge.example.org", type: .txt, id: query.id)
        #expect(failure(DNSTestMessages.response(to: other.bytes))?.kind == .mismatched)
        let otherType = DNSQuery(name: query.name, type: .a, id: query.id)
        #expect(failure(DNSTestMessages.response(to: otherType.bytes))?.kind == .mismatched)
        var opcode = DNSTestMessages.response(to: query.bytes)
        opcode[2] |= 0x10 // opcode 2 (STATUS)
        #expect(failure(opcode)?.kind == .mismatched)
    }

    @Test func compressionPointerLoopsAreRefused() {
        // An answer whose owner name points at itself.
        var bytes = DNSTestMessages.response(to: query.bytes)
        bytes[7] = 1
        let own = bytes.count
        bytes += [0xC0 | UInt8(own >> 8), UInt8(own & 0xFF), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(failure(bytes)?.kind == .malformed)

        // A label, then a pointer back to that label: a loop going backwards.
        var backwards = DNSTestMessages.response(to: query.bytes)
        backwards[7] = 1
        let start = backwards.count
        backwards += [1, 0x61, 0xC0 | UInt8(start >> 8), UInt8(start & 0xFF), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(failure(backwards)?.reason.contains("loop") == true)

        // Two pointers pointing at each other.
        var pair = DNSTestMessages.response(to: query.bytes)
        pair[7] = 1
        let first = pair.count
        pair += [0xC0, UInt8(first + 2), 0xC0, UInt8(first), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(failure(pair)?.kind == .malformed)
    }

    @Test func pointersPastTheEndAreRefused() {
        var bytes = DNSTestMessages.response(to: query.bytes)
        bytes[7] = 1
        bytes += [0xC0, 0xFF, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(failure(bytes)?.reason.contains("past the end") == true)
        // A pointer cut in half.
        var half = DNSTestMessages.response(to: query.bytes)
        half[7] = 1
        half += [0xC0]
        #expect(failure(half)?.kind == .malformed)
    }

    @Test func labelsLongerThan63AndNamesLongerThan255AreRefused() {
        var long = DNSTestMessages.response(to: query.bytes)
        long[7] = 1
        long += [64] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(failure(long)?.reason.contains("63") == true)

        var huge = DNSTestMessages.response(to: query.bytes)
        huge[7] = 1
        for _ in 0..<5 { huge += [63] + [UInt8](repeating: 0x61, count: 63) }
        huge += [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(failure(huge)?.reason.contains("255") == true)
    }

    @Test func rdlengthPastTheEndIsRefused() {
        var record = DNSTestMessages.record("example.com", type: 1, rdata: [192, 0, 2, 1])
        record[record.count - 6] = 0
        record[record.count - 5] = 200
        let bytes = DNSTestMessages.response(to: query.bytes, answers: [record])
        #expect(failure(bytes)?.reason.contains("past the end") == true)
    }

    @Test func malformedRecordDataIsRefused() {
        let badA = DNSTestMessages.record("example.com", type: 1, rdata: [1, 2, 3])
        #expect(failure(DNSTestMessages.response(to: query.bytes, answers: [badA]))?.kind == .malformed)
        let badTXT = DNSTestMessages.record("example.com", type: 16, rdata: [10, 0x61])
        #expect(failure(DNSTestMessages.response(to: query.bytes, answers: [badTXT]))?.kind == .malformed)
        let badCAA = DNSTestMessages.record("example.com", type: 257, rdata: [0, 9, 0x61])
        #expect(failure(DNSTestMessages.response(to: query.bytes, answers: [badCAA]))?.kind == .malformed)
        // A CNAME whose target runs past its RDLENGTH.
        let badCNAME = DNSTestMessages.record("example.com", type: 5, rdata: [3, 0x61, 0x62, 0x63, 0]) + [1]
        var cnameBytes = DNSTestMessages.response(to: query.bytes, answers: [badCNAME])
        cnameBytes[cnameBytes.count - 7] = 3 // RDLENGTH 3: the name does not fit
        #expect(failure(cnameBytes)?.kind == .malformed)
    }

    @Test func everyTruncationOfAResponseIsAnError() {
        let response = DNSTestMessages.response(
            to: query.bytes,
            answers: [
                DNSTestMessages.record("_slipway-challenge.example.com", type: 16, rdata: DNSTestMessages.txtData("v")),
                DNSTestMessages.record("example.com", type: 257, rdata: [0, 5] + Array("issue;".utf8)),
            ])
        #expect((try? decode(response)) != nil)
        for length in 0..<response.count {
            #expect(failure(Array(response[..<length])) != nil, "a response cut at \(length) bytes decoded")
        }
    }

    @Test func randomAndMutatedBytesNeverCrash() {
        var generator = SplitMix64(seed: 2026)
        let valid = DNSTestMessages.response(
            to: query.bytes,
            answers: [
                DNSTestMessages.record("_slipway-challenge.example.com", type: 16, rdata: DNSTestMessages.txtData("v"))
            ])
        for _ in 0..<5000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? DNSMessageDecoder.decode(bytes, answering: query)
            let noise = (0..<Int.random(in: 0..<80, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? DNSMessageDecoder.decode([0x12, 0x34] + noise, answering: query)
        }
    }
}
