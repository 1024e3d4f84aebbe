import Foundation

/// A real mock DNS server for tests: Debian's `pebble-challtestsrv`,
/// started on 127.0.0.1 with free ports and its HTTP, HTTPS and TLS-ALPN
/// responders off. Every A query it is asked answers 127.0.0.1 unless a
/// test set other records; TXT, A, AAAA, CNAME and CAA records and SERVFAIL
/// answers are set through its management API (``setTXT(_:_:)`` and the
/// rest). It is the resolver custom-domain checks and Pebble's validation
/// authority query in tests.
///
/// Unchecked: every stored property is set once in `init`; `Process` is
/// only asked whether it runs and killed, which it allows from any thread.
public final class ChallTestServer: @unchecked Sendable {
    /// The UDP and TCP port of its DNS server, on 127.0.0.1.
    public let dnsPort: Int
    /// The port of its management API, on 127.0.0.1.
    public let managementPort: Int
    private let process: TestProcess

    /// `127.0.0.1:<dnsPort>`, as resolvers are configured.
    public var dnsAddress: String { "127.0.0.1:\(dnsPort)" }

    /// Whether the binary is installed (scripts/test installs the `pebble` package).
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// Whether tests that need it run: when installed, and always in CI so
    /// that a missing package fails there.
    public static var shouldRun: Bool { isInstalled || TestS3.isCI }

    static let binary = "/usr/bin/pebble-challtestsrv"

    private init(dnsPort: Int, managementPort: Int, process: TestProcess) {
        self.dnsPort = dnsPort
        self.managementPort = managementPort
        self.process = process
    }

    deinit { stop() }

    /// Starts a server and waits until its management API answers.
    /// - Throws: `TestFailure` when the binary is missing or does not start.
    public static func start() async throws -> ChallTestServer {
        guard isInstalled else {
            throw TestFailure(
                "\(binary) is missing: run the tests through scripts/test (it installs the pebble package)")
        }
        var lastError = ""
        // A free port can be taken between the probe and the start: try a few.
        for _ in 0..<3 {
            let dnsPort = try freePort()
            let managementPort = try freePort()
            let process = TestProcess()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "-dns01", "127.0.0.1:\(dnsPort)", "-http01", "", "-https01", "", "-tlsalpn01", "",
                "-management", "127.0.0.1:\(managementPort)", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            ]
            // Its log goes to a file, not a pipe: it logs every record a test
            // sets, and a pipe nobody reads would block it once full.
            let logPath = FileManager.default.temporaryDirectory
                .appendingPathComponent("challtestsrv-\(dnsPort)-\(UUID().uuidString).log").path
            guard FileManager.default.createFile(atPath: logPath, contents: nil),
                let output = FileHandle(forWritingAtPath: logPath)
            else { throw TestFailure("cannot create \(logPath)") }
            defer {
                try? output.close()
                try? FileManager.default.removeItem(atPath: logPath)
            }
            process.standardOutput = output
            process.standardError = output
            do { try process.run() } catch { throw TestFailure("cannot start \(binary): \(error)") }
            let server = ChallTestServer(dnsPort: dnsPort, managementPort: managementPort, process: process)
            let deadline = ContinuousClock.now + .seconds(90)
            while process.isRunning && ContinuousClock.now < deadline {
                if (try? await server.post("clear-txt", ["host": "probe.slipway.test."])) != nil { return server }
                try await Task.sleep(for: .milliseconds(20))
            }
            server.stop()
            lastError = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        }
        throw TestFailure("pebble-challtestsrv did not start: \(lastError)")
    }

    /// Sets the TXT record of `host` (a trailing dot is added when missing).
    public func setTXT(_ host: String, _ value: String) async throws {
        try await post("set-txt", ["host": Self.fqdn(host), "value": value])
    }

    /// Removes the TXT record of `host`.
    public func clearTXT(_ host: String) async throws {
        try await post("clear-txt", ["host": Self.fqdn(host)])
    }

    /// Answers A queries for `host` with `addresses`.
    public func addA(_ host: String, _ addresses: [String]) async throws {
        try await post("add-a", ["host": Self.fqdn(host), "addresses": addresses])
    }

    /// Forgets the A records set for `host` (the default address answers again).
    public func clearA(_ host: String) async throws {
        try await post("clear-a", ["host": Self.fqdn(host)])
    }

    /// Answers AAAA queries for `host` with `addresses`.
    public func addAAAA(_ host: String, _ addresses: [String]) async throws {
        try await post("add-aaaa", ["host": Self.fqdn(host), "addresses": addresses])
    }

    /// Makes `host` a CNAME of `target`.
    public func setCNAME(_ host: String, _ target: String) async throws {
        try await post("set-cname", ["host": Self.fqdn(host), "target": Self.fqdn(target)])
    }

    /// Answers CAA queries for `host` with one `issue` record naming `issuer`.
    public func addCAA(_ host: String, issuer: String) async throws {
        try await post("add-caa", ["host": Self.fqdn(host), "policies": [["tag": "issue", "value": issuer]]])
    }

    /// Makes every query for `host` answer SERVFAIL.
    public func setServfail(_ host: String) async throws {
        try await post("set-servfail", ["host": Self.fqdn(host)])
    }

    /// Stops the server (SIGKILL to the process it started).
    public func stop() {
        killIfRunning(process)
    }

    static func fqdn(_ host: String) -> String { host.hasSuffix(".") ? host : host + "." }

    /// POSTs `body` as JSON to the management API's `path`; throws unless it answers 200.
    private func post(_ path: String, _ body: [String: Any]) async throws {
        let json = try JSONSerialization.data(withJSONObject: body)
        let (status, text) = try await Self.post(
            host: "127.0.0.1", port: managementPort, path: "/" + path, body: json)
        guard status == 200 else { throw TestFailure("challtestsrv /\(path) answered \(status): \(text)") }
    }

    /// One HTTP/1.1 POST over a fresh connection; the status and body.
    static func post(host: String, port: Int, path: String, body: Data) async throws -> (Int, String) {
        let request =
            "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let connection = try await RawConnection.connect(port: port)
        defer { connection.close() }
        try await connection.send(Array(request.utf8) + Array(body))
        let text = String(decoding: try await connection.readUntilClosed().bytes, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n", maxSplits: 1).first,
            let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { throw TestFailure("challtestsrv answered no HTTP response: \(text)") }
        let bodyText = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, bodyText)
    }
}
