import CTestSpawn
public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process for tests, with the part of `Foundation.Process`'s
/// interface the tests use.
///
/// Foundation's `Process.run()` walks `/proc/self/fd` before it spawns, and
/// copies each entry's whole fixed-size name: with the many descriptors a
/// parallel test run holds (over 2,000), an entry near the end of its
/// directory buffer is read past the buffer and the test process crashes
/// with a bad pointer dereference. This spawns with `posix_spawn` and has
/// the child close every descriptor above 2 itself (`closefrom`), so
/// nothing is listed and nothing leaks into the child.
public final class TestProcess: @unchecked Sendable {
    public var executableURL: URL?
    public var arguments: [String]?
    /// Nil passes this process's environment on.
    public var environment: [String: String]?
    public var currentDirectoryURL: URL?
    /// A `Pipe`, a `FileHandle`, or nil to share this process's.
    public var standardInput: Any?
    public var standardOutput: Any?
    public var standardError: Any?

    private let lock = NSLock()
    private var pid: pid_t = 0
    /// The raw wait status, once reaped.
    private var waitStatus: Int32?

    public init() {}

    public var processIdentifier: Int32 { lock.withLock { pid } }

    public func run() throws {
        guard let executableURL else { throw TestFailure("TestProcess.run: no executableURL") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [FileHandle] = []
        func wire(_ value: Any?, to target: Int32, childReads: Bool) {
            switch value {
            case let pipe as Pipe:
                let childEnd = childReads ? pipe.fileHandleForReading : pipe.fileHandleForWriting
                posix_spawn_file_actions_adddup2(&actions, childEnd.fileDescriptor, target)
                parentEnds.append(childEnd)
            case let handle as FileHandle:
                posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target)
            default:
                break
            }
        }
        wire(standardInput, to: 0, childReads: true)
        wire(standardOutput, to: 1, childReads: false)
        wire(standardError, to: 2, childReads: false)
        guard slipway_test_spawn_closefrom(&actions, 3) == 0 else {
            throw TestFailure("TestProcess.run: this C library cannot close descriptors in the child")
        }
        if let directory = currentDirectoryURL {
            guard slipway_test_spawn_chdir(&actions, directory.path) == 0 else {
                throw TestFailure("TestProcess.run: cannot change to \(directory.path) in the child")
            }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let path = executableURL.path
        let argv = [path] + (arguments ?? [])
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var child: pid_t = 0
        let result = withCStrings(argv) { argvPointers in
            withCStrings(env) { envPointers in
                posix_spawn(&child, path, &actions, &attributes, argvPointers, envPointers)
            }
        }
        guard result == 0 else {
            throw TestFailure("cannot start \(path): \(String(cString: strerror(result)))")
        }
        lock.withLock { pid = child }
        // As Foundation does: the child has its ends of the pipes now.
        for end in parentEnds { try? end.close() }
    }

    /// Blocks until the child exits.
    public func waitUntilExit() {
        let child = lock.withLock { waitStatus == nil ? pid : 0 }
        guard child > 0 else { return }
        var status: Int32 = 0
        while true {
            let reaped = waitpid(child, &status, 0)
            if reaped == child {
                lock.withLock { waitStatus = status }
                return
            }
            // ECHILD: another thread reaped it (through isRunning) and kept its status.
            if reaped < 0 && errno != EINTR { return }
        }
    }

    public var isRunning: Bool {
        lock.withLock {
            guard pid > 0, waitStatus == nil else { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                waitStatus = status
                return false
            }
            return true
        }
    }

    /// The exit code, or the signal that ended the child.
    public var terminationStatus: Int32 {
        let status = lock.withLock { waitStatus } ?? 0
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : signal
    }

    /// Sends SIGTERM while the child runs.
    public func terminate() { send(SIGTERM) }

    /// Sends SIGINT while the child runs.
    public func interrupt() { send(SIGINT) }

    private func send(_ signal: Int32) {
        guard isRunning else { return }
        kill(processIdentifier, signal)
    }
}

/// Runs `body` with a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
