import Foundation
import Logging
import Storage

/// The admin role's periodic work: writing the coalesced failed
/// authentication attempts to the audit log, and deleting audit entries
/// older than the retention (`SLIPWAY_AUDIT_RETENTION`). Every admin node
/// runs it; deleting is idempotent, so several nodes pruning one catalog
/// only repeat each other.
struct AdminMaintenance: Sendable {
    let catalog: any Catalog
    let recorder: AuditRecorder
    let retention: Duration
    let clock: @Sendable () -> Date
    let logger: Logger
    /// How often failed attempts are written.
    var flushInterval: Duration = .seconds(10)
    /// How often the audit log is pruned.
    var pruneInterval: Duration = .seconds(3600)

    /// Deletes the entries older than the retention, by `clock`; returns how many went.
    @discardableResult
    func pruneOnce() async -> Int {
        let cutoff = clock().addingTimeInterval(-Double(retention.components.seconds))
        do {
            let pruned = try await catalog.pruneAuditEvents(before: cutoff)
            if pruned > 0 { logger.info("audit retention deleted \(pruned) entries") }
            return pruned
        } catch {
            logger.warning("audit retention failed; retried at the next run", metadata: ["error": "\(error)"])
            return 0
        }
    }

    /// Runs until the task is cancelled, then writes what is still counted.
    func run() async {
        await pruneOnce()
        var sincePrune = Duration.zero
        while !Task.isCancelled {
            do { try await Task.sleep(for: flushInterval) } catch { break }
            await recorder.flushFailures()
            sincePrune += flushInterval
            if sincePrune >= pruneInterval {
                sincePrune = .zero
                await pruneOnce()
            }
        }
        await recorder.flushFailures()
    }
}
