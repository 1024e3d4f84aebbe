import Crypto
import Foundation
import Testing

@testable import ACME

@Suite("ACME account keys, thumbprints and HTTP-01 answers")
struct ACMEAccountKeyTests {
    /// A fixed P-256 key (private scalar 0x0102…20) whose JWK and RFC 7638
    /// thumbprint were computed independently with Python's `cryptography`
    /// and `hashlib`:
    ///
    ///     k = ec.derive_private_key(int.from_bytes(bytes(range(1, 33)), "big"), ec.SECP256R1())
    ///     canon = json.dumps({"crv": "P-256", "kty": "EC", "x": x, "y": y}, separators=(",", ":"), sort_keys=True)
    ///     base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=")
    static func fixedKey() throws -> ACMEAccountKey {
        ACMEAccountKey(try P256.Signing.PrivateKey(rawRepresentation: (1...32).map { UInt8($0) }))
    }

    @Test func jwkAndThumbprintMatchAnIndependentComputation() throws {
        let jwk = try Self.fixedKey().jwk
        #expect(jwk.x == "UVw9brnjlrkE0_7Kf1T9zQzB6Ze_N13KUVrQpsO0A18")
        #expect(jwk.y == "RTa-OlDzGPv5pUdZAqIhUCvvDVfgjFOyzApW8X2fk1Q")
        #expect(
            jwk.canonicalJSON
                == #"{"crv":"P-256","kty":"EC","x":"UVw9brnjlrkE0_7Kf1T9zQzB6Ze_N13KUVrQpsO0A18","y":"RTa-OlDzGPv5pUdZAqIhUCvvDVfgjFOyzApW8X2fk1Q"}"#
        )
        #expect(try Self.fixedKey().thumbprint == "6UoWwDCkLjV0J-pQG8c0THxbVhBcpR0AZDift1Yl5DM")
    }

    @Test func pemAndDERRoundTripKeepTheKey() throws {
        let key = ACMEAccountKey()
        let fromPEM = try ACMEAccountKey(pemRepresentation: key.pemRepresentation)
        let fromDER = try ACMEAccountKey(derRepresentation: key.derRepresentation)
        #expect(fromPEM.privateKey.rawRepresentation == key.privateKey.rawRepresentation)
        #expect(fromDER.privateKey.rawRepresentation == key.privateKey.rawRepresentation)
        #expect(fromPEM.thumbprint == key.thumbprint)
    }

    @Test func aBrokenKeyFailsWithoutEchoingIt() {
        let garbage = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"
        let error = #expect(throws: ACMEError.self) { try ACMEAccountKey(pemRepresentation: garbage) }
        #expect(error?.code == .invalidKey)
        #expect(error?.description.contains("bm90IGEga2V5") == false)
    }

    @Test func descriptionsNameOnlyTheThumbprint() {
        let key = ACMEAccountKey()
        let text = "\(key)"
        #expect(text.contains(key.thumbprint))
        #expect(!text.contains(Base64URL.encode(key.privateKey.rawRepresentation)))
        #expect(!text.contains(key.pemRepresentation))
    }

    @Test func keyAuthorizationIsTokenDotThumbprint() {
        #expect(
            ACMEHTTP01.keyAuthorization(token: "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", thumbprint: "abc")
                == "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.abc")
    }

    @Test(arguments: [
        ("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", true),
        ("a", true),
        (String(repeating: "A", count: 128), true),
        (String(repeating: "A", count: 129), false),
        ("", false),
        ("abc.def", false),
        ("abc/def", false),
        ("abc%2F", false),
        ("tök", false),
        ("a b", false),
    ])
    func tokensAreBase64URLOfASaneLength(token: String, valid: Bool) {
        #expect(ACMEHTTP01.isValidToken(token) == valid)
    }

    @Test func challengePathsYieldTheirToken() {
        #expect(ACMEHTTP01.token(fromPath: "/.well-known/acme-challenge/abc_-9") == "abc_-9")
        #expect(ACMEHTTP01.token(fromPath: "/.well-known/acme-challenge/abc?x=1") == "abc")
        #expect(ACMEHTTP01.token(fromPath: "/.well-known/acme-challenge/") == nil)
        #expect(ACMEHTTP01.token(fromPath: "/.well-known/acme-challenge/a/b") == nil)
        #expect(ACMEHTTP01.token(fromPath: "/.well-known/acme-challenge/../etc") == nil)
        #expect(ACMEHTTP01.token(fromPath: "/index.html") == nil)
    }
}
