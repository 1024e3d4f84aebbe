import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOHTTP1
import SlipwayTestSupport
import Testing

@testable import ACME

/// The client's limits on what a server may do: answer too much, too
/// late, or without a problem document, or keep rejecting nonces.
@Suite("ACME client transport limits")
struct ACMETransportTests {
    /// A client of a server that answers every request with `reply`.
    static func withServer(
        answering reply: ScriptedHTTPServer.Reply, options: ACMEClient.Options = ACMEClient.Options(),
        _ body: (ACMEClient) async throws -> Void
    ) async throws {
        let server = try await ScriptedHTTPServer.start(replies: [], fallback: reply)
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        let client = ACMEClient(
            directoryURL: server.endpoint + "/dir", accountKey: ACMEAccountKey(), httpClient: http,
            logger: Logger(label: "acme-test"), options: options)
        do { try await body(client) } catch {
            try? await http.shutdown()
            try? await server.shutdown()
            throw error
        }
        try await http.shutdown()
        try await server.shutdown()
    }

    @Test func anOversizedAnswerIsRefused() async throws {
        var options = ACMEClient.Options()
        options.maximumResponseBytes = 1024
        try await Self.withServer(
            answering: .respond(status: .ok, body: String(repeating: "x", count: 4096)), options: options
        ) { client in
            let error = await #expect(throws: ACMEError.self) { try await client.directory() }
            #expect(error?.code == .tooLarge)
        }
    }

    @Test func aStalledServerTimesOut() async throws {
        var options = ACMEClient.Options()
        options.requestTimeout = .milliseconds(300)
        try await Self.withServer(answering: .stall, options: options) { client in
            let error = await #expect(throws: ACMEError.self) { try await client.directory() }
            #expect(error?.code == .timeout)
            #expect(error?.isTransient == true)
        }
    }

    @Test func anErrorWithoutAProblemDocumentIsAnUnexpectedStatus() async throws {
        try await Self.withServer(answering: .respond(status: .badGateway, body: "<html>bad gateway</html>")) {
            client in
            let error = await #expect(throws: ACMEError.self) { try await client.directory() }
            #expect(error?.code == .unexpectedStatus)
            #expect(error?.status == 502)
            #expect(error?.isTransient == true)
        }
    }

    @Test func aRedirectIsNotFollowed() async throws {
        try await Self.withServer(
            answering: .respond(status: .found, headers: [("location", "http://127.0.0.1:1/elsewhere")])
        ) { client in
            let error = await #expect(throws: ACMEError.self) { try await client.directory() }
            #expect(error?.code == .unexpectedStatus)
            #expect(error?.status == 302)
        }
    }

    @Test func badNonceRetriesAreBounded() async throws {
        let server = try await ScriptedACMEServer.start { _, _ in
            ScriptedACMEServer.problem(.badRequest, type: "badNonce", detail: "JWS has an invalid anti-replay nonce")
        }
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        var options = ACMEClient.Options()
        options.maximumBadNonceRetries = 4
        let client = ACMEClient(
            directoryURL: server.directoryURL, accountKey: ACMEAccountKey(), httpClient: http,
            logger: Logger(label: "acme-test"), options: options)
        let error = await #expect(throws: ACMEProblem.self) {
            _ = try await client.issueCertificate(for: ["app.example.test"], certificateKey: P256.Signing.PrivateKey())
        }
        #expect(error?.isBadNonce == true)
        #expect(client.badNonceRetries == 4)
        // One first attempt and four retries, each with the nonce the previous refusal carried.
        #expect(server.routed.count == 5)
        #expect(Set(server.routed.compactMap(\.header?.nonce)).count == 5)
        try await http.shutdown()
        try await server.shutdown()
    }
}
