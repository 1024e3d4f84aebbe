import Testing

@testable import Admin

@Suite struct BearerTokenTests {
    @Test func theRightTokenIsAccepted() {
        let token = BearerToken("abc123")
        #expect(token.accepts(authorization: "Bearer abc123"))
        #expect(token.accepts(authorization: "bearer abc123"))
    }

    @Test func missingMalformedOrWrongTokensAreRefused() {
        let token = BearerToken("abc123")
        for header in [nil, "", "Bearer", "Bearer ", "Basic abc123", "abc123", "Bearer abc1234", "Bearer ABC123"] {
            #expect(!token.accepts(authorization: header), "\(header ?? "nil")")
        }
    }

    @Test func generatedTokensAreLongRandomAndURLSafe() {
        let a = BearerToken.generate()
        let b = BearerToken.generate()
        #expect(a != b)
        #expect(a.count == 43)
        #expect(a.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    @Test func comparisonLooksAtEveryByte() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2], [1, 2, 3]))
    }
}
