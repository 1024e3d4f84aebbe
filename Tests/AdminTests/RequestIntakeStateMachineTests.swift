import HTTPTypes
import Testing

@testable import Admin

/// The admin connection's intake without a channel: what is forwarded,
/// refused, and when.
@Suite struct RequestIntakeStateMachineTests {
    static func request(_ fields: HTTPFields = [:], authority: String? = "127.0.0.1:8081") -> HTTPRequest {
        HTTPRequest(method: .get, scheme: "http", authority: authority, path: "/healthz", headerFields: fields)
    }

    static let chunked = HTTPField.Name("Transfer-Encoding")!

    @Test func wellFormedRequestsAreForwardedWithTheirBodies() {
        var machine = RequestIntakeStateMachine()
        #expect(machine.head(Self.request()) == .forward)
        #expect(machine.bodyOrEnd() == .forward)
        #expect(machine.responseEnded() == nil)
        #expect(machine.head(Self.request([Self.chunked: "chunked"])) == .forward)
        #expect(machine.head(Self.request([Self.chunked: "Chunked", .contentType: "application/json"])) == .forward)
        #expect(machine.otherError() == .forward)
    }

    @Test func aBadHeadWithNothingInFlightIsRefusedAtOnceAndTheRestDropped() throws {
        var machine = RequestIntakeStateMachine()
        guard case .refuse(let refusal) = machine.head(Self.request(authority: nil)) else {
            Issue.record("not refused")
            return
        }
        #expect(refusal.status == .badRequest && refusal.code == "bad_host")
        #expect(machine.bodyOrEnd() == .drop)
        #expect(machine.head(Self.request()) == .drop)
        #expect(machine.otherError() == .drop)
        #expect(machine.parseError(.badHTTP("x")) == .drop)
        #expect(machine.responseEnded() == nil)
    }

    @Test func aBadHeadAfterPipelinedRequestsWaitsForTheirResponses() {
        var machine = RequestIntakeStateMachine()
        #expect(machine.head(Self.request()) == .forward)
        #expect(machine.bodyOrEnd() == .forward)
        #expect(machine.head(Self.request()) == .forward)
        #expect(machine.bodyOrEnd() == .forward)
        #expect(machine.head(Self.request([Self.chunked: "xchunked"])) == .drop)
        // The parser's complaint about the refused request's body is swallowed.
        #expect(machine.parseError(.badHTTP("x")) == .drop)
        #expect(machine.responseEnded() == nil)
        #expect(machine.responseEnded()?.code == "bad_framing")
        #expect(machine.responseEnded() == nil)
    }

    @Test func aParseErrorIsRefusedInItsPlace() {
        var machine = RequestIntakeStateMachine()
        #expect(machine.parseError(.badHTTP("invalid HTTP method")) == .refuse(.badHTTP("invalid HTTP method")))

        var busy = RequestIntakeStateMachine()
        #expect(busy.head(Self.request()) == .forward)
        #expect(busy.parseError(.badHTTP("invalid HTTP method")) == .drop)
        #expect(busy.responseEnded() == .badHTTP("invalid HTTP method"))
    }

    @Test(arguments: [
        ("xchunked", "bad_framing"), ("chunked, identity", "bad_framing"), ("gzip, chunked", "bad_framing"),
        ("identity", "bad_framing"), ("chunked,", nil), (" chunked ", nil),
    ])
    func transferCodingsOtherThanChunkedAloneAreRefused(_ coding: String, _ code: String?) {
        #expect(RequestIntake.problem(with: Self.request([Self.chunked: coding]))?.code == code)
    }

    @Test func transferEncodingBesideContentLengthIsRefused() {
        let problem = RequestIntake.problem(with: Self.request([Self.chunked: "chunked", .contentLength: "5"]))
        #expect(problem?.code == "bad_framing")
        #expect(problem?.message.contains("Content-Length") == true)
    }

