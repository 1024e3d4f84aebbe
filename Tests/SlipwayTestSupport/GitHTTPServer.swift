import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real git host for tests: bare repositories served over HTTPS with
/// git's smart HTTP protocol, behind HTTP Basic authentication with one
/// access token.
///
/// `Tests/git-host/git-http-server.py` answers on 127.0.0.1, port 0,
/// with TLS from a certificate authority made for the server with the
/// `openssl` command (``caFile`` is what a client must trust), and runs
/// `git http-backend` as CGI for every request carrying the token as its
/// Basic password; others get 401 with a challenge, as a git host answers.
/// Shallow clones (`--depth 1`) work, as they need the smart protocol.
///
/// Unchecked: every stored property is set once in `init`; `Process` is
/// only asked whether it runs and killed, which it allows from any thread.
public final class GitHTTPServer: @unchecked Sendable {
    /// The PEM file of the certificate authority that signed the server's certificate.
    public let caFile: String
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    private let root: String
    private let process: TestProcess
    private let requests: RequestLog

    /// A request the server received: method, path and the Basic user
    /// name it accepted (nil when it answered 401).
    public struct Request: Sendable, Hashable {
        public var method: String
        public var path: String
        public var user: String?
    }

    private final class RequestLog: @unchecked Sendable {
        // Appended from the pipe's handler, read by the test; guarded by the lock.
        private let lock = NSLock()
        private var pending = Data()
        private var lines: [String] = []
        func append(_ data: Data) {
            lock.withLock {
                pending.append(data)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
        }
        var all: [String] { lock.withLock { lines } }
    }

    private init(root: String, caFile: String, port: Int, process: TestProcess, requests: RequestLog) {
        self.root = root
        self.caFile = caFile
        self.port = port
        self.process = process
        self.requests = requests
    }

    deinit { stop() }

    /// Starts a server accepting `token` as the password of any user.
    /// - Throws: `TestFailure` when `openssl`, `python3` or `git` is missing or fails.
    public static func start(token: String) async throws -> GitHTTPServer {
        let root = temporaryDirectory()
        let repositories = root + "/repositories"
        try FileManager.default.createDirectory(atPath: repositories, withIntermediateDirectories: true)
        let caFile = try await makeCertificates(in: root)
        // The token goes in a file only the server reads, not on its command line.
        let tokenFile = root + "/token"
        guard
            FileManager.default.createFile(
                atPath: tokenFile, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        else { throw TestFailure("cannot write \(tokenFile)") }

        let process = TestProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", script, repositories, root + "/server.pem", root + "/server.key", tokenFile,
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let requests = RequestLog()
        output.fileHandleForReading.readabilityHandler = { requests.append($0.availableData) }
        do { try process.run() } catch {
            throw TestFailure("cannot start python3 for the test git server: \(error); install python3")
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let line = requests.all.first, line.hasPrefix("port "), let port = Int(line.dropFirst(5)) {
                return GitHTTPServer(root: root, caFile: caFile, port: port, process: process, requests: requests)
            }
            guard process.isRunning, ContinuousClock.now < deadline else {
                killIfRunning(process)
                let stderr = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
                throw TestFailure("the test git server did not start: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// `Tests/git-host/git-http-server.py` (outside every target, so that
    /// SwiftPM has no file of unknown kind in one).
    static var script: String {
        SlipwayProcess.repositoryRoot.appendingPathComponent("Tests/git-host/git-http-server.py").path
    }

    /// Serves the repository at `path` (a work tree or a bare repository)
    /// as `<name>.git`; its https URL.
    public func serve(_ path: String, as name: String) throws -> String {
        try Self.run("git", ["clone", "--quiet", "--bare", "--", path, root + "/repositories/\(name).git"], in: root)
        return url(name)
    }

    /// The URL of repository `name` on this server.
    public func url(_ name: String) -> String { "https://127.0.0.1:\(port)/\(name).git" }

    /// Every request answered so far, in order.
    public var received: [Request] {
        requests.all.compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
            guard parts.count == 4, parts[0] == "request", parts[3].hasPrefix("user=") else { return nil }
            let user = String(parts[3].dropFirst("user=".count))
            return Request(method: parts[1], path: parts[2], user: user == "-" ? nil : user)
        }
    }

    /// Stops the server (SIGKILL to the process it started) and removes its files.
    public func stop() {
        killIfRunning(process)
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A certificate authority and a server certificate it signed for
    /// 127.0.0.1 and localhost, valid for a day, in `directory`
    /// (`ca.pem`, `server.pem`, `server.key`); the CA's path.
    static func makeCertificates(in directory: String) async throws -> String {
        try await onOwnThread { try makeCertificatesNow(in: directory) }
    }

    private static func makeCertificatesNow(in directory: String) throws -> String {
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try run(
            "openssl",
            ["req", "-x509"] + curve + [
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=Slipway test git CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            ], in: directory)
        try run(
            "openssl", ["req"] + curve + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
            in: directory)
        try Data(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
                .utf8
        ).write(to: URL(fileURLWithPath: directory + "/server.ext"))
        try run(
            "openssl",
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.pem", "-days", "1", "-extfile", "server.ext",
            ], in: directory)
        return directory + "/ca.pem"
    }

    /// Runs `command` (looked up in `PATH`) in `directory`; throws with its output when it fails.
    static func run(_ command: String, _ arguments: [String], in directory: String) throws {
        let process = TestProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do { try process.run() } catch { throw TestFailure("cannot run \(command): \(error)") }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("\(command) \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }
}
