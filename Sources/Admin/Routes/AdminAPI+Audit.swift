import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import Storage

extension AdminAPI {
    func registerAudit(on router: Router<AdminRequestContext>) {
        router.get("/api/audit") { request, _ in try await auditLog(request) }
    }

    /// `GET /api/audit?limit=&before=&action=&tokenId=`: newest first.
    func auditLog(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit =
            try Self.integer(query["limit"].map(String.init), name: "limit", range: 1...AuditLog.maxPageSize) ?? 50
        let before = try Self.integer(query["before"].map(String.init), name: "before", range: 1...Int.max)
        // This node's coalesced failed attempts first, so the page is complete.
        await recorder?.flushFailures()
        let page = try await catalog.auditEvents(
            AuditQuery(
                limit: limit, before: before.map(Int64.init), action: query["action"].map(String.init),
                tokenID: query["tokenId"].map(String.init)))
        return try json(AuditList(events: page.events, nextBefore: page.nextBefore))
    }
}

/// `{"events": […], "nextBefore": id}`.
struct AuditList: Encodable, Sendable {
    let events: [AuditEvent]
    let nextBefore: Int64?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        var list = container.nestedUnkeyedContainer(forKey: AnyCodingKey("events"))
        for event in events {
            var entry = list.nestedContainer(keyedBy: AnyCodingKey.self)
            try entry.encode(event.id, forKey: AnyCodingKey("id"))
            try entry.encode(event.time, forKey: AnyCodingKey("time"))
            try entry.encode(event.tokenID, forKey: AnyCodingKey("tokenId"))
            try entry.encode(event.tokenName, forKey: AnyCodingKey("tokenName"))
            try entry.encode(event.action, forKey: AnyCodingKey("action"))
            try entry.encode(event.target, forKey: AnyCodingKey("target"))
            try entry.encode(event.outcome, forKey: AnyCodingKey("outcome"))
            try entry.encode(event.clientAddress, forKey: AnyCodingKey("clientAddress"))
            try entry.encode(event.count, forKey: AnyCodingKey("count"))
        }
        try container.encode(nextBefore, forKey: AnyCodingKey("nextBefore"))
    }
}
