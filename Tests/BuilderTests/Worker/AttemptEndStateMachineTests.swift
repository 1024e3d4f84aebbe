import Foundation
import Model
import Storage
import Testing

@testable import Builder

/// Every way an attempt ends, and the exact actions the pool carries out
/// for it: no catalog, no store, no runner, no clock.
struct AttemptEndStateMachineTests {
    typealias Machine = AttemptEndStateMachine

    static let transient = BuildError.storeFailed("the store answered 503", transient: true)
    static let permanent = BuildError.commandFailed(step: "build", command: "npm run build", exitCode: 2)

    static func machine(attempt: Int = 1, maxAttempts: Int = 3, hasLog: Bool = true) -> Machine {
        Machine(facts: Machine.Facts(attempt: attempt, maxAttempts: maxAttempts, hasLog: hasLog))
    }

    static func failed(_ error: BuildError) -> Machine.Cause { .failed(error, message: error.message) }

    // MARK: Endings without a question to the catalog

    @Test func aSuccessIsLoggedReportedStoredAndClosesTheLiveLog() {
        var timings = BuildTimings()
        timings.checkout = .milliseconds(1500)
        timings.commands = .seconds(20)
        timings.publish = .milliseconds(250)
        timings.activate = .milliseconds(5)
        timings.total = .seconds(22)
        var machine = Self.machine()
        #expect(
            machine.begin(.succeeded(timings)) == [
                .appendToLog(
                    "build succeeded in 22s (checkout 1.5s, commands 20s, publish 250ms, activation 5ms)"),
                .report(.succeeded, nil, timings), .finishLog, .persistLog, .closeLiveLog,
            ])
        #expect(machine.isDone)
    }

    @Test func aCancelRemovesTheObjectsAndEndsTheBuild() {
        var machine = Self.machine()
        #expect(
            machine.begin(.canceled) == [
                .appendToLog("build canceled; nothing was activated"), .removePartialObjects,
                .report(.canceled, .canceled, nil), .finishLog, .persistLog, .closeLiveLog,
            ])
        #expect(machine.isDone)
    }

    @Test func aLostLeaseLeavesTheBuildAndItsStoredLogAlone() {
        var machine = Self.machine()
        #expect(
            machine.begin(.leaseLost("lease_lost: another worker holds it")) == [
                .appendToLog("stopped working on the build: lease_lost: another worker holds it"),
                .report(.leaseLost, nil, nil), .finishLog, .closeLiveLogIfStopping,
            ])
        #expect(machine.isDone)
    }

    // MARK: Failures

    @Test func aTransientFailureWithAttemptsLeftStoresTheLogBeforeItIsQueuedAgain() {
        var machine = Self.machine(attempt: 1, maxAttempts: 3)
        #expect(
            machine.begin(Self.failed(Self.transient)) == [
                .appendToLog("build failed: the store answered 503"),
                .appendToLog("the failure looks temporary; the build is queued again (attempt 2 of 3)"),
                .finishLog, .persistLog,
                .recordFailure(message: "the store answered 503", retryable: true),
            ])
        #expect(!machine.isDone)
        #expect(
            machine.failureRecorded(.requeued) == [
                .report(.retrying, Self.transient, nil), .removePartialObjects, .closeLiveLogIfStopping,
            ])
        #expect(machine.isDone)
    }

    @Test func aTransientFailureOnTheLastAttemptFailsTheBuild() {
        var machine = Self.machine(attempt: 3, maxAttempts: 3)
        #expect(
            machine.begin(Self.failed(Self.transient)) == [
                .appendToLog("build failed: the store answered 503"),
                .recordFailure(message: "the store answered 503", retryable: true),
            ])
        #expect(
            machine.failureRecorded(.failed) == [
                .report(.failed, Self.transient, nil), .removePartialObjects, .finishLog, .persistLog,
                .closeLiveLog,
            ])
        #expect(machine.isDone)
    }

    @Test func aFailingCommandFailsAtOnce() {
        let message = Self.permanent.message
        var machine = Self.machine(attempt: 1, maxAttempts: 3)
        #expect(
            machine.begin(Self.failed(Self.permanent)) == [
                .appendToLog("build failed: \(message)"), .recordFailure(message: message, retryable: false),
            ])
        #expect(
            machine.failureRecorded(.failed) == [
                .report(.failed, Self.permanent, nil), .removePartialObjects, .finishLog, .persistLog,
                .closeLiveLog,
            ])
    }

    @Test func aTimeoutIsAFinalFailure() {
        let timeout = BuildError.timedOut(after: .seconds(120))
        let cause = Machine.cause(of: timeout, stop: nil, isReleasing: false) { $0 }
        #expect(cause == .failed(timeout, message: timeout.message))
        var machine = Self.machine()
        #expect(
            machine.begin(cause) == [
                .appendToLog("build failed: \(timeout.message)"),
                .recordFailure(message: timeout.message, retryable: false),
            ])
        #expect(
            machine.failureRecorded(.failed) == [
                .report(.failed, timeout, nil), .removePartialObjects, .finishLog, .persistLog, .closeLiveLog,
            ])
    }

    @Test func aFailureOfABuildCanceledMeanwhileEndsAsCanceled() {
        var machine = Self.machine()
        _ = machine.begin(Self.failed(Self.permanent))
        #expect(
            machine.failureRecorded(.canceled) == [
                .appendToLog("build canceled"), .removePartialObjects, .report(.canceled, nil, nil), .finishLog,
                .persistLog, .closeLiveLog,
            ])
    }

    @Test func aRequeuedFailureCanceledMeanwhileDoesNotStoreTheLogTwice() {
        var machine = Self.machine(attempt: 1, maxAttempts: 3)
        _ = machine.begin(Self.failed(Self.transient))
        #expect(
            machine.failureRecorded(.canceled) == [
                .appendToLog("build canceled"), .removePartialObjects, .report(.canceled, nil, nil), .closeLiveLog,
            ])
    }

    @Test func aFailureTheCatalogCouldNotRecordIsLeftToTheSweep() {
        var machine = Self.machine()
        _ = machine.begin(Self.failed(Self.permanent))
        #expect(
            machine.failureRecorded(.notRecorded("unavailable: disk I/O error")) == [
                .report(
                    .leaseLost,
                    .catalogFailed("the failure could not be recorded: unavailable: disk I/O error", transient: true),
                    nil),
                .finishLog, .closeLiveLogIfStopping,
            ])
        #expect(machine.isDone)
    }

    // MARK: Release

    @Test func aReleasedBuildSaysSoInItsStoredLog() {
        var machine = Self.machine()
        #expect(machine.begin(.release) == [.releaseBuild])
        #expect(!machine.isDone)
        #expect(
            machine.releaseAnswered(true) == [
                .appendToLog("Slipway is shutting down: the build was stopped and queued again"),
                .report(.released, nil, nil), .finishLog, .persistLog, .closeLiveLog,
            ])
        #expect(machine.isDone)
    }

    @Test func aReleaseTheCatalogRefusedLeavesTheStoredLogAlone() {
        var machine = Self.machine()
        _ = machine.begin(.release)
        #expect(machine.releaseAnswered(false) == [.report(.released, nil, nil), .finishLog, .closeLiveLog])
    }

    // MARK: Without a log (the attempt failed before its log was opened)

    @Test func withoutALogOnlyTheCatalogTheObjectsAndTheLiveLogAreTouched() {
        var failed = Self.machine(hasLog: false)
        #expect(
            failed.begin(Self.failed(Self.transient)) == [
                .recordFailure(message: "the store answered 503", retryable: true)
            ])
        #expect(failed.failureRecorded(.requeued) == [.report(.retrying, Self.transient, nil), .removePartialObjects])

        var final = Self.machine(hasLog: false)
        _ = final.begin(Self.failed(Self.permanent))
        #expect(
            final.failureRecorded(.failed) == [
                .report(.failed, Self.permanent, nil), .removePartialObjects, .closeLiveLog,
            ])

        var lost = Self.machine(hasLog: false)
        #expect(lost.begin(.leaseLost("the deployment was deleted")) == [.report(.leaseLost, nil, nil)])

        var released = Self.machine(hasLog: false)
        _ = released.begin(.release)
        #expect(released.releaseAnswered(true) == [.report(.released, nil, nil), .closeLiveLog])
    }

    @Test func everyPathEndsWithOneReportAndTheCatalogQuestionLastInItsBatch() {
        let causes: [Machine.Cause] = [
            .succeeded(BuildTimings()), Self.failed(Self.transient), Self.failed(Self.permanent), .canceled,
            .release, .leaseLost("gone"),
        ]
        let records: [Machine.FailureRecord] = [.requeued, .failed, .canceled, .notRecorded("x")]
        for hasLog in [true, false] {
            for cause in causes {
                for answer in 0..<max(records.count, 2) {
                    var machine = Self.machine(hasLog: hasLog)
                    var actions = machine.begin(cause)
                    var all: [Machine.Action] = []
                    while !actions.isEmpty {
                        all += actions
                        let asks = actions.indices.filter {
                            if case .recordFailure = actions[$0] { return true }
                            return actions[$0] == .releaseBuild
                        }
                        #expect(asks.isEmpty || asks == [actions.count - 1], "\(cause): \(actions)")
                        switch actions.last {
                        case .recordFailure: actions = machine.failureRecorded(records[answer % records.count])
                        case .releaseBuild: actions = machine.releaseAnswered(answer % 2 == 0)
                        default: actions = []
                        }
                    }
                    #expect(machine.isDone, "\(cause)")
                    let reports = all.filter { if case .report = $0 { true } else { false } }
                    #expect(reports.count == 1, "\(cause): \(all)")
                    #expect(all.filter { $0 == .persistLog }.count <= 1, "\(cause): \(all)")
                    #expect(!hasLog || all.contains(.finishLog), "\(cause): \(all)")
                }
            }
        }
    }

    // MARK: Causes

    @Test func theLeaseKeepersReasonWinsOverWhateverThePipelineThrew() {
        let error = CancellationError()
        #expect(Machine.cause(of: error, stop: .canceled, isReleasing: true) { $0 } == .canceled)
        #expect(Machine.cause(of: error, stop: .leaseLost("swept"), isReleasing: true) { $0 } == .leaseLost("swept"))
    }

    @Test func anythingThatBreaksWhileThePoolStopsReleasesTheBuild() {
        #expect(Machine.cause(of: Self.permanent, stop: nil, isReleasing: true) { $0 } == .release)
        #expect(Machine.cause(of: BuildError.canceled, stop: nil, isReleasing: true) { $0 } == .release)
        #expect(Machine.cause(of: CancellationError(), stop: nil, isReleasing: false) { $0 } == .release)
    }

    @Test func catalogRefusalsMapToCancelOrLostLease() {
        func cause(_ code: CatalogError.Code) -> Machine.Cause {
            Machine.cause(of: CatalogError(code: code, message: "refused"), stop: nil, isReleasing: false) { $0 }
        }
        #expect(cause(.buildCanceled) == .canceled)
        #expect(cause(.leaseLost) == .leaseLost("refused"))
        #expect(cause(.buildNotFound) == .leaseLost("refused"))
        #expect(cause(.illegalTransition) == .leaseLost("refused"))
        #expect(cause(.closed) == .leaseLost("the catalog was closed"))
        #expect(cause(.siteNotFound) == .leaseLost("the deployment was deleted"))
        let unavailable = BuildError.catalogFailed("the catalog failed during the build: refused", transient: true)
        #expect(cause(.unavailable) == .failed(unavailable, message: unavailable.message))
        #expect(Machine.cause(of: BuildError.canceled, stop: nil, isReleasing: false) { $0 } == .canceled)
    }

    @Test func storeAndUnexpectedErrorsFailWithAShownMessage() {
        let shown: (String) -> String = { $0.replacingOccurrences(of: "hunter2-secret", with: "***") }
        let store = ObjectStoreError(code: .serverError, message: "503 for hunter2-secret", status: 503)
        let storeFailure = BuildError.storeFailed("503 for hunter2-secret", transient: store.isTransient)
        #expect(
            Machine.cause(of: store, stop: nil, isReleasing: false, shown: shown)
                == .failed(storeFailure, message: "503 for ***"))
        #expect(storeFailure.isTransient)

        struct Odd: Error {}
        let cause = Machine.cause(of: Odd(), stop: nil, isReleasing: false) { $0 }
        guard case .failed(let error, _) = cause else {
            Issue.record("expected a failure, got \(cause)")
            return
        }
        #expect(error.code == .workspaceFailed && !error.isTransient)
        #expect(error.message.hasPrefix("the build stopped on an unexpected error: "))
    }
}
