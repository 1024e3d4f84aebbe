import Foundation
public import Logging
public import Model
public import Storage
import Synchronization

/// The build engine of one Slipway process: a pool of workers that claim
/// queued builds from the catalog and run each through ``BuildPipeline``.
///
/// - ``BuilderConfiguration/concurrency`` workers, each running one build
///   at a time. Idle workers wake on a queued-build event from the bus and
///   otherwise look every ``BuilderConfiguration/pollInterval``.
/// - While a build runs its lease is renewed; when the catalog says the
///   build was canceled the build's task is cancelled (the runner kills the
///   container) and nothing is activated; when the lease is lost the worker
///   stops without touching the build again.
/// - A sweeper takes back expired leases (builds of crashed workers are
///   requeued or failed, never stuck), removes containers and workspaces
///   nobody runs any more, every ``BuilderConfiguration/sweepInterval``.
/// - Transient failures go back to the queue with backoff (the catalog's
///   ``QueueSettings``); a failing build command fails at once.
/// - ``shutdown()`` drains: it stops claiming, lets running builds finish
///   (their leases still renewed) until ``BuilderConfiguration/drainTimeout``
///   on the pool's clock, then stops the ones still running and gives them
///   back to the queue.
///
/// The pool is split by concern:
/// - `BuildWorkerPool+Claims.swift`: the workers' claim loop and one attempt's run;
/// - `AttemptEndStateMachine.swift` and `BuildWorkerPool+Ending.swift`: how
///   an attempt ends, decided, then carried out;
/// - `BuildWorkerPool+Reporting.swift`: the stored log, metrics and the observer;
/// - `BuildWorkerPool+Sweep.swift`: the lease sweep and the reaping of build containers;
/// - `BuildWorkerPool+Draining.swift`: the drain at shutdown;
/// - `BuildWorkerPool+WakeUps.swift`: what wakes idle workers.
public final class BuildWorkerPool: Sendable {
    public let configuration: BuilderConfiguration
    /// Prefix of this pool's worker ids (`<host>-<pid>-<random>`).
    public let poolID: String

    let catalog: any Catalog
    let store: any ObjectStore
    let bus: any EventBus
    let cache: BodyCache?
    let runner: any BuildRunner
    let logger: Logger
    /// What every wait of the pool sleeps on: the poll and sweep intervals,
    /// lease renewals and the activation retries' backoff.
    let clock: any Clock<Duration>
    let observer: (@Sendable (BuildReport) -> Void)?
    let wakeSignal: WakeSignal

    struct State {
        var started = false
        /// Set by ``shutdown()``: no worker claims a build any more.
        var stopping = false
        /// Set when the drain is over (or skipped): builds still running are
        /// stopped and given back to the queue.
        var releasing = false
        /// The workers' tasks.
        var workers: [Task<Void, Never>] = []
        /// The sweeper's and the wake-up listener's tasks.
        var background: [Task<Void, Never>] = []
        /// Builds this pool runs now, with their attempt.
        var running: [BuildID: Int] = [:]
    }

    let state = Mutex(State())

    /// - Parameters:
    ///   - cache: the body cache the proxy serves from; small HTML files of
    ///     each activated build are put into it.
    ///   - runner: from ``RunnerSelection/makeRunner(configuration:logger:)``.
    ///   - observer: told how every attempt ended (metrics, tests).
    ///   - clock: what the pool's waits sleep on (tests give one they watch).
    public init(
        configuration: BuilderConfiguration, catalog: any Catalog, store: any ObjectStore, bus: any EventBus,
        cache: BodyCache? = nil, runner: any BuildRunner, logger: Logger = Logger(label: "slipway.builder"),
        observer: (@Sendable (BuildReport) -> Void)? = nil, clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.configuration = configuration
        self.catalog = catalog
        self.store = store
        self.bus = bus
        self.cache = cache
        self.runner = runner
        self.logger = logger
        self.observer = observer
        self.clock = clock
        self.wakeSignal = WakeSignal(clock: clock)
        self.poolID = InstanceID.make()
    }

    var leaseDuration: Duration { configuration.leaseDuration ?? catalog.queueSettings.leaseDuration }
    var renewInterval: Duration { configuration.leaseRenewInterval ?? leaseDuration / 3 }

    /// Starts the workers and the sweeper. Calling it again does nothing.
    /// - Throws: ``BuildError`` for an invalid configuration or an unusable data directory.
    public func start() throws(BuildError) {
        try configuration.validate()
        try FileSystem.makeDirectory(configuration.workspacesDirectory, mode: 0o711)
        if runner is LocalRunner && runner.runsAsBuildUser {
            // Local builds run as the build user on host paths inside the data
            // directory: it may pass through (0711), never list or read what is not its own.
            let data = configuration.dataDirectory
            try FileSystem.makeDirectory(data + "/cache/npm", mode: 0o711)
            for directory in [data, data + "/cache", data + "/cache/npm"] {
                guard chmod(directory, 0o711) == 0 else {
                    throw BuildError.workspaceFailed("cannot set the mode of \(directory): \(POSIXErrorText.current())")
                }
            }
        }
        let shouldStart = state.withLock { state -> Bool in
            guard !state.started, !state.stopping else { return false }
            state.started = true
            return true
        }
        guard shouldStart else { return }
        // Subscribed before any worker claims: a build queued from now on wakes them.
        let events = bus.subscribe()
        var workers: [Task<Void, Never>] = []
        for index in 1...configuration.concurrency {
            let workerID = "\(poolID)-w\(index)"
            workers.append(Task { [self] in await workerLoop(workerID: workerID) })
        }
        let background = [
            Task { [self] in await sweeperLoop() }, Task { [self] in await listenForQueuedBuilds(events) },
        ]
        state.withLock {
            $0.workers = workers
            $0.background = background
        }
        logger.info(
            "build workers started: \(configuration.concurrency) with the \(runner.name) runner (pool \(poolID))")
    }

    /// Stops claiming builds and drains: running builds may finish (their
    /// leases still renewed) until ``BuilderConfiguration/drainTimeout`` has
    /// passed on the pool's clock; the ones still running then are stopped
    /// and given back to the queue at once (another builder takes them, or
    /// this one after a restart; the attempt is not counted). Returns when
    /// every worker has ended.
    public func shutdown() async {
        let (workers, background) = state.withLock { state in
            state.stopping = true
            return (state.workers, state.background)
        }
        // Idle workers wake up, see the pool stopping and end; the sweep and
        // the wake-ups are of no use any more.
        wakeSignal.wake()
        for task in background { task.cancel() }
        await drain(workers)
        releaseRunningBuilds(workers)
        for task in workers + background { await task.value }
        logger.info("build workers stopped", metadata: ["pool": "\(poolID)"])
    }

    /// Builds this pool is running now.
    public var runningBuilds: [BuildID] { state.withLock { Array($0.running.keys) } }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Whether builds still running are being stopped and given back to the queue.
    var isReleasing: Bool { state.withLock { $0.releasing } }
}
