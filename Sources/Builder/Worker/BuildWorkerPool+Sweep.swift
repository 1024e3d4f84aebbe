import Foundation
import Logging
import Model
import Storage
import Synchronization

/// The lease sweep: every ``BuilderConfiguration/sweepInterval`` (on the
/// pool's clock) expired leases are taken back — the builds of workers that
/// died are requeued or failed, never left `building` — and containers and
/// workspaces that no running attempt owns are removed.
extension BuildWorkerPool {
    func sweeperLoop() async {
        while !isStopping && !Task.isCancelled {
            await sweepOnce()
            do { try await clock.sleep(for: configuration.sweepInterval) } catch { break }
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
}
