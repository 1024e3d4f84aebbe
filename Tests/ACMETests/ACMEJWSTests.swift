import Crypto
import Foundation
import Testing

@testable import ACME

@Suite("ACME request signatures (JWS, ES256)")
struct ACMEJWSTests {
    struct Parts {
        var header: ACMEJWS.Header
        var protected: String
        var payload: String
        var signature: String
    }

    /// Splits a request body back into its parts, as a CA reads it.
    func parse(_ body: Data) throws -> Parts {
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: String])
        #expect(Set(object.keys) == ["protected", "payload", "signature"])
        let protected = try #require(object["protected"])
        let header = try JSONDecoder().decode(
            ACMEJWS.Header.self, from: Data(try #require(Base64URL.decode(protected))))
        return Parts(
            header: header, protected: protected, payload: try #require(object["payload"]),
            signature: try #require(object["signature"]))
    }

    @Test func newAccountCarriesTheJWKAndNoKid() throws {
        let key = ACMEAccountKey()
        let jws = try ACMEJWS(
            payload: Data(#"{"termsOfServiceAgreed":true}"#.utf8), url: "https://ca.test/new-acct", nonce: "n0nce",
            key: key, signer: .jwk)
        let parts = try parse(try jws.body())
        #expect(parts.header.alg == "ES256")
        #expect(parts.header.nonce == "n0nce")
        #expect(parts.header.url == "https://ca.test/new-acct")
        #expect(parts.header.jwk == key.jwk)
        #expect(parts.header.kid == nil)
        #expect(
            Base64URL.decode(parts.payload).map { String(decoding: $0, as: UTF8.self) }
                == #"{"termsOfServiceAgreed":true}"#)
        // The raw JSON of the header names jwk and not kid at all.
        let headerJSON = String(decoding: try #require(Base64URL.decode(parts.protected)), as: UTF8.self)
        #expect(!headerJSON.contains("kid"))
        #expect(headerJSON.contains(#""url":"https://ca.test/new-acct""#))
    }

    @Test func laterRequestsCarryTheKidAndNoJWK() throws {
        let jws = try ACMEJWS(
            payload: Data("{}".utf8), url: "https://ca.test/chall/1", nonce: "n", key: ACMEAccountKey(),
            signer: .kid("https://ca.test/acct/7"))
        let parts = try parse(try jws.body())
        #expect(parts.header.kid == "https://ca.test/acct/7")
        #expect(parts.header.jwk == nil)
    }

    @Test func postAsGetHasAnEmptyPayload() throws {
        let jws = try ACMEJWS(
            payload: nil, url: "https://ca.test/order/1", nonce: "n", key: ACMEAccountKey(), signer: .kid("a"))
        #expect(jws.payload == "")
        #expect(try parse(try jws.body()).payload == "")
    }

    @Test func theSignatureIsRawRAndSAndVerifies() throws {
        let key = ACMEAccountKey()
        let jws = try ACMEJWS(
            payload: Data(#"{"identifiers":[]}"#.utf8), url: "https://ca.test/new-order", nonce: "abc", key: key,
            signer: .kid("https://ca.test/acct/1"))
        let parts = try parse(try jws.body())
        let signature = try #require(Base64URL.decode(parts.signature))
        #expect(signature.count == 64)
        let ecdsa = try P256.Signing.ECDSASignature(rawRepresentation: signature)
        let signingInput = Data("\(parts.protected).\(parts.payload)".utf8)
        #expect(key.privateKey.publicKey.isValidSignature(ecdsa, for: signingInput))
        #expect(!ACMEAccountKey().privateKey.publicKey.isValidSignature(ecdsa, for: signingInput))
        #expect(!key.privateKey.publicKey.isValidSignature(ecdsa, for: Data("\(parts.protected).e30".utf8)))
    }

    @Test func everyPartIsBase64URLWithoutPadding() throws {
        for _ in 0..<20 {
            let jws = try ACMEJWS(
                payload: Data("{\"a\":\"\u{FF}?>\"}".utf8), url: "https://ca.test/x?y", nonce: "n",
                key: ACMEAccountKey(),
                signer: .jwk)
            for part in [jws.protected, jws.payload, jws.signature] {
                #expect(!part.contains("="))
                #expect(!part.contains("+"))
                #expect(!part.contains("/"))
            }
        }
    }

    @Test func base64URLMatchesRFC4648Vectors() {
        // RFC 4648 §10, in the URL alphabet without padding.
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE"]
        for (text, encoded) in vectors {
            #expect(Base64URL.encode(Array(text.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Array(text.utf8))
        }
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xfb, 0xff])
    }
}