    @Test(arguments: [
        (nil, "no Host header"), ("", "empty"), ("a b", "not a host"), ("host/path", "not a host"),
        ("bücher.example", "not a host"),
    ])
    func aMissingEmptyOrMalformedHostIsRefused(_ authority: String?, _ words: String) {
        let problem = RequestIntake.problem(with: Self.request(authority: authority))
        #expect(problem?.code == "bad_host")
        #expect(problem?.message.contains(words) == true, "\(problem?.message ?? "none")")
    }

    @Test func aSecondHostIsRefused() {
        let problem = RequestIntake.problem(with: Self.request([HTTPField.Name("Host")!: "127.0.0.1"]))
        #expect(problem?.code == "bad_host")
        #expect(problem?.message.contains("2 Host headers") == true)
    }

    @Test(arguments: ["127.0.0.1:8081", "localhost", "[::1]:8081", "admin.example.com", "xn--bcher-kva.example"])
    func ordinaryHostsPass(_ authority: String) {
        #expect(RequestIntake.problem(with: Self.request(authority: authority)) == nil)
    }
}

/// Finding repeated keys in JSON texts.
@Suite struct DuplicateKeyScannerTests {
    static func duplicate(_ text: String) -> DuplicateKeyScanner.Duplicate? {
        DuplicateKeyScanner.firstDuplicate(in: Array(text.utf8))
    }

    @Test func theFirstRepeatedKeyIsNamedWithItsPathAndOffset() {
        #expect(Self.duplicate(#"{"a": 1, "a": 2}"#) == .init(path: "a", offset: 9))
        #expect(Self.duplicate(#"{"x": {"y": [1, {"k": 1, "k": 2}]}}"#) == .init(path: "x.y[1].k", offset: 25))
        #expect(Self.duplicate(#"[{}, {"a": {"b": 1}, "c": 2, "a": 3}]"#)?.path == "[1].a")
        #expect(Self.duplicate(#"{"a": 1, "b": 2, "b": 3, "a": 4}"#)?.path == "b")
    }

    @Test func keysAreComparedAfterTheirEscapesAreDecoded() {
        #expect(Self.duplicate(#"{"slug": 1, "sl\u0075g": 2}"#)?.path == "slug")
        #expect(Self.duplicate(#"{"\ud83d\ude00": 1, "😀": 2}"#)?.path == "😀")
        #expect(Self.duplicate(#"{"a\"b": 1, "a\u0022b": 2}"#)?.path == #"a"b"#)
        // Canonically equivalent spellings are one key to Swift's decoder.
        #expect(Self.duplicate(#"{"é": 1, "e\u0301": 2}"#) != nil)
    }

    @Test func distinctKeysAndKeysOfDifferentObjectsAreNoDuplicates() {
        #expect(Self.duplicate(#"{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}"#) == nil)
        #expect(Self.duplicate(#"{"a": "a", "b": ["a", "a"], "c": null, "d": true, "e": -1.5e3}"#) == nil)
        #expect(Self.duplicate(#"{"A": 1, "a": 2}"#) == nil)
        #expect(Self.duplicate("{}") == nil)
        #expect(Self.duplicate(" [] ") == nil)
    }

    @Test func textThatIsNotJSONIsLeftToTheDecoder() {
        for text in [#"{"a": 1, "a": 2"#, #"{"a": 1, "a": 2}}"#, #"{"a" 1, "a": 2}"#, "", "{", #"{"a": "\x"}"#] {
            #expect(Self.duplicate(text) == nil, "\(text)")
        }
    }

    @Test func deepNestingDoesNotExhaustTheStack() {
        let depth = 200_000
        let text = String(repeating: #"{"a":["#, count: depth) + "1" + String(repeating: "]}", count: depth)
        #expect(Self.duplicate(text) == nil)
        let repeated =
            String(repeating: "[", count: depth) + #"{"k": 1, "k": 2}"# + String(repeating: "]", count: depth)
        #expect(Self.duplicate(repeated)?.path.hasSuffix("[0].k") == true)
    }
}
