import Model
import Storage

/// How one claimed build attempt ends, as a value-type state machine: it
/// takes the facts (what stopped the attempt, whether it has a log, its
/// number and the queue's limit, the catalog's answers) and returns the
/// actions the pool carries out (`BuildWorkerPool+Ending.swift`). It holds
/// no catalog, store, bus or clock, so every ending is tested on its own.
///
/// ```
/// initial ──begin(.succeeded / .canceled / .leaseLost)──────────────────────▶ done
///    │──begin(.failed)──▶ awaitingFailureRecord ──failureRecorded(_:)──▶ done
///    └──begin(.release)─▶ awaitingRelease ──────releaseAnswered(_:)────▶ done
/// ```
///
/// A batch of actions that asks the catalog something
/// (``Action/recordFailure(message:retryable:)``, ``Action/releaseBuild``)
/// ends with that request: the pool carries out the batch in order and
/// passes the answer back, which returns the next batch. Every path has
/// exactly one ``Action/report(_:_:_:)``. Activation is not among the
/// actions: ``BuildPipeline`` activates before the attempt succeeds.
struct AttemptEndStateMachine {
    /// What is known of the attempt when it ends.
    struct Facts: Sendable, Hashable {
        /// The attempt's number, from 1.
        var attempt: Int
        /// The queue's ``QueueSettings/maxAttempts``.
        var maxAttempts: Int
        /// Whether the attempt got as far as opening its log.
        var hasLog: Bool
    }

    /// What stopped the attempt.
    enum Cause: Sendable, Hashable {
        /// Published and activated.
        case succeeded(BuildTimings)
        /// `message` is the error's message as it may be shown: secrets
        /// masked, URL credentials redacted.
        case failed(BuildError, message: String)
        /// The build was canceled; nothing may be activated.
        case canceled
        /// This pool stops the build (a shutdown, past any drain): it goes back to the queue.
        case release
        /// The catalog took the build back; this worker must not touch it again.
        case leaseLost(String)
    }

    /// The catalog's answer to ``Action/recordFailure(message:retryable:)``.
    enum FailureRecord: Sendable, Hashable {
        /// The catalog queued the build again (attempts remain).
        case requeued
        /// The build failed for good.
        case failed
        /// The build had been canceled meanwhile (`build_canceled`).
        case canceled
        /// Anything else went wrong, with its description: the lease will
        /// expire and the sweep requeues or fails the build.
        case notRecorded(String)
    }

    /// What the pool does, in order.
    enum Action: Sendable, Hashable {
        /// A system line in the attempt's log (and its live log).
        case appendToLog(String)
        /// The log file is complete: no line is added after this.
        case finishLog
        /// Store the log file as `logs/<siteId>/<buildId>.log`.
        case persistLog
        /// Record the failure in the catalog; the answer goes to
        /// ``AttemptEndStateMachine/failureRecorded(_:)``.
        case recordFailure(message: String, retryable: Bool)
        /// Give the build back to the queue; whether the catalog took it goes
        /// to ``AttemptEndStateMachine/releaseAnswered(_:)``.
        case releaseBuild
        /// Delete the objects of a build that will never be served.
        case removePartialObjects
        /// The attempt's report (its duration ends when this is carried out).
        case report(BuildReport.Outcome, BuildError?, BuildTimings?)
        /// The build is over: end its live log.
        case closeLiveLog
        /// The build goes on elsewhere: end its live log only when this pool
        /// is stopping (whether it is stopping is read when this is carried out).
        case closeLiveLogIfStopping
    }

    private enum State: Sendable, Hashable {
        case initial
        /// `logStored`: the log was stored before the failure was recorded,
        /// because the next attempt starts its log from the stored one.
        case awaitingFailureRecord(BuildError, logStored: Bool)
        case awaitingRelease
        case done
    }

    let facts: Facts
    private var state = State.initial

    init(facts: Facts) {
        self.facts = facts
    }

    /// Whether the machine returned its last actions.
    var isDone: Bool { state == .done }

    /// The first actions for the attempt's end.
    mutating func begin(_ cause: Cause) -> [Action] {
        guard state == .initial else { preconditionFailure("begin(_:) called twice") }
        var actions: [Action] = []
        switch cause {
        case .succeeded(let timings):
            log(
                "build succeeded in \(DurationText.format(timings.total)) (checkout \(DurationText.format(timings.checkout)), commands \(DurationText.format(timings.commands)), publish \(DurationText.format(timings.publish)), activation \(DurationText.format(timings.activate)))",
                into: &actions)
            actions.append(.report(.succeeded, nil, timings))
            return finish(actions, final: true, storeLog: true)
        case .failed(let error, let message):
            log("build failed: \(message)", into: &actions)
            // The catalog queues a retryable failure again while attempts
            // remain. The next attempt starts its log from the stored one,
            // so this attempt's log is stored before the build is queued.
            let requeues = error.isTransient && facts.attempt < facts.maxAttempts
            let storesLogFirst = requeues && facts.hasLog
            if storesLogFirst {
                actions.append(
                    .appendToLog(
                        "the failure looks temporary; the build is queued again (attempt \(facts.attempt + 1) of \(facts.maxAttempts))"
                    ))
                actions += [.finishLog, .persistLog]
            }
            actions.append(.recordFailure(message: message, retryable: error.isTransient))
            state = .awaitingFailureRecord(error, logStored: storesLogFirst)
            return actions
        case .canceled:
            log("build canceled; nothing was activated", into: &actions)
            actions += [.removePartialObjects, .report(.canceled, .canceled, nil)]
            return finish(actions, final: true, storeLog: true)
        case .release:
            state = .awaitingRelease
            return [.releaseBuild]
        case .leaseLost(let why):
            log("stopped working on the build: \(why)", into: &actions)
            actions.append(.report(.leaseLost, nil, nil))
            return finish(actions, final: false, storeLog: false)
        }
    }

