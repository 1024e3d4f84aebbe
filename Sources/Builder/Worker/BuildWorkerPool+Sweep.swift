import Foundation
import Logging
import Model
import Storage
import Synchronization

/// The lease sweep: every ``BuilderConfiguration/sweepInterval`` (on the
/// pool's clock) expired leases are taken back — the builds of workers that
/// died are requeued or failed, never left `building` — and workspaces that
/// no running attempt owns are removed, with the build containers on the
/// engine, of any installation, that passed their deadline or whose build's
/// lease lapsed (``ContainerReaper``).
extension BuildWorkerPool {
    func sweeperLoop() async {
        while !isStopping && !Task.isCancelled {
            await sweepOnce()
            do { try await clock.sleep(for: configuration.sweepInterval) } catch { break }
        }
    }

    /// Takes back expired leases, then removes containers and workspaces
    /// that belong to no running attempt, and containers past their deadline.
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
        let lookup: @Sendable (String, Int) async -> AttemptLookup = { [self] buildID, attempt in
            await lookUpAttempt(buildID: buildID, attempt: attempt)
        }
        // A lease is given up by its holder after renewals failed for a whole
        // lease; a container is only removed for its lease once that passed too.
        await runner.removeAbandoned(leaseGrace: leaseDuration, lookup: lookup)
        await removeAbandonedWorkspaces { buildID, attempt in
            switch await lookup(buildID, attempt) {
            case .runningHere, .unknown: return true
            case .notFound: return false
            case .build(let build): return build.status == .building && build.attempt == attempt
            }
        }
    }

    /// What is known of attempt `attempt` of `buildID`: whether this pool
    /// runs it, else the catalog's row.
    private func lookUpAttempt(buildID: String, attempt: Int) async -> AttemptLookup {
        guard let id = BuildID(buildID) else { return .notFound }
        if state.withLock({ $0.running[id] == attempt }) { return .runningHere }
        do {
            return .build(try await catalog.build(id: id))
        } catch let error as CatalogError where error.code == .buildNotFound {
            return .notFound
        } catch {
            return .unknown
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
