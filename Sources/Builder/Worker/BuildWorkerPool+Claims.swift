import Foundation
import Logging
import Model
import NIOCore
import Storage
import Synchronization

/// The workers' loop: claim the next queued build (or wait for a wake-up or
/// the poll interval), run it through ``BuildPipeline`` while its lease is
/// kept, then end the attempt (`BuildWorkerPool+Ending.swift`). Once the pool
/// stops, a worker claims nothing more: it finishes the build it runs (the
/// drain, `BuildWorkerPool+Draining.swift`) and ends.
extension BuildWorkerPool {
    func workerLoop(workerID: String) async {
        while !isStopping && !Task.isCancelled {
            let generation = wakeSignal.generation
            // Asked before the claim: a backoff that ends between an empty
            // claim and this question would otherwise be missed until the
            // next poll. One that ends before the claim is claimed by it.
            let idle = await idleWait()
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
                // A shutdown that began during the claim woke nobody waiting yet.
                if isStopping { break }
                await wakeSignal.wait(after: generation, timeout: idle)
                continue
            }
            state.withLock { $0.running[build.id] = build.attempt }
            let report: BuildReport
            if isStopping {
                // Claimed while the pool began to stop: a drain starts nothing new.
                let attempt = Attempt(build: build, workerID: workerID, started: ContinuousClock.now)
                report = await concludeShielded(attempt, cause: .release, log: nil)
            } else {
                report = await process(build, workerID: workerID)
            }
            state.withLock { _ = $0.running.removeValue(forKey: build.id) }
            record(report)
        }
    }

    /// How long an idle worker sleeps unless woken: the poll interval, or
    /// less when a queued build's retry backoff ends sooner (no event
    /// announces that).
    private func idleWait() async -> Duration {
        guard let delay = try? await catalog.nextQueuedBuildDelay() else { return configuration.pollInterval }
        return min(configuration.pollInterval, max(.milliseconds(20), delay))
    }

    /// One claimed attempt at a build.
    struct Attempt: Sendable {
        var build: Build
        var workerID: String
        var started: ContinuousClock.Instant

        func report(_ outcome: BuildReport.Outcome, _ error: BuildError?, _ timings: BuildTimings?) -> BuildReport {
            BuildReport(
                buildID: build.id, siteID: build.siteID, attempt: build.attempt, outcome: outcome, error: error,
                timings: timings, duration: ContinuousClock.now - started)
        }
    }

    private enum ChildResult: Sendable {
        case pipeline(Result<BuildPipeline.Success, any Error>)
        case stop(StopReason?)
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
            return await concludeShielded(attempt, cause: cause(of: error, stop: nil, log: nil), log: nil)
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
            workerID: workerID, logger: logger, clock: clock)
        let keeper = LeaseKeeper(
            catalog: catalog, buildID: build.id, workerID: workerID, leaseDuration: leaseDuration,
            renewInterval: renewInterval, logger: logger, clock: clock)
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
        let cause: AttemptEndStateMachine.Cause
        switch result {
        case .success(let success): cause = .succeeded(success.timings)
        case .failure(let error): cause = self.cause(of: error, stop: reason, log: log)
        }
        return await concludeShielded(attempt, cause: cause, log: log)
    }
}
