import Logging
import Model
import Storage

/// What wakes idle workers before their poll interval is over: ``wake()``
/// (the admin API queued a build), a queued build on the bus, a build that
/// ended on any node (a queued build of its site may be claimed now), a
/// missed bus event (something may have been queued), and the sweep
/// requeueing a build (`BuildWorkerPool+Sweep.swift`).
extension BuildWorkerPool {
    /// Makes idle workers look for queued builds now.
    public func wake() {
        wakeSignal.wake()
    }

    /// Wakes idle workers whenever a build becomes queued or ends; drops the
    /// dependency cache of a deleted site.
    func listenForQueuedBuilds(_ events: BusSubscription<CatalogEvent>) async {
        for await delivery in events {
            if isStopping { break }
            switch delivery {
            case .value(.buildChanged(let build)) where build.status == .queued || build.status.isFinal:
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
