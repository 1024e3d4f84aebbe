import Synchronization

/// Wakes idle workers when a build is queued, without losing a wake that
/// arrives between a worker's empty claim and its wait.
///
/// A worker reads ``generation`` before it claims; ``wait(after:timeout:)``
/// returns at once when a wake happened since.
final class WakeSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waiters whose timer fired before they started waiting.
        var expired: Set<UInt64> = []
        /// Waiters between the start and the end of ``wait(after:timeout:)``.
        var active: Set<UInt64> = []
    }

    private let state = Mutex(State())
    private let clock: any Clock<Duration>

    /// - Parameter clock: what ``wait(after:timeout:)`` times its timeout on.
    init(clock: any Clock<Duration> = ContinuousClock()) {
        self.clock = clock
    }

    /// Increases with every ``wake()``.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// Wakes every waiting worker.
    func wake() {
        let waiters = state.withLock { state in
            state.generation &+= 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns after a wake later than `generation`, after `timeout`, or when
    /// the task is cancelled.
    func wait(after generation: UInt64, timeout: Duration) async {
        let id = state.withLock { state in
            state.nextWaiter &+= 1
            state.active.insert(state.nextWaiter)
            return state.nextWaiter
        }
        let timer = Task { [weak self, clock] in
            try? await clock.sleep(for: timeout)
            self?.resume(id)
        }
        defer {
            timer.cancel()
            state.withLock { state in
                state.active.remove(id)
                state.expired.remove(id)
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.generation != generation || Task.isCancelled || state.expired.remove(id) != nil {
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            resume(id)
        }
    }

    private func resume(_ id: UInt64) {
        let waiter = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                if state.active.contains(id) { state.expired.insert(id) }
                return nil as CheckedContinuation<Void, Never>?
            }
            return waiter
        }
        waiter?.resume()
    }
}
