import ACME
import Crypto
import Foundation
import SlipwayTestSupport
import SwiftASN1
import Testing
import X509

/// Issuance against a real CA: Debian's Pebble, one per test, validating
/// HTTP-01 against a real responder on 127.0.0.1.
@Suite(
    "ACME issuance against Pebble",
    .enabled(if: PebbleServer.shouldRun, "needs pebble (scripts/test installs it)"))
struct ACMEIssuanceTests {
    @Test func issuesACertificateThatVerifiesAgainstPebblesRoot() async throws {
        try await PebbleIssuance.run(validity: 3600) { setup in
            let client = setup.client()
            let key = P256.Signing.PrivateKey()
            let issued = try await client.issueCertificate(for: ["App.Example.Test"], certificateKey: key)

            #expect(issued.certificates.count >= 2)
            #expect(issued.leaf.publicKey == Certificate.PublicKey(key.publicKey))
            let names = try #require(try issued.leaf.extensions.subjectAlternativeNames)
            #expect(Array(names) == [.dnsName("app.example.test")])
            // Pebble's notAfter is notBefore + validity - 1 s.
            #expect(abs(issued.notAfter.timeIntervalSince(issued.notBefore) - 3600) <= 1)
            #expect(!issued.serialNumber.isEmpty)
            #expect(issued.renewalIdentifier?.contains(".") == true)
            #expect(issued.chainPEM.hasPrefix("-----BEGIN CERTIFICATE-----"))

            let roots = try PEMDocument.parseMultiple(pemString: try await setup.pebble.issuingRoots())
                .map { try Certificate(pemDocument: $0) }
            var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
                RFC5280Policy()
                ServerIdentityPolicy(serverHostname: "app.example.test", serverIP: nil)
            }
            let result = await verifier.validate(
                leaf: issued.leaf, intermediates: CertificateStore(Array(issued.certificates.dropFirst())))
            guard case .validCertificate(let chain) = result else {
                Issue.record("the chain does not verify against Pebble's root: \(result)")
                return
            }
            #expect(chain.last == roots.first)

            // Another host name is not covered by the chain.
            var otherName = Verifier(rootCertificates: CertificateStore(roots)) {
                RFC5280Policy()
                ServerIdentityPolicy(serverHostname: "other.example.test", serverIP: nil)
            }
            let other = await otherName.validate(
                leaf: issued.leaf, intermediates: CertificateStore(Array(issued.certificates.dropFirst())))
            guard case .couldNotValidate = other else {
                Issue.record("the certificate verified for a name it does not carry")
                return
            }
        }
    }

    @Test func issuesDespiteRejectedNonces() async throws {
        try await PebbleIssuance.run(environment: ["PEBBLE_WFE_NONCEREJECT": "50"]) { setup in
            let client = setup.client()
            let issued = try await client.issueCertificate(
                for: ["app.example.test", "www.example.test"], certificateKey: P256.Signing.PrivateKey())
            let names = try #require(try issued.leaf.extensions.subjectAlternativeNames)
            #expect(Set(names) == [.dnsName("app.example.test"), .dnsName("www.example.test")])
            // Half of all nonces are rejected: over a dozen signed requests at
            // least one retry is all but certain; a few more registrations
            // make it certain without depending on luck.
            var registrations = 0
            while client.badNonceRetries == 0 && registrations < 40 {
                _ = try await client.registerAccount()
                registrations += 1
            }
            #expect(client.badNonceRetries > 0)
        }
    }

    @Test func aWrongKeyAuthorizationFailsWithPebblesProblem() async throws {
        try await PebbleIssuance.run(answer: .wrongKeyAuthorization) { setup in
            let client = setup.client()
            let error = await #expect(throws: ACMEProblem.self) {
                _ = try await client.issueCertificate(
                    for: ["bad.example.test"], certificateKey: P256.Signing.PrivateKey())
            }
            let problem = try #require(error)
            #expect(problem.type == "urn:ietf:params:acme:error:unauthorized")
            #expect(problem.identifier == "bad.example.test")
            #expect(problem.isValidationFailure)
            #expect(!problem.detail.isEmpty)
            #expect(problem.userMessage.contains("port 80"))
            #expect(problem.userMessage.contains(problem.detail))
            #expect(problem.userMessage.contains("'bad.example.test'"))
            #expect(problem.userMessage.contains("http://bad.example.test/.well-known/acme-challenge/"))
        }
    }

    @Test func aMissingChallengeAnswerFailsWithTheStatusPebbleSaw() async throws {
        try await PebbleIssuance.run(answer: .notFound) { setup in
            let error = await #expect(throws: ACMEProblem.self) {
                _ = try await setup.client().issueCertificate(
                    for: ["missing.example.test"], certificateKey: P256.Signing.PrivateKey())
            }
            let problem = try #require(error)
            #expect(problem.name == "unauthorized")
            #expect(problem.detail.contains("404"))
            #expect(problem.detail.contains("/.well-known/acme-challenge/"))
        }
    }

    @Test func registeringTwiceWithTheSameKeyFindsTheSameAccount() async throws {
        try await PebbleIssuance.run { setup in
            let first = try await setup.client().registerAccount()
            #expect(first.created)
            #expect(first.status == "valid")
            // A new client with the same key (a restart, another node) finds it again.
            let again = try await setup.client().registerAccount()
            #expect(again.url == first.url)
            #expect(!again.created)
            let otherKey = try await setup.client(key: ACMEAccountKey()).registerAccount()
            #expect(otherKey.url != first.url)
        }
    }

    @Test func renewingAtACAWithoutARIWorksAndSkipsRenewalInformation() async throws {
        try await PebbleIssuance.run { setup in
            let client = setup.client()
            let key = P256.Signing.PrivateKey()
            let first = try await client.issueCertificate(for: ["app.example.test"], certificateKey: key)
            // Pebble 2.4's directory has no renewalInfo: no ARI, and no `replaces` in the order.
            let error = await #expect(throws: ACMEError.self) { try await client.renewalInfo(for: first.leaf) }
            #expect(error?.code == .unsupported)
            let renewed = try await client.issueCertificate(
                for: ["app.example.test"], certificateKey: key, replacing: first.renewalIdentifier)
            #expect(renewed.serialNumber != first.serialNumber)
            #expect(renewed.leaf.publicKey == first.leaf.publicKey)
        }
    }

    @Test func aKeyLoadedFromItsPEMSignsForTheSameAccount() async throws {
        try await PebbleIssuance.run { setup in
            let first = try await setup.client().registerAccount()
            let reloaded = try ACMEAccountKey(pemRepresentation: setup.accountKey.pemRepresentation)
            let again = try await setup.client(key: reloaded).registerAccount()
            #expect(again.url == first.url)
        }
    }

    @Test func hostnamesThatCannotBeOrderedAreRefusedBeforeAnyRequest() async throws {
        try await PebbleIssuance.run { setup in
            let client = setup.client()
            for names in [[], ["*.example.test"], ["under_score.example.test"], ["localhost"], ["-a.example.test"]] {
                let error = await #expect(throws: ACMEError.self) {
                    _ = try await client.issueCertificate(for: names, certificateKey: P256.Signing.PrivateKey())
                }
                #expect(error?.code == .invalidArgument)
            }
            #expect(client.accountURL == nil)
        }
    }
}
