import Foundation
public import Logging
import Metrics
public import Model
import NIOCore
public import Storage
import Synchronization

/// How one attempt at a build ended, for observers, metrics and tests.
public struct BuildReport: Sendable {
    public enum Outcome: String, Sendable, Hashable {
        /// Published and activated (or kept as a preview when a newer build is live).
        case succeeded
        /// Failed for good.
        case failed
        /// Failed with a transient error; queued again after a backoff.
        case retrying
        /// Canceled; nothing was activated.
        case canceled
        /// Given back to the queue because this pool is shutting down.
        case released
        /// The lease was lost (the catalog took the build back); the worker stopped.
        case leaseLost
    }

    public var buildID: BuildID
    public var siteID: SiteID
    public var attempt: Int
    public var outcome: Outcome
    /// Why it did not succeed.
    public var error: BuildError?
    /// Set for ``Outcome/succeeded``.
    public var timings: BuildTimings?
    /// From the claim to the end of the attempt (log stored, workspace removed).
    public var duration: Duration
}

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
/// - ``shutdown()`` stops claiming, stops running builds and gives them back
///   to the queue.
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
    private let observer: (@Sendable (BuildReport) -> Void)?
    private let wakeSignal = WakeSignal()

    private struct State {
        var started = false
        var stopping = false
        var tasks: [Task<Void, Never>] = []
        /// Builds this pool runs now, with their attempt.
        var running: [BuildID: Int] = [:]
    }

    private let state = Mutex(State())

    /// - Parameters:
    ///   - cache: the body cache the proxy serves from; small HTML files of
    ///     each activated build are put into it.
    ///   - runner: from ``RunnerSelection/makeRunner(configuration:logger:)``.
    ///   - observer: told how every attempt ended (metrics, tests).
    public init(
        configuration: BuilderConfiguration, catalog: any Catalog, store: any ObjectStore, bus: any EventBus,
        cache: BodyCache? = nil, runner: any BuildRunner, logger: Logger = Logger(label: "slipway.builder"),
        observer: (@Sendable (BuildReport) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.catalog = catalog
        self.store = store
        self.bus = bus
        self.cache = cache
        self.runner = runner
        self.logger = logger
        self.observer = observer
        self.poolID = InstanceID.make()
    }

    private var leaseDuration: Duration { configuration.leaseDuration ?? catalog.queueSettings.leaseDuration }
    private var renewInterval: Duration { configuration.leaseRenewInterval ?? leaseDuration / 3 }

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
        var tasks: [Task<Void, Never>] = []
        for index in 1...configuration.concurrency {
            let workerID = "\(poolID)-w\(index)"
            tasks.append(Task { [self] in await workerLoop(workerID: workerID) })
        }
        tasks.append(Task { [self] in await sweeperLoop() })
        tasks.append(Task { [self] in await listenForQueuedBuilds() })
        state.withLock { $0.tasks = tasks }
        logger.info(
            "build workers started: \(configuration.concurrency) with the \(runner.name) runner (pool \(poolID))")
    }

    /// Stops claiming builds, stops the running ones and gives them back to
    /// the queue (they run again elsewhere or after a restart), then waits
    /// for every worker to end.
    public func shutdown() async {
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.stopping = true
            return state.tasks
        }
        for task in tasks { task.cancel() }
        wakeSignal.wake()
        for task in tasks { await task.value }
        logger.info("build workers stopped (pool \(poolID))")
    }

    /// Makes idle workers look for queued builds now.
    public func wake() {
        wakeSignal.wake()
    }

    /// Builds this pool is running now.
    public var runningBuilds: [BuildID] { state.withLock { Array($0.running.keys) } }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    // MARK: Workers

    private func workerLoop(workerID: String) async {
        while !isStopping && !Task.isCancelled {
            let generation = wakeSignal.generation
            let claimed: Build?
            do {
                claimed = try await catalog.claimNextBuild(workerID: workerID, leaseDuration: leaseDuration)
            } catch {
                if isStopping || Task.isCancelled { break }
                logger.warning("worker \(workerID) could not claim a build: \(error)")
                await wakeSignal.wait(after: wakeSignal.generation, timeout: configuration.pollInterval)
                continue
            }
            guard let build = claimed else {
                await wakeSignal.wait(after: generation, timeout: configuration.pollInterval)
                continue
            }
            state.withLock { $0.running[build.id] = build.attempt }
            let report = await process(build, workerID: workerID)
            state.withLock { _ = $0.running.removeValue(forKey: build.id) }
            record(report)
        }
    }

    private enum ChildResult: Sendable {
        case pipeline(Result<BuildPipeline.Success, any Error>)
        case stop(StopReason?)
    }

    /// How an attempt ends, decided from the pipeline's result and the lease.
    private enum Ending {
        case succeeded(BuildPipeline.Success)
        case failed(BuildError)
        case canceled
        case release
        case leaseLost(String)
    }

    /// Runs one claimed build to its end. Never throws: every outcome is
    /// recorded in the catalog (when the lease still allows it), the log is
    /// stored, the workspace removed.
    private func process(_ build: Build, workerID: String) async -> BuildReport {
        let attempt = Attempt(build: build, workerID: workerID, started: ContinuousClock.now)

        // 1. Workspace and log.
        let site: Site
        let workspace: Workspace
        let log: BuildLog
        do {
            site = try await catalog.site(id: build.siteID)
            let base = configuration.workspacesDirectory
            workspace = try await FileSystem.offload {
                try Workspace.create(in: base, buildID: build.id.rawValue, attempt: build.attempt)
            }
            log = try BuildLog(
                buildID: build.id, path: workspace.logFile, bus: bus, secrets: site.env.filter(\.secret).map(\.value),
                maxBytes: configuration.maxLogBytes, maxLineBytes: configuration.maxLogLineBytes)
        } catch {
            let ending = classify(error, reason: nil)
            return await concludeShielded(attempt, ending: ending, log: nil)
        }
        let result = await run(attempt, site: site, workspace: workspace, log: log)
        do {
            try await FileSystem.offloadAlways { try workspace.remove() }
        } catch {
            logger.warning("could not remove the workspace of build \(build.id): \(error)")
        }
        return result
    }

    /// Steps 2–8 while the lease is kept, then the attempt's end.
    private func run(_ attempt: Attempt, site: Site, workspace: Workspace, log: BuildLog) async -> BuildReport {
        let build = attempt.build
        let workerID = attempt.workerID
        if build.attempt > 1, let earlier = try? await store.getBytes(build.logKey, limit: configuration.maxLogBytes) {
            log.seed(withEarlierAttempts: Array(earlier.readableBytesView))
        }
        let maxAttempts = catalog.queueSettings.maxAttempts
        log.system(
            "build #\(build.number) of \(site.slug), attempt \(build.attempt) of \(maxAttempts), on worker \(workerID) with the \(runner.name) runner"
        )
        for variable in site.env
        where variable.secret && variable.value.count < BuildLog.minimumMaskedLength && !variable.value.isEmpty {
            log.system(
                "warning: the secret \(variable.name) is shorter than \(BuildLog.minimumMaskedLength) characters and cannot be masked in the log"
            )
        }

        // 2–8. The pipeline, while the lease is kept.
        let pipeline = BuildPipeline(
            configuration: configuration, catalog: catalog, store: store, cache: cache, runner: runner,
            workerID: workerID, logger: logger)
        let keeper = LeaseKeeper(
            catalog: catalog, buildID: build.id, workerID: workerID, leaseDuration: leaseDuration,
            renewInterval: renewInterval, logger: logger)
        let (result, reason) = await withTaskGroup(of: ChildResult.self) { group in
            group.addTask {
                do {
                    return .pipeline(
                        .success(try await pipeline.run(build, site: site, workspace: workspace, log: log)))
                } catch {
                    return .pipeline(.failure(error))
                }
            }
            group.addTask { .stop(await keeper.keep()) }
            var result: Result<BuildPipeline.Success, any Error> = .failure(CancellationError())
            var reason: StopReason?
            while let child = await group.next() {
                switch child {
                case .pipeline(let outcome):
                    result = outcome
                    group.cancelAll()
                case .stop(let stop):
                    if let stop {
                        reason = stop
                        // Stop the build: the runner kills its container.
                        group.cancelAll()
                    }
                }
            }
            return (result, reason)
        }
        let ending: Ending
        switch result {
        case .success(let success): ending = .succeeded(success)
        case .failure(let error): ending = classify(error, reason: reason)
        }
        return await concludeShielded(attempt, ending: ending, log: log)
    }

    /// Maps whatever stopped the pipeline to how the attempt ends.
    private func classify(_ error: any Error, reason: StopReason?) -> Ending {
        switch reason {
        case .canceled: return .canceled
        case .leaseLost(let why): return .leaseLost(why)
        case nil: break
        }
        // Whatever broke while this pool stops was most likely the stop
        // itself; the build runs again later rather than failing for it.
        if isStopping { return .release }
        switch error {
        case let error as BuildError:
            return error.code == .canceled ? (isStopping ? .release : .canceled) : .failed(error)
        case let error as CatalogError:
            switch error.code {
            case .buildCanceled: return .canceled
            case .leaseLost, .buildNotFound, .illegalTransition: return .leaseLost(error.message)
            case .closed: return .leaseLost("the catalog was closed")
            case .siteNotFound: return .leaseLost("the deployment was deleted")
            default:
                return .failed(.catalogFailed("the catalog failed during the build: \(error.message)", transient: true))
            }
        case let error as ObjectStoreError:
            return .failed(.storeFailed(error.message, transient: error.isTransient))
        case is CancellationError:
            return .release
        default:
            return .failed(
                BuildError(code: .workspaceFailed, message: "the build stopped on an unexpected error: \(error)"))
        }
    }

    /// One claimed attempt at a build.
    private struct Attempt: Sendable {
        var build: Build
        var workerID: String
        var started: ContinuousClock.Instant

        func report(_ outcome: BuildReport.Outcome, _ error: BuildError?, _ timings: BuildTimings?) -> BuildReport {
            BuildReport(
                buildID: build.id, siteID: build.siteID, attempt: build.attempt, outcome: outcome, error: error,
                timings: timings, duration: ContinuousClock.now - started)
        }
    }

    /// ``conclude(_:ending:log:)`` outside the calling task's cancellation:
    /// when the pool stops, the build must still be released, its log
    /// stored, its failure recorded.
    private func concludeShielded(_ attempt: Attempt, ending: Ending, log: BuildLog?) async -> BuildReport {
        await Task { await conclude(attempt, ending: ending, log: log) }.value
    }

    /// Records the end of an attempt, stores its log, closes the live log
    /// when the build is over.
    private func conclude(_ attempt: Attempt, ending: Ending, log: BuildLog?) async -> BuildReport {
        let build = attempt.build
        let workerID = attempt.workerID
        let report = attempt.report
        var final = true
        var storeLog = true
        let result: BuildReport
        switch ending {
        case .succeeded(let success):
            let timings = success.timings
            log?.system(
                "build succeeded in \(DurationText.format(timings.total)) (checkout \(DurationText.format(timings.checkout)), commands \(DurationText.format(timings.commands)), publish \(DurationText.format(timings.publish)), activation \(DurationText.format(timings.activate)))"
            )
            result = report(.succeeded, nil, timings)
        case .failed(let error):
            let message = log?.sanitize(error.message) ?? RepositorySource.redact(error.message)
            log?.system("build failed: \(message)")
            // The catalog queues a retryable failure again while attempts
            // remain. The next attempt starts its log from the stored one,
            // so this attempt's log is stored before the build is queued.
            let maxAttempts = catalog.queueSettings.maxAttempts
            let requeues = error.isTransient && build.attempt < maxAttempts
            if requeues, let log {
                log.system(
                    "the failure looks temporary; the build is queued again (attempt \(build.attempt + 1) of \(maxAttempts))"
                )
                log.finish()
                await persist(log, of: build)
                storeLog = false
            }
            do {
                let finished = try await catalog.finishBuild(
                    buildID: build.id, workerID: workerID,
                    result: .failure(message: message, retryable: error.isTransient))
                if finished.status == .queued {
                    final = false
                    result = report(.retrying, error, nil)
                } else {
                    result = report(.failed, error, nil)
                }
                await removePartialObjects(of: build)
            } catch let catalogError as CatalogError where catalogError.code == .buildCanceled {
                log?.system("build canceled")
                await removePartialObjects(of: build)
                result = report(.canceled, nil, nil)
            } catch {
                // The lease expires and the sweep requeues or fails the build.
                logger.error("could not record the failure of build \(build.id): \(error)")
                final = false
                storeLog = false
                result = report(
                    .leaseLost, .catalogFailed("the failure could not be recorded: \(error)", transient: true), nil)
            }
        case .canceled:
            log?.system("build canceled; nothing was activated")
            await removePartialObjects(of: build)
            result = report(.canceled, .canceled, nil)
        case .release:
            do {
                _ = try await catalog.releaseBuild(buildID: build.id, workerID: workerID)
                log?.system("Slipway is shutting down: the build was stopped and queued again")
            } catch {
                logger.warning("could not release build \(build.id) (its lease will expire): \(error)")
                storeLog = false
            }
            result = report(.released, nil, nil)
        case .leaseLost(let why):
            log?.system("stopped working on the build: \(why)")
            final = false
            storeLog = false
            result = report(.leaseLost, nil, nil)
        }
        if let log {
            log.finish()
            if storeLog { await persist(log, of: build) }
            if final || isStopping { bus.closeLog(buildID: build.id) }
        } else if final {
            bus.closeLog(buildID: build.id)
        }
        return result
    }

    /// Stores the log file as `logs/<siteId>/<buildId>.log`.
    private func persist(_ log: BuildLog, of build: Build) async {
        let uploader = Uploader(
            store: store, attempts: configuration.uploadAttempts, backoff: configuration.uploadBackoff)
        let path = log.path
        do {
            try await uploader.put(build.logKey, options: PutOptions(contentType: "text/plain; charset=utf-8")) {
                .file(atPath: path)
            }
        } catch {
            logger.warning("could not store the log of build \(build.id): \(error)")
        }
    }

    /// Objects of a build that will never be served (failed, canceled, or
    /// to be published again by a retry).
    private func removePartialObjects(of build: Build) async {
        do {
            try await store.delete([build.manifestKey])
            try await store.deletePrefix(build.artifactPrefix)
        } catch {
            logger.warning("could not remove the objects of build \(build.id): \(error)")
        }
    }

    private func record(_ report: BuildReport) {
        Counter(label: "slipway_builds_total", dimensions: [("outcome", report.outcome.rawValue)]).increment()
        if let timings = report.timings {
            Timer(label: "slipway_build_duration_seconds").recordNanoseconds(Self.nanoseconds(timings.total))
        }
        switch report.outcome {
        case .succeeded:
            logger.info("build \(report.buildID) succeeded in \(DurationText.format(report.duration))")
        case .failed, .retrying:
            logger.notice("build \(report.buildID) \(report.outcome.rawValue): \(report.error?.description ?? "")")
        default:
            logger.info("build \(report.buildID) \(report.outcome.rawValue)")
        }
        observer?(report)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    // MARK: Sweeper

    private func sweeperLoop() async {
        while !isStopping && !Task.isCancelled {
            await sweepOnce()
            do { try await Task.sleep(for: configuration.sweepInterval) } catch { break }
        }
    }

    /// Takes back expired leases, then removes containers and workspaces
    /// that belong to no running attempt.
    func sweepOnce() async {
        do {
            let report = try await catalog.sweepExpiredLeases()
            for build in report.requeued {
                bus.appendLog(
                    LogLine(
                        timestamp: Date(), stream: .system,
                        text: "[slipway] \(build.error ?? "the worker stopped"); queued again"),
                    buildID: build.id)
                logger.notice("build \(build.id) requeued after its worker's lease expired")
            }
            for build in report.failed {
                bus.appendLog(
                    LogLine(timestamp: Date(), stream: .system, text: "[slipway] \(build.error ?? "failed")"),
                    buildID: build.id)
                bus.closeLog(buildID: build.id)
                logger.notice("build \(build.id) failed after its last worker's lease expired")
            }
            if !report.requeued.isEmpty { wakeSignal.wake() }
        } catch {
            if !isStopping { logger.warning("sweeping expired leases failed: \(error)") }
        }
        let isCurrent: @Sendable (String, Int) async -> Bool = { [self] buildID, attempt in
            await isAttemptCurrent(buildID: buildID, attempt: attempt)
        }
        await runner.removeAbandoned(isCurrent: isCurrent)
        await removeAbandonedWorkspaces(isCurrent: isCurrent)
    }

    /// Whether attempt `attempt` of `buildID` may still be running somewhere.
    /// When in doubt (the catalog is unreachable), yes.
    private func isAttemptCurrent(buildID: String, attempt: Int) async -> Bool {
        guard let id = BuildID(buildID) else { return false }
        if state.withLock({ $0.running[id] == attempt }) { return true }
        do {
            let build = try await catalog.build(id: id)
            return build.status == .building && build.attempt == attempt
        } catch let error as CatalogError where error.code == .buildNotFound {
            return false
        } catch {
            return true
        }
    }

    private func removeAbandonedWorkspaces(isCurrent: @Sendable (String, Int) async -> Bool) async {
        let base = configuration.workspacesDirectory
        guard let names = try? FileSystem.entries(of: base) else { return }
        for name in names {
            guard let (buildID, attempt) = Workspace.parse(name) else { continue }
            if await isCurrent(buildID, attempt) { continue }
            do {
                let workspace = Workspace(root: base + "/" + name)
                try await FileSystem.offload { try workspace.remove() }
                logger.notice("removed the abandoned workspace \(name)")
            } catch {
                logger.warning("cannot remove the abandoned workspace \(name): \(error)")
            }
        }
    }

    // MARK: Wake-ups

    /// Wakes idle workers whenever a build becomes queued; drops the
    /// dependency cache of a deleted site.
    private func listenForQueuedBuilds() async {
        for await delivery in bus.subscribe() {
            if isStopping { break }
            switch delivery {
            case .value(.buildChanged(let build)) where build.status == .queued:
                wakeSignal.wake()
            case .value(.siteDeleted(let site)):
                let directory = configuration.dependencyCacheDirectory(siteID: site.id.rawValue)
                do {
                    try await FileSystem.offload { try FileSystem.removeTree(directory) }
                } catch {
                    logger.warning("cannot remove the dependency cache of the deleted site \(site.slug): \(error)")
                }
            case .missed:
                wakeSignal.wake()
            default:
                continue
            }
        }
    }
}
