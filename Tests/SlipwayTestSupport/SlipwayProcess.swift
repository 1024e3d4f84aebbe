public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A `slipway` child process with its output collected.
///
/// The executable is the one `swift build --build-tests` (or `swift test`)
/// built next to the test runner; a test target that starts it depends on
/// the `slipway` target so that it is built.
public struct SlipwayProcess {
    public let process: TestProcess
    private let stdout: Pipe
    private let stderr: Pipe
    private let collected = Collected()

    final class Collected: @unchecked Sendable {
        // Appended from the pipes' handlers, read by the test; guarded by the lock.
        private let lock = NSLock()
        private var out = Data()
        private var err = Data()
        func append(_ data: Data, error: Bool) {
            lock.withLock { if error { err.append(data) } else { out.append(data) } }
        }
        var output: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
        var errorOutput: String { lock.withLock { String(decoding: err, as: UTF8.self) } }
    }

    /// The built `slipway` executable.
    public static var executable: URL {
        // The test runner sits among the products it was built with
        // (Bundle.main is that directory on Linux, the .xctest bundle on macOS).
        let main = Bundle.main.bundleURL
        let candidates = [
            main.appendingPathComponent("slipway"), main.deletingLastPathComponent().appendingPathComponent("slipway"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    /// The repository's root directory (this file is `Tests/SlipwayTestSupport/SlipwayProcess.swift`).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A `Process` for the `slipway` executable with `arguments`, in
    /// `directory`, with this process's environment minus every `SLIPWAY_`
    /// variable (and the names in `removing`), plus `environment`.
    static func configured(
        _ arguments: [String], environment: [String: String], removing: Set<String> = [], directory: URL,
        executable: URL = SlipwayProcess.executable
    ) -> TestProcess {
        let process = TestProcess()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("SLIPWAY_") && !removing.contains($0.key)
        }
        // Custom-domain checks never reach a real resolver and no
        // certificate is requested unless a test says otherwise.
        env.merge(["SLIPWAY_DNS_RESOLVERS": "127.0.0.1:9", "SLIPWAY_ACME_DIRECTORY": "off"]) { $1 }
        env.merge(environment) { $1 }
        process.environment = env
        process.currentDirectoryURL = directory
        return process
    }

    /// Starts `slipway` with `arguments` and `environment` (on top of this
    /// process's, without its `SLIPWAY_` variables) in `directory`, by
    /// default the repository's root; `executable` is the built `slipway`
    /// unless a test runs another program (an installed copy, `env`);
    /// `standardInput`, when given, is what it reads on standard input.
    public static func start(
        _ arguments: [String], environment: [String: String], directory: String? = nil,
        executable: URL = SlipwayProcess.executable, standardInput: String? = nil
    ) throws -> SlipwayProcess {
        let process = configured(
            arguments, environment: environment,
            directory: directory.map { URL(fileURLWithPath: $0) } ?? repositoryRoot, executable: executable)
        let server = SlipwayProcess(process: process, stdout: Pipe(), stderr: Pipe())
        process.standardOutput = server.stdout
        process.standardError = server.stderr
        let collected = server.collected
        server.stdout.fileHandleForReading.readabilityHandler = { collected.append($0.availableData, error: false) }
        server.stderr.fileHandleForReading.readabilityHandler = { collected.append($0.availableData, error: true) }
        let input = standardInput.map { _ in Pipe() }
        if let input { process.standardInput = input }
        try process.run()
        if let input, let standardInput {
            input.fileHandleForWriting.write(Data(standardInput.utf8))
            try input.fileHandleForWriting.close()
        }
        return server
    }

    /// Its standard output so far.
    public var output: String { collected.output }
    /// Its standard error so far.
    public var errorOutput: String { collected.errorOutput }

    /// Waits until its standard output contains `text`.
    /// - Throws: `TestFailure` when it exits or `timeout` passes first.
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !output.contains(text) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw TestFailure("'\(text)' never appeared; output:\n\(output)\n\(errorOutput)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits until it exits; its exit status.
    public func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                throw TestFailure("slipway did not exit; output:\n\(output)\n\(errorOutput)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        try? await Task.sleep(for: .milliseconds(100)) // let the pipes drain
        return process.terminationStatus
    }

    /// SIGTERM, then the exit status once the process has shut down.
    public func terminate() async throws -> Int32 {
        process.terminate()
        return try await waitForExit(timeout: .seconds(30))
    }

    /// SIGKILL, if it still runs.
    public mutating func kill() {
        killIfRunning(process)
    }
}

/// SIGKILL to `process`, if it still runs.
func killIfRunning(_ process: TestProcess) {
    if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
}
