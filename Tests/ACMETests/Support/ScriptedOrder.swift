import Crypto
import Foundation
import NIOHTTP1
import SlipwayTestSupport
import SwiftASN1
import Synchronization
import X509

@testable import ACME

/// One order on a ``ScriptedACMEServer``, from `newOrder` to the certificate.
enum ScriptedOrder {
    /// A whole order whose authorization is pending twice with `Retry-After`
    /// (3 s, then 7 s), whose order is `processing` once without it, and
    /// whose certificate is `certificate(key)`.
    static func route(
        certificate: @escaping @Sendable (P256.Signing.PublicKey) throws -> String,
        authorizationRetryAfter: String = "3"
    ) -> @Sendable (ScriptedACMEServer.Request, String) -> ScriptedHTTPServer.Reply {
        let counts = Mutex<[String: Int]>([:])
        let csrKey = Mutex<Data?>(nil)
        return { request, base in
            let count = counts.withLock { counts in
                defer { counts[request.path, default: 0] += 1 }
                return counts[request.path, default: 0]
            }
            let challenge: [String: Any] = [
                "type": "http-01", "url": base + "/chall/1", "status": count == 0 ? "pending" : "processing",
                "token": "tok",
            ]
            let authorization: [String: Any] = [
                "identifier": ["type": "dns", "value": "app.example.test"], "challenges": [challenge],
            ]
            func order(_ status: String) -> [String: Any] {
                [
                    "status": status, "identifiers": [["type": "dns", "value": "app.example.test"]],
                    "authorizations": [base + "/authz/1"], "finalize": base + "/order/1/finalize",
                    "certificate": base + "/cert/1",
                ]
            }
            switch request.path {
            case "/order":
                return ScriptedACMEServer.json(
                    order("pending"), status: .created, headers: [("location", base + "/order/1")])
            case "/authz/1":
                switch count {
                case 0: return ScriptedACMEServer.json(authorization.merging(["status": "pending"]) { $1 })
                case 1:
                    return ScriptedACMEServer.json(
                        authorization.merging(["status": "pending"]) { $1 },
                        headers: [("retry-after", authorizationRetryAfter)])
                case 2:
                    return ScriptedACMEServer.json(
                        authorization.merging(["status": "pending"]) { $1 }, headers: [("retry-after", "7")])
                default: return ScriptedACMEServer.json(authorization.merging(["status": "valid"]) { $1 })
                }
            case "/chall/1":
                return ScriptedACMEServer.json(challenge)
            case "/order/1":
                return ScriptedACMEServer.json(order([0: "ready", 1: "processing"][count] ?? "valid"))
            case "/order/1/finalize":
                let csrText = (request.payloadJSON?["csr"] as? String).flatMap(Base64URL.decode) ?? []
                let csr = try? CertificateSigningRequest(derEncoded: csrText)
                csrKey.withLock { $0 = csr.flatMap { P256.Signing.PublicKey($0.publicKey)?.rawRepresentation } }
                return ScriptedACMEServer.json(order("processing"), headers: [("retry-after", "2")])
            case "/cert/1":
                guard let raw = csrKey.withLock({ $0 }), let key = try? P256.Signing.PublicKey(rawRepresentation: raw),
                    let pem = try? certificate(key)
                else {
                    return ScriptedACMEServer.problem(.badRequest, type: "malformed", detail: "no CSR seen")
                }
                return .respond(
                    status: .ok,
                    headers: [
                        ("content-type", "application/pem-certificate-chain"), ("replay-nonce", UUID().uuidString),
                    ],
                    body: pem)
            default:
                return .respond(status: .notFound)
            }
        }
    }

    /// A certificate for `key` standing in for a CA-issued one (self-signed
    /// by a throwaway issuer key: the client checks the key and names only).
    static func issued(for names: [String]) -> @Sendable (P256.Signing.PublicKey) throws -> String {
        { key in
            let issuerKey = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName("scripted issuer") }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(bytes: [0x01, 0x02]),
                publicKey: Certificate.PublicKey(key), notValidBefore: ACMEScriptedServerTests.now,
                notValidAfter: ACMEScriptedServerTests.now.addingTimeInterval(3600),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions { SubjectAlternativeNames(names.map { .dnsName($0) }) },
                issuerPrivateKey: Certificate.PrivateKey(issuerKey))
            return try certificate.serializeAsPEM().pemString + "\n"
        }
    }

}
