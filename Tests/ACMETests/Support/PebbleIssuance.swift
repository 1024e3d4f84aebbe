import ACME
import AsyncHTTPClient
import Foundation
import Logging
import NIOHTTP1
import SlipwayTestSupport

/// What the test's HTTP-01 responder answers on `/.well-known/acme-challenge/<token>`.
enum HTTP01Answer: Sendable {
    /// `token.thumbprint`, as every Slipway proxy answers.
    case keyAuthorization
    /// A key authorization for another account.
    case wrongKeyAuthorization
    /// 404, as a server that is not Slipway answers.
    case notFound
}

/// A real Pebble whose validation authority reaches a real HTTP-01
/// responder (a ``ScriptedHTTPServer`` on 127.0.0.1 computing
/// ``ACMEHTTP01/keyAuthorization(token:thumbprint:)``), an HTTP client
/// trusting Pebble's API, and a fresh account key.
struct PebbleIssuance: Sendable {
    let pebble: PebbleServer
    let responder: ScriptedHTTPServer
    let httpClient: HTTPClient
    let accountKey: ACMEAccountKey

    /// A client for the account, logging into `logger`.
    func client(logger: Logger = Logger(label: "acme-test"), key: ACMEAccountKey? = nil) -> ACMEClient {
        ACMEClient(
            directoryURL: pebble.directoryURL, accountKey: key ?? accountKey, httpClient: httpClient, logger: logger,
            contact: ["mailto:ops@example.test"])
    }

    /// Runs `body` with a new Pebble (issuing certificates valid for
    /// `validity` seconds, with `environment`) and responder, and stops
    /// both by PID afterwards, whatever happens.
    static func run(
        answer: HTTP01Answer = .keyAuthorization, validity: Int = 3600, environment: [String: String] = [:],
        _ body: (PebbleIssuance) async throws -> Void
    ) async throws {
        let accountKey = ACMEAccountKey()
        let thumbprint = accountKey.thumbprint
        let responder = try await ScriptedHTTPServer.start(
            replies: [],
            fallback: .compute { request in
                guard let token = ACMEHTTP01.token(fromPath: request.uri) else { return .respond(status: .notFound) }
                switch answer {
                case .keyAuthorization:
                    return .respond(
                        status: .ok, headers: [("content-type", "text/plain")],
                        body: ACMEHTTP01.keyAuthorization(token: token, thumbprint: thumbprint))
                case .wrongKeyAuthorization:
                    return .respond(
                        status: .ok,
                        body: ACMEHTTP01.keyAuthorization(token: token, thumbprint: ACMEAccountKey().thumbprint))
                case .notFound:
                    return .respond(status: .notFound, body: "not here")
                }
            })
        let pebble: PebbleServer
        do {
            pebble = try await PebbleServer.start(
                httpPort: responder.port, certificateValidity: validity, environment: environment)
        } catch {
            try? await responder.shutdown()
            throw error
        }
        let httpClient: HTTPClient
        do { httpClient = try pebble.makeHTTPClient() } catch {
            pebble.stop()
            try? await responder.shutdown()
            throw error
        }
        let issuance = PebbleIssuance(
            pebble: pebble, responder: responder, httpClient: httpClient, accountKey: accountKey)
        do {
            try await body(issuance)
        } catch {
            try? await httpClient.shutdown()
            pebble.stop()
            try? await responder.shutdown()
            throw error
        }
        try await httpClient.shutdown()
        pebble.stop()
        try await responder.shutdown()
    }
}
