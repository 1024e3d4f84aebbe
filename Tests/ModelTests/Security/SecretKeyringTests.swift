import Crypto
import Foundation
import Model
import Testing

@Suite struct SecretKeyringTests {
    let first = SecretKeyring.generateKeyText()
    let second = SecretKeyring.generateKeyText()

    @Test func aSealedValueOpensForItsPurposeOnly() throws {
        let ring = try SecretKeyring(parsing: first)
        let sealed = ring.seal("hunter2", purpose: "site/1/env")
        #expect(sealed.hasPrefix("sealed:v1:\(ring.currentKeyID):"))
        #expect(!sealed.contains("hunter2"))
        #expect(try ring.open(sealed, purpose: "site/1/env") == "hunter2")
        #expect(throws: SecretKeyringError.self) { _ = try ring.open(sealed, purpose: "site/2/env") }
        // Two seals of one value differ (fresh nonce).
        #expect(ring.seal("hunter2", purpose: "p") != ring.seal("hunter2", purpose: "p"))
    }

    @Test func anAlteredValueDoesNotOpen() throws {
        let ring = try SecretKeyring(parsing: first)
        var sealed = Array(ring.seal("value", purpose: "p"))
        let last = sealed.count - 2
        sealed[last] = sealed[last] == "A" ? "B" : "A"
        #expect(throws: SecretKeyringError.self) { _ = try ring.open(String(sealed), purpose: "p") }
        #expect(throws: SecretKeyringError.self) { _ = try ring.open("clear text", purpose: "p") }
    }

    @Test func rotationOpensWithTheOldKeyAndSealsWithTheNew() throws {
        let old = try SecretKeyring(parsing: first)
        let overlap = try SecretKeyring(parsing: "\(first),\(second)")
        let rotated = try SecretKeyring(parsing: "\(second), \(first)")
        let new = try SecretKeyring(parsing: second)
        let sealedOld = old.seal("a", purpose: "p")
        #expect(overlap.currentKeyID == old.currentKeyID)
        #expect(try rotated.open(sealedOld, purpose: "p") == "a")
        #expect(rotated.needsSealing(sealedOld) && !rotated.needsSealing(rotated.seal("a", purpose: "p")))
        #expect(rotated.needsSealing("clear"))
        // A node already on the new key opens what a node still on the overlap sealed.
        #expect(try overlap.open(rotated.seal("b", purpose: "p"), purpose: "p") == "b")
        do {
            _ = try new.open(sealedOld, purpose: "p")
            Issue.record("a value sealed by a dropped key opened")
        } catch {
            #expect(error.description.contains(old.currentKeyID))
            #expect(!error.description.contains(first))
        }
    }

    @Test func keysMustBe32BytesOfBase64() throws {
        for bad in ["", " , ", "abc", Data(count: 16).base64EncodedString(), "\(first),nope"] {
            #expect(throws: SecretKeyringError.self, "\(bad)") { _ = try SecretKeyring(parsing: bad) }
        }
        let urlSafe = first.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        #expect(try SecretKeyring(parsing: urlSafe).currentKeyID == SecretKeyring(parsing: first).currentKeyID)
    }

    @Test func derivedKeysDependOnPurposeAndKey() throws {
        let ring = try SecretKeyring(parsing: "\(first),\(second)")
        let cookies = ring.derivedKeys(purpose: "edge-cookie")
        #expect(cookies.count == 2)
        #expect(cookies[0] != cookies[1])
        #expect(cookies[0] != ring.derivedKeys(purpose: "other")[0])
        #expect(cookies[0] == (try SecretKeyring(parsing: first)).derivedKeys(purpose: "edge-cookie")[0])
    }
}
