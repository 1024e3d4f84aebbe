public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// A real ACME certificate authority for tests: Debian's `pebble` (2.4),
/// on 127.0.0.1 with free ports, resolving every name through its own
/// ``ChallTestServer`` (so every A query answers 127.0.0.1 unless a test
/// set other records).
///
/// Pebble's validation authority fetches HTTP-01 challenges from
/// `http://<name>:<httpPort>/.well-known/acme-challenge/<token>`, the port
/// the test chose for its responder; it waits no random delay
/// (`PEBBLE_VA_NOSLEEP=1`). Its API speaks TLS with a certificate made
/// here with `openssl` (``apiCAFile`` is what a client must trust, or use
/// ``makeHTTPClient()``); the issuing root is new at every start
/// (``issuingRoots()``). Pebble 2.4 has no ARI (`renewalInfo`) and no profiles.
///
/// Unchecked: every stored property is set once in `init`; `Process` is
/// only asked whether it runs and killed, which it allows from any thread.
public final class PebbleServer: @unchecked Sendable {
    /// The ACME directory, `https://127.0.0.1:<port>/dir`.
    public let directoryURL: String
    /// The PEM file of the certificate authority of Pebble's API certificate.
    public let apiCAFile: String
    /// The ACME API's port on 127.0.0.1.
    public let port: Int
    /// The management API's port on 127.0.0.1 (`/roots/0`, `/intermediates/0`).
    public let managementPort: Int
    /// The port Pebble validates HTTP-01 challenges on.
    public let httpPort: Int
    /// The mock DNS server Pebble resolves names with.
    public let dns: ChallTestServer
    private let root: String
    private let process: TestProcess

    /// Whether the binary is installed (scripts/test installs the `pebble` package).
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// Whether tests that need it run: when Pebble and its mock DNS are
    /// installed, and always in CI so that a missing package fails there.
    public static var shouldRun: Bool { (isInstalled && ChallTestServer.isInstalled) || TestS3.isCI }

    static let binary = "/usr/bin/pebble"

    private init(
        root: String, apiCAFile: String, port: Int, managementPort: Int, httpPort: Int, dns: ChallTestServer,
        process: TestProcess
    ) {
        self.root = root
        self.apiCAFile = apiCAFile
        self.port = port
        self.managementPort = managementPort
        self.httpPort = httpPort
        self.dns = dns
        self.process = process
        self.directoryURL = "https://127.0.0.1:\(port)/dir"
    }

    deinit { stop() }

    /// Starts a mock DNS server and Pebble, and waits until the directory answers.
    /// - Parameters:
    ///   - httpPort: where Pebble fetches HTTP-01 challenges (the test's responder).
    ///   - certificateValidity: the lifetime of issued certificates, in seconds.
    ///   - environment: more variables for Pebble, e.g. `PEBBLE_WFE_NONCEREJECT=50`.
    /// - Throws: `TestFailure` when `pebble`, `pebble-challtestsrv` or `openssl` is missing or fails.
    public static func start(
        httpPort: Int, certificateValidity: Int = 3600, environment: [String: String] = [:]
    ) async throws -> PebbleServer {
        guard isInstalled else {
            throw TestFailure(
                "\(binary) is missing: run the tests through scripts/test (it installs the pebble package)")
        }
        let dns = try await ChallTestServer.start()
        let root = temporaryDirectory()
        do {
            let apiCAFile = try await GitHTTPServer.makeCertificates(in: root)
            var lastError = ""
            // A free port can be taken between the probe and the start: try a few.
            for _ in 0..<3 {
                let port = try freePort()
                let managementPort = try freePort()
                let config: [String: Any] = [
                    "pebble": [
                        "listenAddress": "127.0.0.1:\(port)", "managementListenAddress": "127.0.0.1:\(managementPort)",
                        "certificate": root + "/server.pem", "privateKey": root + "/server.key",
                        "httpPort": httpPort, "tlsPort": try freePort(), "ocspResponderURL": "",
                        "externalAccountBindingRequired": false, "certificateValidityPeriod": certificateValidity,
                    ] as [String: Any]
                ]
                let configFile = root + "/pebble.json"
                try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configFile))
                let logFile = root + "/pebble.log"
                guard FileManager.default.createFile(atPath: logFile, contents: nil) else {
                    throw TestFailure("cannot create \(logFile)")
                }
                let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
                let process = TestProcess()
                process.executableURL = URL(fileURLWithPath: binary)
                process.arguments = ["-config", configFile, "-dnsserver", dns.dnsAddress, "-strict=false"]
                var variables = ProcessInfo.processInfo.environment
                variables["PEBBLE_VA_NOSLEEP"] = "1"
                variables.merge(environment) { _, new in new }
                process.environment = variables
                process.standardOutput = log
                process.standardError = log
                do { try process.run() } catch { throw TestFailure("cannot start \(binary): \(error)") }
                // The server object is made only once Pebble answers: its
                // deinit removes `root` and stops the DNS server, which a
                // further attempt still needs.
                if try await waitUntilReady(process: process, port: port, apiCAFile: apiCAFile) {
                    return PebbleServer(
                        root: root, apiCAFile: apiCAFile, port: port, managementPort: managementPort,
                        httpPort: httpPort, dns: dns, process: process)
                }
                killIfRunning(process)
                try await onOwnThread { process.waitUntilExit() }
                lastError = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            }
            throw TestFailure("pebble did not start: \(lastError.suffix(2000))")
        } catch {
            dns.stop()
            try? FileManager.default.removeItem(atPath: root)
            throw error
        }
    }

    /// An HTTP client that trusts Pebble's API certificate, with redirects
    /// off as ACME clients need. Shut it down when done.
    public func makeHTTPClient() throws -> HTTPClient {
        try Self.makeHTTPClient(apiCAFile: apiCAFile)
    }

    private static func makeHTTPClient(apiCAFile: String) throws -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(apiCAFile))
        configuration.tlsConfiguration = tls
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// The PEM of the root that issues certificates (`/roots/0` of the
    /// management API): what an issued chain verifies against.
    public func issuingRoots() async throws -> String {
        try await management("/roots/0")
    }

    /// The PEM of the intermediate that signs leaves (`/intermediates/0`).
    public func issuingIntermediates() async throws -> String {
        try await management("/intermediates/0")
    }

    /// Stops Pebble and its DNS server (SIGKILL to the processes started) and removes its files.
    public func stop() {
        killIfRunning(process)
        dns.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Polls the directory until it answers 200 (true), Pebble exits or
    /// 90 s pass (false; a loaded machine can take tens of seconds to start it).
    private static func waitUntilReady(process: TestProcess, port: Int, apiCAFile: String) async throws -> Bool {
        let client = try makeHTTPClient(apiCAFile: apiCAFile)
        let directoryURL = "https://127.0.0.1:\(port)/dir"
        let deadline = ContinuousClock.now + .seconds(90)
        var ready = false
        while !ready && process.isRunning && ContinuousClock.now < deadline {
            let response = try? await client.execute(HTTPClientRequest(url: directoryURL), timeout: .seconds(2))
            ready = response?.status == .ok
            if !ready { try? await Task.sleep(for: .milliseconds(20)) }
        }
        try await client.shutdown()
        return ready
    }

    private func management(_ path: String) async throws -> String {
        let client = try makeHTTPClient()
        do {
            let url = "https://127.0.0.1:\(managementPort)\(path)"
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            guard response.status == .ok else { throw TestFailure("pebble \(path) answered \(response.status)") }
            return String(buffer: body)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
