import Foundation
import Logging
import Model
import Storage
import Synchronization

/// Writes the audit log: one entry per change made through the API,
/// written before the answer goes out, and refused authentication attempts
/// coalesced in memory.
///
/// Failed attempts are not written one by one: an attacker guessing tokens
/// would turn every guess into a database write. They are counted per
/// client address, token (when the refused token was a known one, revoked
/// or expired) and outcome, and written as one `auth.failed` entry per such
/// key with its `count` when ``flushFailures()`` runs: every few seconds
/// (``AdminMaintenance``), before the log is read, and when the server
/// stops. At most ``maxPendingKeys`` keys are held; attempts beyond that
/// are counted under one entry without an address.
final class AuditRecorder: Sendable {
    static let maxPendingKeys = 10_000
    static let failedAction = "auth.failed"

    struct FailureKey: Hashable, Sendable {
        var clientAddress: String?
        var tokenID: String?
        var tokenName: String?
        var outcome: Int
    }

    private let catalog: any Catalog
    private let logger: Logger
    private let pending = Mutex<[FailureKey: Int]>([:])

    init(catalog: any Catalog, logger: Logger) {
        self.catalog = catalog
        self.logger = logger
    }

    /// Records one change. A catalog that fails loses the entry (the change
    /// itself is done); the failure is logged.
    func record(_ draft: AuditEventDraft) async {
        do {
            try await catalog.recordAuditEvents([draft])
        } catch {
            logger.error(
                "an audit entry could not be written",
                metadata: ["action": "\(draft.action)", "outcome": "\(draft.outcome)", "error": "\(error)"])
        }
    }

    /// Counts a refused authentication attempt, to be written by the next flush.
    func recordFailure(_ key: FailureKey) {
        pending.withLock { table in
            var key = key
            if table[key] == nil, table.count >= Self.maxPendingKeys {
                key = FailureKey(clientAddress: nil, tokenID: nil, tokenName: nil, outcome: key.outcome)
            }
            table[key, default: 0] += 1
        }
    }

    /// Attempts counted and not yet written.
    var pendingFailures: Int { pending.withLock { $0.values.reduce(0, +) } }

    /// Writes the counted failures as `auth.failed` entries. Counts that
    /// cannot be written are kept for the next flush.
    func flushFailures() async {
        let taken = pending.withLock { table -> [FailureKey: Int] in
            defer { table = [:] }
            return table
        }
        guard !taken.isEmpty else { return }
        let drafts = taken.sorted { ($0.key.clientAddress ?? "", $0.value) < ($1.key.clientAddress ?? "", $1.value) }
            .map { key, count in
                AuditEventDraft(
                    tokenID: key.tokenID, tokenName: key.tokenName, action: Self.failedAction, target: key.tokenID,
                    outcome: key.outcome, clientAddress: key.clientAddress, count: count)
            }
        do {
            try await catalog.recordAuditEvents(drafts)
        } catch {
            logger.warning(
                "failed authentication attempts could not be written to the audit log; kept for later",
                metadata: ["error": "\(error)"])
            pending.withLock { table in
                for (key, count) in taken { table[key, default: 0] += count }
            }
        }
    }
}
