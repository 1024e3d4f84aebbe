import Foundation
import Storage
import Subprocess
import Synchronization

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs a host process for the builder (`git`, the local runner's `sh -c`)
/// in its own session, so that it and everything it starts form one process
/// group that a timeout or a cancel kills at once.
///
/// The environment is exactly what the caller passes: nothing of Slipway's
/// own environment (object-store keys, the admin token) is inherited.
enum ChildProcess {
    /// How a process ended.
    struct Outcome: Sendable, Hashable {
        /// `exited(code)` or `signaled(signal)`.
        var status: TerminationStatus
        /// Killed because it ran past its timeout.
        var timedOut: Bool
        var duration: Duration

        /// The exit code, or 128 + the signal for a killed process (as a shell reports it).
        var exitCode: Int32 {
            switch status {
            case .exited(let code): code
            case .signaled(let signal): 128 + signal
            }
        }
    }

    /// Runs `executable` with `arguments` until it exits, `timeout` passes
    /// (its process group is killed; a `supervised` process, a
    /// ``BuildSupervisor``, gets SIGINT first and up to 2 s to kill every
    /// descendant) or the calling task is cancelled (the
    /// group is killed and `CancellationError` thrown). Each line of its
    /// stdout and stderr goes to `onLine` as it comes.
    /// - Throws: `BuildError` when it cannot be started.
    static func run(
        executable: String,
        arguments: [String],
        environment: [String: String],
        workingDirectory: String?,
        user: BuilderConfiguration.BuildUser? = nil,
        supervised: Bool = false,
        timeout: Duration,
        maxLineBytes: Int,
        onLine: @escaping @Sendable (String, LogLine.Stream) -> Void
    ) async throws -> Outcome {
        var options = PlatformOptions()
        options.createSession = true
        // On cancellation: the whole group, at once; `run` ends with a final SIGKILL of the leader.
        // A supervisor first gets SIGINT: it kills every descendant, those that left the group too.
        options.teardownSequence =
            (supervised
                ? [.send(signal: .interrupt, toProcessGroup: false, allowedDurationToNextStep: .seconds(2))] : [])
            + [.send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(500))]
        if let user {
            options.userID = user.uid
            options.groupID = user.gid
            options.supplementaryGroups = []
        }
        var variables: [Environment.Key: String] = [:]
        for (name, value) in environment {
            if let key = Environment.Key(rawValue: name) { variables[key] = value }
        }
        let target: Executable = executable.contains("/") ? .path(FilePath(executable)) : .name(executable)
        let timedOut = Flag()
        let clock = ContinuousClock()
        let start = clock.now
        let result: ExecutionResult<Void, SequenceOutput, SequenceOutput>
        do {
            result = try await Subprocess.run(
                target,
                arguments: Arguments(arguments),
                environment: .custom(variables),
                workingDirectory: workingDirectory.map { FilePath($0) },
                platformOptions: options,
                input: .none,
                output: .sequence,
                error: .sequence
            ) { execution in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await drain(
                            execution.standardOutput, stream: .stdout, maxLineBytes: maxLineBytes, onLine: onLine)
                    }
                    group.addTask {
                        try await drain(
                            execution.standardError, stream: .stderr, maxLineBytes: maxLineBytes, onLine: onLine)
                    }
                    let timer = Task {
                        try await Task.sleep(for: timeout)
                        timedOut.set()
                        if supervised {
                            try? execution.send(signal: .interrupt, toProcessGroup: false)
                            try await Task.sleep(for: .seconds(2))
                        }
                        try? execution.send(signal: .kill, toProcessGroup: true)
                    }
                    defer { timer.cancel() }
                    try await group.waitForAll()
                }
            }
        } catch let error as SubprocessError {
            try Task.checkCancellation()
            throw BuildError.workspaceFailed("cannot run \(executable): \(error)")
        }
        try Task.checkCancellation()
        return Outcome(status: result.terminationStatus, timedOut: timedOut.isSet, duration: clock.now - start)
    }

    private static func drain(
        _ sequence: SubprocessOutputSequence, stream: LogLine.Stream, maxLineBytes: Int,
        onLine: @Sendable (String, LogLine.Stream) -> Void
    ) async throws {
        var assembler = LineAssembler(maxLineBytes: maxLineBytes)
        for try await buffer in sequence {
            let lines = buffer.withUnsafeBytes { assembler.append($0) }
            for line in lines { onLine(line, stream) }
        }
        if let last = assembler.finish() { onLine(last, stream) }
    }
}

/// A flag set once, read from any task.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
