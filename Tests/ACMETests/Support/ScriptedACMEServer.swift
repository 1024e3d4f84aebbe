import Foundation
import NIOHTTP1
import SlipwayTestSupport
import Synchronization

@testable import ACME

/// A scripted ACME server over plain HTTP on 127.0.0.1, for what Pebble
/// 2.4 cannot do: ARI (`renewalInfo`), `replaces`, `Retry-After` on polls,
/// and answers a real CA would never give. It serves the directory (with
/// `renewalInfo`), nonces and accounts itself; every other request goes to
/// the test's `route`, which sees the method, the path and the decoded JWS.
final class ScriptedACMEServer: Sendable {
    /// A request as the route sees it.
    struct Request: Sendable {
        var method: HTTPMethod
        var path: String
        var header: ACMEJWS.Header?
        /// The JWS payload's bytes; empty for POST-as-GET and GET.
        var payload: [UInt8]
        var payloadJSON: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any]
        }
    }

    let server: ScriptedHTTPServer
    private let seen = Mutex<[Request]>([])

    var base: String { server.endpoint }
    var directoryURL: String { base + "/dir" }
    /// Every request after the directory, nonces and accounts.
    var routed: [Request] { seen.withLock { $0 } }

    private init(server: ScriptedHTTPServer) { self.server = server }

    static func start(
        route: @escaping @Sendable (Request, _ base: String) -> ScriptedHTTPServer.Reply
    ) async throws -> ScriptedACMEServer {
        let box = Mutex<ScriptedACMEServer?>(nil)
        let server = try await ScriptedHTTPServer.start(
            replies: [],
            fallback: .compute { recorded in
                guard let acme = box.withLock({ $0 }) else { return .respond(status: .serviceUnavailable) }
                return acme.answer(recorded, route: route)
            })
        let acme = ScriptedACMEServer(server: server)
        box.withLock { $0 = acme }
        return acme
    }

    func shutdown() async throws { try await server.shutdown() }

    static func json(_ object: [String: Any], status: HTTPResponseStatus = .ok, headers: [(String, String)] = [])
        -> ScriptedHTTPServer.Reply
    {
        let body = (try? JSONSerialization.data(withJSONObject: object)).map { String(decoding: $0, as: UTF8.self) }
        return .respond(
            status: status,
            headers: [("content-type", "application/json"), ("replay-nonce", UUID().uuidString)] + headers,
            body: body ?? "{}")
    }

    static func problem(_ status: HTTPResponseStatus, type: String, detail: String) -> ScriptedHTTPServer.Reply {
        .respond(
            status: status,
            headers: [("content-type", "application/problem+json"), ("replay-nonce", UUID().uuidString)],
            body: #"{"type":"urn:ietf:params:acme:error:\#(type)","detail":"\#(detail)","status":\#(status.code)}"#)
    }

    private func answer(
        _ recorded: ScriptedHTTPServer.Recorded, route: (Request, String) -> ScriptedHTTPServer.Reply
    ) -> ScriptedHTTPServer.Reply {
        let base = self.base
        switch (recorded.method, recorded.uri) {
        case (.GET, "/dir"):
            return Self.json([
                "newNonce": base + "/nonce", "newAccount": base + "/account", "newOrder": base + "/order",
                "renewalInfo": base + "/renewal-info", "meta": ["caaIdentities": ["scripted.test"]],
            ])
        case (.HEAD, "/nonce"):
            return .respond(status: .ok, headers: [("replay-nonce", UUID().uuidString)])
        case (.POST, "/account"):
            return Self.json(["status": "valid"], status: .created, headers: [("location", base + "/acct/1")])
        default:
            var request = Request(method: recorded.method, path: recorded.uri, header: nil, payload: [])
            if let object = try? JSONSerialization.jsonObject(with: Data(recorded.body)) as? [String: String],
                let protected = object["protected"].flatMap(Base64URL.decode),
                let payload = object["payload"].flatMap(Base64URL.decode)
            {
                request.header = try? JSONDecoder().decode(ACMEJWS.Header.self, from: Data(protected))
                request.payload = payload
            }
            seen.withLock { $0.append(request) }
            return route(request, base)
        }
    }
}

/// A clock whose sleeps return at once and are recorded: polling waits are
/// checked without waiting.
final class RecordingClock: Clock, Sendable {
    typealias Duration = Swift.Duration
    typealias Instant = ContinuousClock.Instant

    private let state: Mutex<(now: Instant, sleeps: [Duration])>

    init() { state = Mutex((ContinuousClock.now, [])) }

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }
    var sleeps: [Duration] { state.withLock { $0.sleeps } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        state.withLock { state in
            state.sleeps.append(deadline - state.now)
            state.now = max(state.now, deadline)
        }
    }
}
