import Foundation
import Testing

@testable import ACME

@Suite("ACME problem documents and what they tell people")
struct ACMEProblemTests {
    func decode(_ json: String) throws -> ACMEProblem {
        try JSONDecoder().decode(ACMEProblem.self, from: Data(json.utf8))
    }

    @Test func decodesTypeDetailStatusAndSubproblems() throws {
        let problem = try decode(
            #"""
            {"type": "urn:ietf:params:acme:error:malformed", "detail": "Some of the identifiers requested were rejected",
             "status": 400, "subproblems": [
               {"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids", "identifier": {"type": "dns", "value": "a.example.com"}},
               {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "no", "identifier": {"type": "dns", "value": "b.example.com"}}]}
            """#)
        #expect(problem.name == "malformed")
        #expect(problem.status == 400)
        #expect(problem.subproblems.map(\.identifier) == ["a.example.com", "b.example.com"])
        #expect(problem.isCAA)
        #expect(!problem.isBadNonce)
        #expect(problem.description.contains("a.example.com: urn:ietf:params:acme:error:caa: CAA forbids"))
        // The CAA subproblem is the one a person can fix.
        #expect(problem.userMessage.contains("CAA"))
        #expect(problem.userMessage.contains("'a.example.com'"))
    }

    @Test func caaSaysWhichRecordToAdd() {
        let problem = ACMEProblem(
            type: "urn:ietf:params:acme:error:caa", detail: "CAA record for example.com prevents issuance",
            identifier: "app.example.com", certificateAuthority: "letsencrypt.org")
        #expect(problem.isCAA)
        #expect(problem.userMessage.contains(#"`0 issue "letsencrypt.org"`"#))
        #expect(problem.userMessage.contains("remove the restriction"))
        #expect(problem.userMessage.contains("CAA record for example.com prevents issuance"))
    }

    @Test func rateLimitsCarryRetryAfter() {
        let later = Date(timeIntervalSince1970: 1_900_000_000)
        let problem = ACMEProblem(
            type: "urn:ietf:params:acme:error:rateLimited", detail: "too many certificates", status: 429,
            retryAfter: later)
        #expect(problem.isRateLimited)
        #expect(problem.userMessage.contains("2030-03-17"))
    }

    @Test(arguments: [
        ("unauthorized", "port 80"), ("incorrectResponse", "port 80"), ("connection", "port 80"),
        ("dns", "A/AAAA or CNAME"), ("rejectedIdentifier", "another name"),
    ])
    func validationProblemsSayWhatToFix(name: String, advice: String) {
        let problem = ACMEProblem(
            type: ACMEProblem.acmeNamespace + name, detail: "the CA's words", identifier: "x.example.com")
        #expect(problem.userMessage.contains(advice))
        #expect(problem.userMessage.contains("the CA's words"))
        #expect(problem.userMessage.contains("'x.example.com'"))
    }

    @Test func retryAfterIsSecondsOrAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(ACMERetryAfter.date("120", now: now) == now.addingTimeInterval(120))
        #expect(
            ACMERetryAfter.date("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == Date(timeIntervalSince1970: 784_111_777))
        #expect(ACMERetryAfter.date("soon", now: now) == nil)
        #expect(ACMERetryAfter.delay("3", now: now) == .seconds(3))
        #expect(ACMERetryAfter.delay("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == .zero)
    }
}
