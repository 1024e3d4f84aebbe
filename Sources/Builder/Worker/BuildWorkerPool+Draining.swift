import Foundation
import Logging
import Synchronization

/// The drain at shutdown: once ``BuildWorkerPool/shutdown()`` has stopped
/// the claims, running builds may finish within
/// ``BuilderConfiguration/drainTimeout`` (measured on the pool's clock, their
/// leases still renewed by their workers); the ones still running at the
/// deadline are stopped and given back to the queue, as they all were at once
/// before drains existed. A rolling upgrade thus loses no work that fits the
/// drain, and never waits longer than it.
extension BuildWorkerPool {
    /// Waits until every worker has ended or the drain's deadline has passed;
    /// at the deadline (or when the caller is cancelled) the builds still
    /// running are stopped and released.
    func drain(_ workers: [Task<Void, Never>]) async {
        let timeout = configuration.drainTimeout
        let running = state.withLock { $0.running.count }
        guard timeout > .zero, running > 0 else { return }
        let deadline = Date().addingTimeInterval(Self.seconds(timeout))
        logger.notice(
            "draining build workers: running builds may finish before the deadline; nothing new is claimed",
            metadata: [
                "pool": "\(poolID)", "builds": "\(running)", "timeout": "\(DurationText.format(timeout))",
                "deadline": "\(deadline.formatted(.iso8601))",
            ])
        let clock = self.clock
        let drained = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for worker in workers { await worker.value }
                return true
            }
            group.addTask {
                // Cancelled (the caller gave up waiting) counts as the deadline.
                try? await clock.sleep(for: timeout)
                return false
            }
            let drained = await group.next() ?? true
            if !drained {
                // The first child only returns once the workers end: stop their builds now.
                let left = state.withLock { $0.running.count }
                logger.warning(
                    "the drain deadline passed: stopping the builds still running and giving them back to the queue",
                    metadata: ["pool": "\(poolID)", "builds": "\(left)"])
                releaseRunningBuilds(workers)
            }
            group.cancelAll()
            return drained
        }
        if drained {
            logger.notice(
                "drain finished: every running build ended", metadata: ["pool": "\(poolID)", "builds": "\(running)"])
        }
    }

    /// Stops the builds still running: their workers' tasks are cancelled,
    /// the runners kill their processes and each attempt ends as a release
    /// (``AttemptEndStateMachine/Cause/release``). Calling it again does nothing more.
    func releaseRunningBuilds(_ workers: [Task<Void, Never>]) {
        state.withLock { $0.releasing = true }
        for worker in workers { worker.cancel() }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
