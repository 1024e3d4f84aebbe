import AsyncHTTPClient
import Foundation
import Logging
import Model
import NIOCore
import NIOHTTP1
import SlipwayTestSupport
import Storage
import Synchronization
import Testing

@testable import Admin

/// A live admin server on 127.0.0.1 and a free port, over a real SQLite
/// catalog, in-process bus and disk store in a temporary directory.
struct AdminTestServer: Sendable {
    static let token = "test-token-0123456789abcdef"

    let port: Int
    let catalog: SQLiteCatalog
    let bus: InProcessEventBus
    let store: DiskObjectStore
    let wakes: Counter

    /// Counts calls from the server's hooks.
    final class Counter: Sendable {
        private let value = Mutex(0)
        func increment() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    /// Runs `body` against a fresh server, then stops it and removes its files.
    static func run(
        queue: QueueSettings = QueueSettings(),
        cache: CacheFigures? = nil,
        clock: TestClock? = nil,
        configure: @Sendable (inout AdminConfiguration) -> Void = { _ in },
        _ body: @Sendable (AdminTestServer) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-admin-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bus = InProcessEventBus()
        let catalogClock: CatalogClock
        if let clock { catalogClock = { clock.now } } else { catalogClock = { Date() } }
        let catalog = try SQLiteCatalog(dataDirectory: directory, settings: queue, clock: catalogClock, bus: bus)
        let store = try DiskObjectStore(root: directory + "/objects")
        let wakes = Counter()
        var cacheFigures: (@Sendable () -> CacheFigures)?
        if let cache { cacheFigures = { cache } }
        var services = AdminServices(
            catalog: catalog, bus: bus, store: store, buildsQueued: { wakes.increment() }, runningBuilds: nil,
            cacheFigures: cacheFigures)
        if let clock { services.clock = { clock.now } }
        services.certificateObjects = DomainCertificateObjects(
            store: store, keyring: try SecretKeyring(parsing: SecretKeyring.generateKeyText()))
        var configuration = AdminConfiguration(
            host: "127.0.0.1", port: 0, token: token, maxBodyBytes: 4096, appsDomain: "apps.test", publicPort: 8080,
            keepAliveInterval: .milliseconds(200), logGracePeriod: .milliseconds(500))
        configure(&configuration)
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "slipway.admin.test")
        logger.logLevel = .warning
        let server = AdminServer(configuration: configuration, services: services, logger: logger) { port in
            portSink.yield(port)
            portSink.finish()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw TestFailure("the admin server did not start") }
            let harness = AdminTestServer(port: port, catalog: catalog, bus: bus, store: store, wakes: wakes)
            do {
                try await body(harness)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
        try await catalog.close()
    }

    /// One answer, body collected.
    struct Reply: Sendable {
        let status: Int
        let headers: HTTPHeaders
        let body: String

        /// The body as a JSON object.
        var json: [String: Any] {
            get throws {
                guard let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
                    throw TestFailure("not a JSON object: \(body)")
                }
                return object
            }
        }

        var errorCode: String? { (try? json)?["error"].flatMap { ($0 as? [String: Any])?["code"] as? String } }
        var errorMessage: String? { (try? json)?["error"].flatMap { ($0 as? [String: Any])?["message"] as? String } }
    }

    func request(
        _ method: HTTPMethod, _ path: String, body: String? = nil, token: String? = AdminTestServer.token,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    /// Creates a deployment and returns its slug and first build id.
    func createDeployment(slug: String, env: String = "[]") async throws -> (slug: String, buildID: BuildID) {
        let reply = try await request(
            .POST, "/api/deployments",
            body: #"{"slug": "\#(slug)", "repoUrl": "https://github.com/example/site.git", "env": \#(env)}"#)
        #expect(reply.status == 201, "\(reply.body)")
        let build = try #require(try reply.json["build"] as? [String: Any])
        let text = try #require(build["id"] as? String)
        let id = try #require(BuildID(text))
        return (slug, id)
    }

    /// Acts as the builder: claims the next build and finishes it.
    @discardableResult
    func runNextBuild(succeeding: Bool = true, activate: Bool = true) async throws -> Build {
        let claimed = try #require(try await catalog.claimNextBuild(workerID: "test-worker"))
        let result: BuildResult =
            succeeding
            ? .success(fileCount: 2, bytes: 42) : .failure(message: "npm run build exited with 1", retryable: false)
        let finished = try await catalog.finishBuild(buildID: claimed.id, workerID: "test-worker", result: result)
        if succeeding && activate {
            _ = try await catalog.activate(siteID: finished.siteID, buildID: finished.id, allowOlder: false)
        }
        bus.closeLog(buildID: finished.id)
        return finished
    }
}

/// A clock the tests move by hand: token expiry, last-use throttling, the
/// failed-attempt window and audit retention are tested without sleeping.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    /// Starts on a whole millisecond, the catalog's resolution.
    init(start: Date = Date(timeIntervalSince1970: 1_780_000_000)) {
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(by duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}
