import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOHTTP1
import SlipwayTestSupport
import SwiftASN1
import Synchronization
import Testing
import X509

@testable import ACME

/// What Pebble 2.4 cannot show, against a scripted ACME server: ARI
/// (RFC 9773), `replaces`, `Retry-After` on polls, the polling budget, and
/// the client's limits on slow or oversized answers.
@Suite("ACME client against a scripted server")
struct ACMEScriptedServerTests {
    /// RFC 9773 §4.1's example: this authority key identifier and serial
    /// number give the certificate identifier `aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE`.
    static let exampleKeyIdentifier: [UInt8] = [
        0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01,
        0xC8,
        0xD4,
    ]
    static let exampleIdentifier = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A certificate for `names` with `key`, serial 0x87654321 and the RFC's key identifier.
    static func certificate(
        for names: [String], key: P256.Signing.PrivateKey, keyIdentifier: [UInt8]? = exampleKeyIdentifier
    ) throws -> Certificate {
        let name = try DistinguishedName { CommonName(names[0]) }
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames(names.map { .dnsName($0) })
            if let keyIdentifier { AuthorityKeyIdentifier(keyIdentifier: keyIdentifier[...]) }
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: [0x87, 0x65, 0x43, 0x21]),
            publicKey: Certificate.PublicKey(key.publicKey), notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(86_400), issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(key))
    }

    static func withServer(
        options: ACMEClient.Options = ACMEClient.Options(), clock: RecordingClock = RecordingClock(),
        route: @escaping @Sendable (ScriptedACMEServer.Request, String) -> ScriptedHTTPServer.Reply,
        _ body: (ScriptedACMEServer, ACMEClient) async throws -> Void
    ) async throws {
        let server = try await ScriptedACMEServer.start(route: route)
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        let client = ACMEClient(
            directoryURL: server.directoryURL, accountKey: ACMEAccountKey(), httpClient: http,
            logger: Logger(label: "acme-test"), options: options, clock: clock, now: { Self.now })
        do { try await body(server, client) } catch {
            try? await http.shutdown()
            try? await server.shutdown()
            throw error
        }
        try await http.shutdown()
        try await server.shutdown()
    }

    @Test func certificateIdentifierFollowsRFC9773() throws {
        let certificate = try Self.certificate(for: ["app.example.test"], key: P256.Signing.PrivateKey())
        #expect(try ACMERenewalInfo.certificateIdentifier(for: certificate) == Self.exampleIdentifier)
        let withoutAKI = try Self.certificate(
            for: ["app.example.test"], key: P256.Signing.PrivateKey(), keyIdentifier: nil)
        let error = #expect(throws: ACMEError.self) { try ACMERenewalInfo.certificateIdentifier(for: withoutAKI) }
        #expect(error?.code == .invalidArgument)
    }

    @Test func renewalInfoAsksForTheCertificateAndParsesTheWindow() async throws {
        try await Self.withServer(route: { request, _ in
            guard request.method == .GET, request.path == "/renewal-info/" + Self.exampleIdentifier else {
                return .respond(status: .notFound)
            }
            return ScriptedACMEServer.json(
                [
                    "suggestedWindow": ["start": "2027-01-02T04:00:00Z", "end": "2027-01-03T04:00:00.5Z"],
                    "explanationURL": "https://ca.example/incident",
                ], headers: [("retry-after", "21600")])
        }) { server, client in
            let certificate = try Self.certificate(for: ["app.example.test"], key: P256.Signing.PrivateKey())
            let info = try await client.renewalInfo(for: certificate)
            #expect(info.suggestedWindow.start == Date(timeIntervalSince1970: 1_798_862_400))
            #expect(info.suggestedWindow.end == Date(timeIntervalSince1970: 1_798_948_800.5))
            #expect(info.explanationURL == "https://ca.example/incident")
            #expect(info.retryAfter == Self.now.addingTimeInterval(21_600))
            #expect(server.routed.map(\.path) == ["/renewal-info/" + Self.exampleIdentifier])
            // ARI is an unauthenticated GET: no JWS, no account.
            #expect(server.routed.first?.method == .GET)
            #expect(server.server.requests.contains { $0.uri == "/account" } == false)
        }
    }

    @Test func aWindowEndingBeforeItStartsIsRefused() async throws {
        try await Self.withServer(route: { _, _ in
            ScriptedACMEServer.json([
                "suggestedWindow": ["start": "2027-01-03T00:00:00Z", "end": "2027-01-02T00:00:00Z"]
            ])
        }) { _, client in
            let certificate = try Self.certificate(for: ["app.example.test"], key: P256.Signing.PrivateKey())
            let error = await #expect(throws: ACMEError.self) { try await client.renewalInfo(for: certificate) }
            #expect(error?.code == .invalidResponse)
        }
    }

    @Test func aRenewalOrderSaysWhichCertificateItReplaces() async throws {
        try await Self.withServer(route: { request, _ in
            ScriptedACMEServer.problem(.forbidden, type: "rejectedIdentifier", detail: "no orders today")
        }) { server, client in
            let error = await #expect(throws: ACMEProblem.self) {
                _ = try await client.issueCertificate(
                    for: ["app.example.test"], certificateKey: P256.Signing.PrivateKey(),
                    replacing: Self.exampleIdentifier)
            }
            #expect(error?.name == "rejectedIdentifier")
            #expect(error?.status == 403)
            #expect(error?.certificateAuthority == "scripted.test")
            let order = try #require(server.routed.first)
            #expect(order.path == "/order")
            #expect(order.payloadJSON?["replaces"] as? String == Self.exampleIdentifier)
            let identifiers = order.payloadJSON?["identifiers"] as? [[String: String]]
            #expect(identifiers == [["type": "dns", "value": "app.example.test"]])
            #expect(order.header?.kid == server.base + "/acct/1")
            #expect(order.header?.jwk == nil)
            #expect(order.header?.url == server.base + "/order")
        }
    }

    @Test func aFirstOrderReplacesNothing() async throws {
        try await Self.withServer(route: { _, _ in
            ScriptedACMEServer.problem(.forbidden, type: "rejectedIdentifier", detail: "no")
        }) { server, client in
            _ = try? await client.issueCertificate(for: ["app.example.test"], certificateKey: P256.Signing.PrivateKey())
            let order = try #require(server.routed.first)
            #expect(order.payloadJSON?.keys.contains("replaces") == false)
        }
    }

    @Test func pollingWaitsAsRetryAfterAsksAndBacksOffWithoutIt() async throws {
        let clock = RecordingClock()
        try await Self.withServer(
            clock: clock, route: ScriptedOrder.route(certificate: ScriptedOrder.issued(for: ["app.example.test"]))
        ) { server, client in
            let key = P256.Signing.PrivateKey()
            let issued = try await client.issueCertificate(for: ["app.example.test"], certificateKey: key)
            #expect(issued.leaf.publicKey == Certificate.PublicKey(key.publicKey))
            #expect(issued.serialNumber == "0102")
            #expect(issued.renewalIdentifier == nil)
            #expect(issued.orderURL == server.base + "/order/1")
            // 3 s and 7 s as the authorization asked, then the first default interval for the order.
            #expect(clock.sleeps == [.seconds(3), .seconds(7), client.options.pollInterval])
            let paths = server.routed.map(\.path)
            #expect(
                paths == [
                    "/order", "/authz/1", "/chall/1", "/authz/1", "/authz/1", "/authz/1", "/order/1",
                    "/order/1/finalize", "/order/1", "/order/1", "/cert/1",
                ])
            let challengePost = try #require(server.routed.first { $0.path == "/chall/1" })
            #expect(challengePost.payload == Array("{}".utf8))
            let poll = try #require(server.routed.first { $0.path == "/authz/1" })
            #expect(poll.payload.isEmpty)
        }
    }

    @Test func aRetryAfterBeyondThePollingBudgetFailsWithoutWaiting() async throws {
        let clock = RecordingClock()
        var options = ACMEClient.Options()
        options.pollingBudget = .seconds(60)
        try await Self.withServer(
            options: options, clock: clock,
            route: ScriptedOrder.route(
                certificate: ScriptedOrder.issued(for: ["app.example.test"]), authorizationRetryAfter: "3600")
        ) { _, client in
            let error = await #expect(throws: ACMEError.self) {
                _ = try await client.issueCertificate(
                    for: ["app.example.test"], certificateKey: P256.Signing.PrivateKey())
            }
            #expect(error?.code == .pollingTimedOut)
            #expect(error?.isTransient == true)
            #expect(clock.sleeps.isEmpty)
        }
    }

    @Test func aCertificateForAnotherKeyIsRefused() async throws {
        let foreign = P256.Signing.PrivateKey().publicKey.rawRepresentation
        try await Self.withServer(
            route: ScriptedOrder.route(certificate: { _ in
                try ScriptedOrder.issued(for: ["app.example.test"])(P256.Signing.PublicKey(rawRepresentation: foreign))
            })
        ) { _, client in
            let error = await #expect(throws: ACMEError.self) {
                _ = try await client.issueCertificate(
                    for: ["app.example.test"], certificateKey: P256.Signing.PrivateKey())
            }
            #expect(error?.code == .certificateMismatch)
        }
    }

    @Test func aCertificateMissingANameIsRefused() async throws {
        try await Self.withServer(
            route: ScriptedOrder.route(certificate: ScriptedOrder.issued(for: ["other.example.test"]))
        ) {
            _, client in
            let error = await #expect(throws: ACMEError.self) {
                _ = try await client.issueCertificate(
                    for: ["app.example.test"], certificateKey: P256.Signing.PrivateKey())
            }
            #expect(error?.code == .certificateMismatch)
            #expect(error?.message.contains("app.example.test") == true)
        }
    }
}

@Suite("ARI certificate identifiers")
struct ACMECertificateIdentifierTests {
    @Test(
        arguments: [
            ([0x87, 0x65, 0x43, 0x21], [0x00, 0x87, 0x65, 0x43, 0x21]),
            ([0x00, 0x87, 0x65, 0x43, 0x21], [0x00, 0x87, 0x65, 0x43, 0x21]),
            ([0x00, 0x00, 0x12], [0x12]),
            ([0x7f, 0xff], [0x7f, 0xff]),
            ([], [0x00]),
        ] as [([UInt8], [UInt8])])
    func serialsAreDERIntegerContent(magnitude: [UInt8], content: [UInt8]) {
        #expect(ACMERenewalInfo.derIntegerContent(magnitude) == content)
    }
}