    /// The actions after the catalog answered ``Action/recordFailure(message:retryable:)``.
    mutating func failureRecorded(_ record: FailureRecord) -> [Action] {
        guard case .awaitingFailureRecord(let error, let logStored) = state else {
            preconditionFailure("failureRecorded(_:) without a failure to record")
        }
        var actions: [Action] = []
        switch record {
        case .requeued:
            actions += [.report(.retrying, error, nil), .removePartialObjects]
            return finish(actions, final: false, storeLog: !logStored, logFinished: logStored)
        case .failed:
            actions += [.report(.failed, error, nil), .removePartialObjects]
            return finish(actions, final: true, storeLog: !logStored, logFinished: logStored)
        case .canceled:
            log("build canceled", into: &actions)
            actions += [.removePartialObjects, .report(.canceled, nil, nil)]
            return finish(actions, final: true, storeLog: !logStored, logFinished: logStored)
        case .notRecorded(let why):
            actions.append(
                .report(.leaseLost, .catalogFailed("the failure could not be recorded: \(why)", transient: true), nil))
            return finish(actions, final: false, storeLog: false, logFinished: logStored)
        }
    }

    /// The actions after ``Action/releaseBuild``: `released` when the
    /// catalog took the build back, false when it could not (its lease will expire).
    mutating func releaseAnswered(_ released: Bool) -> [Action] {
        guard state == .awaitingRelease else { preconditionFailure("releaseAnswered(_:) without a release") }
        var actions: [Action] = []
        if released { log("Slipway is shutting down: the build was stopped and queued again", into: &actions) }
        actions.append(.report(.released, nil, nil))
        return finish(actions, final: true, storeLog: released)
    }

    private func log(_ text: String, into actions: inout [Action]) {
        if facts.hasLog { actions.append(.appendToLog(text)) }
    }

    /// The log's end, after the decision: `final` when the build is over
    /// (no attempt follows anywhere).
    private mutating func finish(
        _ actions: [Action], final: Bool, storeLog: Bool, logFinished: Bool = false
    ) -> [Action] {
        state = .done
        var actions = actions
        if facts.hasLog {
            if !logFinished { actions.append(.finishLog) }
            if storeLog { actions.append(.persistLog) }
            actions.append(final ? .closeLiveLog : .closeLiveLogIfStopping)
        } else if final {
            actions.append(.closeLiveLog)
        }
        return actions
    }

    // MARK: Causes

    /// Maps whatever stopped the pipeline to the attempt's cause.
    /// - Parameters:
    ///   - stop: why the lease keeper stopped the build, if it did.
    ///   - isReleasing: whether the pool is stopping its running builds (a
    ///     shutdown without a drain, or past the drain's deadline). A build
    ///     that fails while the pool only drains fails as it would otherwise.
    ///   - shown: makes a message safe to show (masks secrets, redacts URL credentials).
    static func cause(
        of error: any Error, stop: StopReason?, isReleasing: Bool, shown: (String) -> String
    ) -> Cause {
        switch stop {
        case .canceled: return .canceled
        case .leaseLost(let why): return .leaseLost(why)
        case nil: break
        }
        // Whatever broke while this pool stops its builds was most likely
        // the stop itself; the build runs again later rather than failing for it.
        if isReleasing { return .release }
        func failed(_ error: BuildError) -> Cause { .failed(error, message: shown(error.message)) }
        switch error {
        case let error as BuildError:
            return error.code == .canceled ? .canceled : failed(error)
        case let error as CatalogError:
            switch error.code {
            case .buildCanceled: return .canceled
            case .leaseLost, .buildNotFound, .illegalTransition: return .leaseLost(error.message)
            case .closed: return .leaseLost("the catalog was closed")
            case .siteNotFound: return .leaseLost("the deployment was deleted")
            default:
                return failed(.catalogFailed("the catalog failed during the build: \(error.message)", transient: true))
            }
        case let error as ObjectStoreError:
            return failed(.storeFailed(error.message, transient: error.isTransient))
        case is CancellationError:
            return .release
        default:
            return failed(
                BuildError(code: .workspaceFailed, message: "the build stopped on an unexpected error: \(error)"))
        }
    }
}
