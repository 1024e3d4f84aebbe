import Foundation
import Logging
import Storage

/// Runs builds as host processes: `sh -c <command>` in the project
/// directory. For development machines without Docker only: it isolates
/// nothing but the environment, so every build logs a loud warning.
///
/// Each step runs in its own session (one process group) with a scrubbed
/// environment: `PATH`, a `HOME` and `TMPDIR` inside the workspace, the npm
/// cache, `CI=true` and the site's variables; nothing of Slipway's own
/// environment (object-store keys, the admin token) is passed on. When
/// Slipway runs as root, the commands run as the build user (no
/// supplementary groups), who owns the workspace and the site's npm cache
/// but cannot read the data directory's files (catalog, admin token, logs)
/// nor the server's `/proc` entries; otherwise they run as Slipway's own
/// user, with a second warning. The build's timeout is shared by its
/// steps; at the limit, or on cancel, the whole process group is killed.
///
/// Each command's parent is a ``BuildSupervisor`` (`slipway supervise`): when
/// the command ends, ends in error, times out or is cancelled, every process
/// it started (detached ones too) is killed, and it dies with Slipway.
public final class LocalRunner: BuildRunner {
    public var name: String { "local" }
    /// As root, commands run as the build user (``RunJob/user``); otherwise as Slipway's own user.
    public var runsAsBuildUser: Bool { Self.switchesUser }

    /// Whether commands run as another user than Slipway's: only root can switch.
    static var switchesUser: Bool { getuid() == 0 }

    /// The warning every build using this runner logs.
    public static let warning =
        "WARNING: running the build with the local runner: no container, no memory, CPU or process limits, no isolation from this machine. Use it for development only; install Docker for anything else."

    /// The further warning when Slipway does not run as root.
    public static let sameUserWarning =
        "WARNING: Slipway does not run as root, so local builds run as its own user: a build can read the data directory (the catalog with every site's variables, the admin token) and the server's environment. Run Slipway as root (builds then run as an unprivileged build user) or use the Docker runner."

    /// The warnings for this process, one per line.
    public static var warnings: [String] { switchesUser ? [warning] : [warning, sameUserWarning] }

    let configuration: BuilderConfiguration
    /// The `PATH` build commands see.
    let searchPath: String

    public init(configuration: BuilderConfiguration, searchPath: String = "/usr/local/bin:/usr/bin:/bin") {
        self.configuration = configuration
        self.searchPath = searchPath
    }

    public func shutdown() async {}

    /// The supervisor kills every process a step leaves; nothing outlives a build.
    public func removeAbandoned(
        leaseGrace: Duration, lookup: @escaping @Sendable (String, Int) async -> AttemptLookup
    ) async {}

    public func run(_ job: RunJob, log: BuildLog) async throws -> RunReport {
        for warning in Self.warnings { log.system(warning) }
        if runsAsBuildUser { log.system("the commands run as the build user \(job.user)") }
        let clock = ContinuousClock()
        let start = clock.now
        var environment = [
            "PATH": searchPath,
            "HOME": job.homeDirectory,
            "TMPDIR": job.temporaryDirectory,
            "LANG": "C.UTF-8",
            "npm_config_cache": job.cacheDirectory + "/npm",
            "XDG_CACHE_HOME": job.cacheDirectory + "/xdg",
        ]
        for (key, value) in job.environment { environment[key] = value }
        var durations: [Duration] = []
        for step in job.steps {
            let remaining = job.timeout - (clock.now - start)
            guard remaining > .zero else {
                throw BuildError.timedOut(after: job.timeout)
            }
            log.system("running the \(step.name) command: \(step.command)")
            let outcome = try await ChildProcess.run(
                executable: configuration.supervisorExecutable,
                arguments: BuildSupervisor.arguments(
                    command: ["/bin/sh", "-c", step.command], user: runsAsBuildUser ? job.user : nil),
                environment: environment, workingDirectory: job.projectDirectory, supervised: true, timeout: remaining,
                maxLineBytes: configuration.maxLogLineBytes
            ) { line, stream in
                log.output(line, stream: stream)
            }
            durations.append(outcome.duration)
            if outcome.timedOut {
                log.system("the build reached its \(DurationText.format(job.timeout)) limit; its processes were killed")
                throw BuildError.timedOut(after: job.timeout)
            }
            guard outcome.exitCode == 0 else {
                log.system(
                    "the \(step.name) command exited with status \(outcome.exitCode) after \(DurationText.format(outcome.duration))"
                )
                throw BuildError.commandFailed(step: step.name, command: step.command, exitCode: outcome.exitCode)
            }
            log.system("the \(step.name) command finished in \(DurationText.format(outcome.duration))")
        }
        return RunReport(stepDurations: durations, totalDuration: clock.now - start)
    }
}
