import Logging
import Model
import Storage

/// The end of an attempt, carried out: ``AttemptEndStateMachine`` decides
/// from the facts, these functions do what it returns against the catalog,
/// the store and the bus.
extension BuildWorkerPool {
    /// The cause of an attempt's end that the pipeline (or its setup) threw.
    func cause(of error: any Error, stop: StopReason?, log: BuildLog?) -> AttemptEndStateMachine.Cause {
        AttemptEndStateMachine.cause(of: error, stop: stop, isReleasing: isReleasing) { message in
            log?.sanitize(message) ?? RepositorySource.redact(message)
        }
    }

    /// ``conclude(_:cause:log:)`` outside the calling task's cancellation:
    /// when the pool stops the build, it must still be released, its log
    /// stored, its failure recorded.
    func concludeShielded(_ attempt: Attempt, cause: AttemptEndStateMachine.Cause, log: BuildLog?) async
        -> BuildReport
    {
        await Task { await conclude(attempt, cause: cause, log: log) }.value
    }

    /// Records the end of an attempt, stores its log, closes the live log
    /// when the build is over: the actions of ``AttemptEndStateMachine``, in order.
    private func conclude(_ attempt: Attempt, cause: AttemptEndStateMachine.Cause, log: BuildLog?) async
        -> BuildReport
    {
        let build = attempt.build
        var machine = AttemptEndStateMachine(
            facts: AttemptEndStateMachine.Facts(
                attempt: build.attempt, maxAttempts: catalog.queueSettings.maxAttempts, hasLog: log != nil))
        var actions = machine.begin(cause)
        var report: BuildReport?
        while !actions.isEmpty {
            var next: [AttemptEndStateMachine.Action] = []
            for action in actions {
                switch action {
                case .appendToLog(let text):
                    log?.system(text)
                case .finishLog:
                    log?.finish()
                case .persistLog:
                    if let log { await persist(log, of: build) }
                case .recordFailure(let message, let retryable):
                    next = machine.failureRecorded(
                        await recordFailure(of: attempt, message: message, retryable: retryable))
                case .releaseBuild:
                    next = machine.releaseAnswered(await release(attempt))
                case .removePartialObjects:
                    await removePartialObjects(of: build)
                case .report(let outcome, let error, let timings):
                    report = attempt.report(outcome, error, timings)
                case .closeLiveLog:
                    bus.closeLog(buildID: build.id)
                case .closeLiveLogIfStopping:
                    if isStopping { bus.closeLog(buildID: build.id) }
                }
            }
            actions = next
        }
        guard let report, machine.isDone else { preconditionFailure("the attempt's end made no report") }
        return report
    }

    /// Records a failure in the catalog, which queues the build again when
    /// it is retryable and attempts remain.
    private func recordFailure(
        of attempt: Attempt, message: String, retryable: Bool
    ) async -> AttemptEndStateMachine.FailureRecord {
        let build = attempt.build
        do {
            let finished = try await catalog.finishBuild(
                buildID: build.id, workerID: attempt.workerID,
                result: .failure(message: message, retryable: retryable))
            return finished.status == .queued ? .requeued : .failed
        } catch let catalogError as CatalogError where catalogError.code == .buildCanceled {
            return .canceled
        } catch {
            // The lease expires and the sweep requeues or fails the build.
            logger.error("could not record the failure of build \(build.id): \(error)")
            return .notRecorded("\(error)")
        }
    }

    /// Gives the build back to the queue; false when the catalog could not take it.
    private func release(_ attempt: Attempt) async -> Bool {
        let build = attempt.build
        do {
            _ = try await catalog.releaseBuild(buildID: build.id, workerID: attempt.workerID)
            return true
        } catch {
            logger.warning("could not release build \(build.id) (its lease will expire): \(error)")
            return false
        }
    }
}
