public import Foundation
import Model
import PostgresNIO
public import Storage

/// The audit log (see ``Catalog/recordAuditEvents(_:)``).
extension PostgresCatalog {
    public func recordAuditEvents(_ drafts: [AuditEventDraft]) async throws {
        guard !drafts.isEmpty else { return }
        let drafts = drafts.map(AuditLog.bounded)
        try await write { tx in
            for draft in drafts {
                try await tx.rows(
                    """
                    INSERT INTO audit_event (time, token_id, token_name, action, target, outcome, client_address, count)
                    VALUES (\(tx.now), \(draft.tokenID), \(draft.tokenName), \(draft.action), \(draft.target),
                        \(draft.outcome), \(draft.clientAddress), \(draft.count))
                    """)
            }
        }
    }

    public func auditEvents(_ query: AuditQuery) async throws -> AuditPage {
        try AuditLog.check(query)
        return try await read { tx in
            // NULL parameters switch a filter off.
            var events = try await tx.rows(
                """
                SELECT * FROM audit_event
                WHERE (\(query.before)::bigint IS NULL OR id < \(query.before))
                    AND (\(query.action)::text IS NULL OR action = \(query.action))
                    AND (\(query.tokenID)::text IS NULL OR token_id = \(query.tokenID))
                ORDER BY id DESC LIMIT \(query.limit + 1)
                """
            ).map(Self.auditEvent(from:))
            var next: Int64?
            if events.count > query.limit {
                events.removeLast()
                next = events.last?.id
            }
            return AuditPage(events: events, nextBefore: next)
        }
    }

    public func pruneAuditEvents(before cutoff: Date) async throws -> Int {
        try await write { tx in
            try await tx.rows(
                """
                WITH gone AS (DELETE FROM audit_event WHERE time < \(Millis.from(cutoff)) RETURNING 1)
                SELECT count(*) FROM gone
                """
            ).first?[0].decode(Int.self) ?? 0
        }
    }

    static func auditEvent(from row: PostgresRandomAccessRow) throws -> AuditEvent {
        AuditEvent(
            id: try row["id"].decode(Int64.self), time: Millis.date(try row["time"].decode(Int64.self)),
            tokenID: try row["token_id"].decode(String?.self), tokenName: try row["token_name"].decode(String?.self),
            action: try row["action"].decode(String.self), target: try row["target"].decode(String?.self),
            outcome: try row["outcome"].decode(Int.self), clientAddress: try row["client_address"].decode(String?.self),
            count: try row["count"].decode(Int.self))
    }
}
