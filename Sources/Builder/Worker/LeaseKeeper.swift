import Foundation
import Logging
import Model
import Storage

/// Why a worker must stop a build it holds.
enum StopReason: Sendable, Hashable {
    /// The build was canceled (the catalog recorded the worker's acknowledgement).
    case canceled
    /// The worker no longer holds the lease; someone else may run the build.
    case leaseLost(String)
}

/// Renews a build's lease well within its duration and reports when the
/// worker must stop: the build was canceled (`build_canceled`), the lease
/// was taken back (`lease_lost`, `build_not_found`), or renewals kept
/// failing until the lease ran out (the catalog is unreachable: by then
/// the sweep of a healthy process may have handed the build to another
/// worker, so this one must not publish).
struct LeaseKeeper: Sendable {
    var catalog: any Catalog
    var buildID: BuildID
    var workerID: String
    var leaseDuration: Duration
    var renewInterval: Duration
    var logger: Logger
    /// What renewals are timed on.
    var clock: any Clock<Duration> = ContinuousClock()

    /// Renews until the task is cancelled (returns nil) or the worker must stop.
    func keep() async -> StopReason? {
        await clock.keepLease(self)
    }

    /// ``keep()`` on `clock`, whose instants it compares.
    fileprivate func keep(on clock: some Clock<Duration>) async -> StopReason? {
        var lastRenewal = clock.now
        while true {
            do {
                try await clock.sleep(for: renewInterval)
            } catch {
                return nil
            }
            do {
                _ = try await catalog.renewLease(buildID: buildID, workerID: workerID, leaseDuration: leaseDuration)
                lastRenewal = clock.now
            } catch let error as CatalogError {
                switch error.code {
                case .buildCanceled:
                    return .canceled
                case .leaseLost, .buildNotFound, .illegalTransition:
                    return .leaseLost(error.message)
                default:
                    if Task.isCancelled { return nil }
                    logger.warning("renewing the lease of build \(buildID) failed: \(error)")
                    if lastRenewal.duration(to: clock.now) >= leaseDuration {
                        return .leaseLost(
                            "the lease could not be renewed for \(DurationText.format(leaseDuration)) (\(error.message))"
                        )
                    }
                }
            } catch {
                if Task.isCancelled { return nil }
                logger.warning("renewing the lease of build \(buildID) failed: \(error)")
                if lastRenewal.duration(to: clock.now) >= leaseDuration {
                    return .leaseLost("the lease could not be renewed for \(DurationText.format(leaseDuration))")
                }
            }
        }
    }
}

extension Clock where Duration == Swift.Duration {
    /// Opens the keeper's clock: its instants can only be compared on their own type.
    fileprivate func keepLease(_ keeper: LeaseKeeper) async -> StopReason? {
        await keeper.keep(on: self)
    }
}
