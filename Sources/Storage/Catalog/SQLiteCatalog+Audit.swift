public import Foundation
import GRDB
import Model

/// The audit log (see ``Catalog/recordAuditEvents(_:)``).
extension SQLiteCatalog {
    public func recordAuditEvents(_ drafts: [AuditEventDraft]) async throws {
        guard !drafts.isEmpty else { return }
        let drafts = drafts.map(AuditLog.bounded)
        try await write { db, now, _ in
            for draft in drafts {
                try db.execute(
                    sql: """
                        INSERT INTO audit_event (time, token_id, token_name, action, target, outcome, client_address, count)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        now, draft.tokenID, draft.tokenName, draft.action, draft.target, draft.outcome,
                        draft.clientAddress, draft.count,
                    ])
            }
        }
    }

    public func auditEvents(_ query: AuditQuery) async throws -> AuditPage {
        try AuditLog.check(query)
        return try await read { db, _ in
            var conditions: [String] = []
            var arguments: [(any DatabaseValueConvertible)?] = []
            if let before = query.before {
                conditions.append("id < ?")
                arguments.append(before)
            }
            if let action = query.action {
                conditions.append("action = ?")
                arguments.append(action)
            }
            if let tokenID = query.tokenID {
                conditions.append("token_id = ?")
                arguments.append(tokenID)
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            // One more than asked for, to know whether an older page exists.
            arguments.append(query.limit + 1)
            var events = try Row.fetchAll(
                db, sql: "SELECT * FROM audit_event \(filter) ORDER BY id DESC LIMIT ?",
                arguments: StatementArguments(arguments)
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
        try await write { db, _, _ in
            try db.execute(sql: "DELETE FROM audit_event WHERE time < ?", arguments: [Millis.from(cutoff)])
            return db.changesCount
        }
    }

    static func auditEvent(from row: Row) throws -> AuditEvent {
        AuditEvent(
            id: try row.decode(forColumn: "id"), time: Millis.date(try row.decode(forColumn: "time")),
            tokenID: try row.decode(forColumn: "token_id"), tokenName: try row.decode(forColumn: "token_name"),
            action: try row.decode(forColumn: "action"), target: try row.decode(forColumn: "target"),
            outcome: try row.decode(forColumn: "outcome"), clientAddress: try row.decode(forColumn: "client_address"),
            count: try row.decode(forColumn: "count"))
    }
}
