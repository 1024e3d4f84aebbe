import Foundation

/// Runs a build's commands (install, then build) in isolation.
///
/// Two implementations: ``DockerRunner`` (the default, a container per
/// build through the Docker Engine API) and ``LocalRunner`` (a scrubbed
/// `sh -c` on the host, for development machines without Docker).
///
/// Contract:
/// - The steps run in order in the job's project directory; the first that
///   fails ends the run with ``BuildError/Code/commandFailed`` and its exit
///   status. Running out of memory is ``BuildError/Code/outOfMemory``;
///   passing ``RunJob/timeout`` is ``BuildError/Code/timedOut``; both kill
///   every process of the build first.
/// - Every line the commands print goes to the log as it comes.
/// - Cancelling the calling task kills every process of the build, removes
///   what the runner created (a container), and throws `CancellationError`.
/// - An unreachable engine is ``BuildError/Code/engineUnavailable``
///   (transient: the build is retried later).
public protocol BuildRunner: Sendable {
    /// `docker` or `local`, for logs.
    var name: String { get }

    /// Whether the commands run as ``RunJob/user`` (the job's directories
    /// must then belong to that user), rather than as Slipway's own user.
    var runsAsBuildUser: Bool { get }

    /// Runs the job's steps.
    func run(_ job: RunJob, log: BuildLog) async throws -> RunReport

    /// Removes what earlier builds left behind when their worker died
    /// (containers of a killed Slipway process, of any installation on the
    /// same engine). `lookup` says what is known of attempt `attempt` of
    /// build `buildID`; `leaseGrace` is how long past its expiry a lease
    /// still counts (``ContainerReaper/decide(_:ownInstallation:attempt:now:leaseGrace:)``).
    func removeAbandoned(
        leaseGrace: Duration, lookup: @escaping @Sendable (_ buildID: String, _ attempt: Int) async -> AttemptLookup
    ) async

    /// Releases the runner's resources (HTTP connections).
    func shutdown() async
}

/// One command of a build.
public struct RunStep: Sendable, Hashable {
    /// `install` or `build`, for logs and errors.
    public var name: String
    /// A shell command line, run with `sh -c`.
    public var command: String

    public init(name: String, command: String) {
        self.name = name
        self.command = command
    }
}

/// What a runner needs to run one build.
public struct RunJob: Sendable {
    public var siteID: String
    public var buildID: String
    public var attempt: Int
    public var steps: [RunStep]
    /// The checkout on the host (the container sees it as `/workspace`).
    public var checkoutDirectory: String
    /// The project root inside the checkout, relative (`""` for the checkout itself).
    public var projectPath: String
    /// A writable home directory on the host for the build user.
    public var homeDirectory: String
    /// A writable temporary directory on the host (local runner).
    public var temporaryDirectory: String
    /// The site's persistent dependency cache on the host.
    public var cacheDirectory: String
    /// Variables for the commands: the site's build variables over Slipway's own.
    public var environment: [String: String]
    /// Who the commands run as; never root.
    public var user: BuilderConfiguration.BuildUser
    /// Wall-clock limit of all steps together.
    public var timeout: Duration

    public init(
        siteID: String, buildID: String, attempt: Int, steps: [RunStep], checkoutDirectory: String, projectPath: String,
        homeDirectory: String, temporaryDirectory: String, cacheDirectory: String, environment: [String: String],
        user: BuilderConfiguration.BuildUser, timeout: Duration
    ) {
        self.siteID = siteID
        self.buildID = buildID
        self.attempt = attempt
        self.steps = steps
        self.checkoutDirectory = checkoutDirectory
        self.projectPath = projectPath
        self.homeDirectory = homeDirectory
        self.temporaryDirectory = temporaryDirectory
        self.cacheDirectory = cacheDirectory
        self.environment = environment
        self.user = user
        self.timeout = timeout
    }

    /// The project directory on the host.
    public var projectDirectory: String {
        projectPath.isEmpty ? checkoutDirectory : checkoutDirectory + "/" + projectPath
    }
}

/// How a successful run went.
public struct RunReport: Sendable, Hashable {
    /// How long each step's command ran, in order.
    public var stepDurations: [Duration]
    /// From asking the runner to run to its return, setup and teardown included.
    public var totalDuration: Duration

    public init(stepDurations: [Duration], totalDuration: Duration) {
        self.stepDurations = stepDurations
        self.totalDuration = totalDuration
    }

    /// The commands' own time.
    public var commandDuration: Duration { stepDurations.reduce(.zero, +) }
}

/// Paths inside a build container.
enum ContainerPaths {
    static let workspace = "/workspace"
    static let home = "/home/slipway"
    static let cache = "/cache"
}
