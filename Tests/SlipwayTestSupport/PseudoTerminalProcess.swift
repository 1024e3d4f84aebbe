import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A `slipway` child process whose standard output and error are the slave
/// side of a pseudo-terminal (`openpty`), so it sees a terminal of the given
/// width; the test reads what it draws from the master side.
public struct PseudoTerminalProcess {
    public let process: TestProcess
    public let master: Int32
    private var screen = Data()

    /// Starts `slipway` with `arguments` and `environment` (on top of this
    /// process's, without its `SLIPWAY_` variables and `NO_COLOR`) in a new
    /// temporary directory, on a terminal `columns` wide.
    public static func start(_ arguments: [String], environment: [String: String], columns: Int) throws
        -> PseudoTerminalProcess
    {
        var master: Int32 = -1
        var slave: Int32 = -1
        var size = winsize(ws_row: 24, ws_col: UInt16(columns), ws_xpixel: 0, ws_ypixel: 0)
        guard openpty(&master, &slave, nil, nil, &size) == 0 else {
            throw TestFailure("openpty failed: errno \(errno)")
        }
        // Only the child keeps the slave; nothing else this test runs inherits either side.
        _ = fcntl(master, F_SETFD, FD_CLOEXEC)
        _ = fcntl(slave, F_SETFD, FD_CLOEXEC)
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)

        let process = SlipwayProcess.configured(
            arguments, environment: environment, removing: ["NO_COLOR"],
            directory: URL(fileURLWithPath: temporaryDirectory()))
        let handle = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardOutput = handle
        process.standardError = handle
        defer { close(slave) }
        do {
            try process.run()
        } catch {
            close(master)
            throw error
        }
        return PseudoTerminalProcess(process: process, master: master)
    }

    /// What the child has drawn so far (the terminal turns each `\n` into `\r\n`).
    public var text: String { String(decoding: screen, as: UTF8.self) }

    /// Reads what is there; false once the slave side is closed (EIO) or
    /// nothing is left to read after the child exited.
    private mutating func drain() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(master, &buffer, buffer.count)
            if count > 0 {
                screen.append(contentsOf: buffer[0..<count])
                continue
            }
            return count < 0 && errno == EAGAIN
        }
    }

    /// Reads until the screen shows `expected`.
    public mutating func waitForScreen(containing expected: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !text.contains(expected) {
            guard drain() || process.isRunning, ContinuousClock.now < deadline else {
                throw TestFailure("'\(expected)' never appeared; screen:\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Reads what the child draws until it exits; its status and the whole screen.
    public mutating func waitForExit(timeout: Duration = .seconds(90)) async throws -> (Int32, String) {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            _ = drain()
            guard ContinuousClock.now < deadline else { throw TestFailure("slipway did not exit; screen:\n\(text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(50)) // what the child wrote last
        _ = drain()
        close(master)
        return (process.terminationStatus, text)
    }

    /// SIGKILL, if it still runs.
    public func kill() {
        killIfRunning(process)
    }
}
