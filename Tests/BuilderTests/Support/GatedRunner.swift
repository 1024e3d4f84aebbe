import Foundation
import Synchronization

@testable import Builder

/// A runner whose every run waits for ``open(failing:)``, then succeeds (the
/// checkout's files are the output) or fails like a build command. A
/// cancelled run throws `CancellationError`, as the real runners do once
/// they killed their processes.
final class GatedRunner: BuildRunner {
    private struct State {
        var isOpen = false
        var failure: BuildError?
        var started: [String] = []
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(State())

    var name: String { "gated" }
    var runsAsBuildUser: Bool { false }

    /// The builds whose run began, in order.
    var started: [String] { state.withLock { $0.started } }

    /// Lets every run (waiting or to come) end: successfully, or with `failing`.
    func open(failing: BuildError? = nil) {
        let waiters = state.withLock { state in
            state.isOpen = true
            state.failure = failing
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func run(_ job: RunJob, log: BuildLog) async throws -> RunReport {
        let id = state.withLock { state in
            state.started.append(job.buildID)
            state.next += 1
            return state.next
        }
        log.system("the gated run waits for its gate")
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
        if let failure = state.withLock({ $0.failure }) { throw failure }
        return RunReport(stepDurations: [.zero], totalDuration: .zero)
    }

    func removeAbandoned(leaseGrace: Duration, lookup: @escaping @Sendable (String, Int) async -> AttemptLookup) async {
    }

    func shutdown() async {}
}

/// The continuous clock, except that sleeps of ``held`` or longer last until
/// ``fire()`` (or their task's cancellation): a test decides when a long
/// deadline passes, without waiting for it or timing anything.
struct HeldClock: Clock {
    typealias Instant = ContinuousClock.Instant

    private struct State {
        var fired = false
        var next: UInt64 = 0
        var held: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    }

    private let base = ContinuousClock()
    private let state = Locked(State())
    let held: Duration

    init(holdingSleepsOf held: Duration) {
        self.held = held
    }

    var now: Instant { base.now }
    var minimumResolution: Duration { base.minimumResolution }

    /// How many held sleeps are under way.
    var heldSleeps: Int { state.withLock { $0.held.count } }

    /// Ends every held sleep, and makes later ones return at once.
    func fire() {
        let sleepers = state.withLock { state in
            state.fired = true
            defer { state.held = [:] }
            return Array(state.held.values)
        }
        for sleeper in sleepers { sleeper.resume() }
    }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        guard deadline - base.now >= held * 0.9 else {
            try await base.sleep(until: deadline, tolerance: tolerance)
            return
        }
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.fired || Task.isCancelled { return true }
                    state.held[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.held.removeValue(forKey: id) }
            sleeper?.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}
