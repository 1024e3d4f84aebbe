import AsyncHTTPClient
import Foundation
import Logging
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Admin

/// The audit log: every change through the API and every refused
/// authentication attempt, with who, what, on what, the outcome and from where.
@Suite struct AdminAuditTests {
    static func events(_ server: AdminTestServer, query: String = "") async throws -> [[String: Any]] {
        let reply = try await server.request(.GET, "/api/audit?limit=200\(query)")
        #expect(reply.status == 200, "\(reply.body)")
        return try #require(try reply.json["events"] as? [[String: Any]])
    }

    @Test func everyMutatingRouteIsRecordedWithTokenActionTargetOutcomeAndAddress() async throws {
        try await AdminTestServer.run { server in
            let ops = try await server.createToken(name: "ops", scope: "admin")
            func call(_ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> Int {
                try await server.request(method, path, body: body, token: ops.secret).status
            }
            #expect(
                try await call(.POST, "/api/deployments", body: #"{"slug": "blog", "repoUrl": "https://x.test/b.git"}"#)
                    == 201)
            let build = try await server.catalog.builds(siteID: try await server.catalog.site(slug: "blog").id).builds[
                0]
            #expect(try await call(.PATCH, "/api/deployments/blog", body: #"{"branch": "trunk"}"#) == 200)
            #expect(try await call(.POST, "/api/builds/\(build.id)/cancel") == 200)
            #expect(try await call(.POST, "/api/deployments/blog/builds") == 202)
            #expect(try await call(.POST, "/api/deployments/blog/rollback") == 409)
            #expect(try await call(.POST, "/api/deployments/blog/webhook-secret") == 200)
            let made = try await server.request(
                .POST, "/api/tokens", body: #"{"name": "ci", "scope": "deploy:blog"}"#, token: ops.secret)
            let madeID = try #require(try made.json["id"] as? String)
            #expect(try await call(.DELETE, "/api/tokens/\(madeID)") == 200)
            #expect(try await call(.DELETE, "/api/deployments/blog") == 204)
            // Reads are not recorded.
            #expect(try await call(.GET, "/api/deployments") == 200)

            let events = try await Self.events(server, query: "&tokenId=\(ops.id)")
            let seen = events.reversed().map {
                "\($0["action"] as? String ?? "?") \($0["target"] as? String ?? "-") \($0["outcome"] as? Int ?? 0)"
            }
            #expect(
                seen == [
                    "deployment.create blog 201", "deployment.update blog 200", "build.cancel \(build.id) 200",
                    "build.trigger blog 202", "deployment.rollback blog 409",
                    "deployment.rotate_webhook_secret blog 200", "token.create \(madeID) 201",
                    "token.revoke \(madeID) 200", "deployment.delete blog 204",
                ])
            for event in events {
                #expect(event["tokenName"] as? String == "ops")
                #expect(event["clientAddress"] as? String == "127.0.0.1")
                #expect(event["time"] is String)
                #expect(event["count"] as? Int == 1)
            }
            // The token used to create the API token is recorded; the secret never is.
            let everything = try await server.request(.GET, "/api/audit?limit=200")
            #expect(!everything.body.contains(ops.secret))
            #expect(!everything.body.contains(try #require(try made.json["token"] as? String)))
        }
    }

    @Test func refusalsByScopeAndTheWebhookAreRecordedForgedWebhooksAreNot() async throws {
        try await AdminTestServer.run { server in
            let secret = try await AdminWebhookTests.create(server, slug: "site")
            let reader = try await server.createToken(name: "reader", scope: "read")
            #expect(try await server.request(.DELETE, "/api/deployments/site", token: reader.secret).status == 403)
            let body = #"{"zen": "Design for failure."}"#
            let ping = try await AdminWebhookTests.deliver(
                server, slug: "site", event: "ping", body: body,
                signature: AdminWebhookTests.signature(body, secret: secret))
            #expect(ping.status == 200, "\(ping.body)")
            let forged = try await AdminWebhookTests.deliver(
                server, slug: "site", event: "ping", body: body,
                signature: "sha256=" + String(repeating: "0", count: 64))
            #expect(forged.status == 401)

            let refused = try #require(try await Self.events(server, query: "&action=deployment.delete").first)
            #expect(refused["outcome"] as? Int == 403)
            #expect(refused["tokenId"] as? String == reader.id)
            let hooks = try await Self.events(server, query: "&action=webhook.github")
            #expect(hooks.count == 1)
            #expect(hooks.first?["tokenName"] as? String == "github-webhook")
            #expect(hooks.first?["tokenId"] is NSNull)
            #expect(hooks.first?["target"] as? String == "site")
        }
    }

    @Test func failedAttemptsAreLimitedPerAddressAndEveryOneIsRecorded() async throws {
        let clock = TestClock()
        try await AdminTestServer.run(clock: clock, configure: { $0.maxFailedAttempts = 3 }) { server in
            let revoked = try await server.createToken(name: "old", scope: "read")
            _ = try await server.request(.DELETE, "/api/tokens/\(revoked.id)")
            for token in ["wrong-1", "slw_" + String(repeating: "a", count: 43), revoked.secret] {
                let reply = try await server.request(.GET, "/api/deployments", token: token)
                #expect(reply.status == 401, "\(reply.body)")
            }
            // The limit reached, even the right token is refused until the window passes.
            let limited = try await server.request(.GET, "/api/deployments")
            #expect(limited.status == 429 && limited.errorCode == "too_many_attempts")
            let retry = try #require(Int(limited.headers.first(name: "Retry-After") ?? ""))
            #expect((1...60).contains(retry))
            #expect(try await server.request(.GET, "/api/deployments", token: "wrong-again").status == 429)
            clock.advance(by: .seconds(60))
            let events = try await Self.events(server, query: "&action=auth.failed")
            let counts = events.reduce(into: [Int: Int]()) {
                $0[$1["outcome"] as? Int ?? 0, default: 0] += $1["count"] as? Int ?? 0
            }
            #expect(counts == [401: 3, 429: 2], "\(events)")
            #expect(events.allSatisfy { $0["clientAddress"] as? String == "127.0.0.1" })
            // The revoked token's attempt names it.
            #expect(events.contains { $0["tokenId"] as? String == revoked.id && $0["outcome"] as? Int == 401 })
            // Nothing of the refused tokens is kept.
            let body = try await server.request(.GET, "/api/audit").body
            #expect(!body.contains("wrong-1") && !body.contains(revoked.secret))
        }
    }

    @Test func aMissingTokenIsNotAFailedAttempt() async throws {
        try await AdminTestServer.run(clock: TestClock(), configure: { $0.maxFailedAttempts = 2 }) { server in
            for _ in 0..<5 {
                let anonymous = try await server.request(.GET, "/api/deployments", token: nil)
                #expect(anonymous.status == 401)
            }
            let signedIn = try await server.request(.GET, "/api/deployments")
            #expect(signedIn.status == 200)
            #expect(try await Self.events(server, query: "&action=auth.failed").isEmpty)
        }
    }

    @Test func theAddressAForwardedForNamesCountsOnlyFromATrustedProxy() async throws {
        let trusted = try TrustedProxies(parsing: "127.0.0.1")
        try await AdminTestServer.run(configure: {
            $0.trustedProxies = trusted
            $0.maxFailedAttempts = 2
        }) { server in
            let forwarded = [("X-Forwarded-For", "198.51.100.1, 203.0.113.5")]
            #expect(try await server.request(.POST, "/api/deployments/none/builds", headers: forwarded).status == 404)
            let event = try #require(try await Self.events(server, query: "&action=build.trigger").first)
            #expect(event["clientAddress"] as? String == "203.0.113.5")
            // Failed attempts count against the forwarded client, not the proxy.
            for _ in 0..<2 {
                _ = try await server.request(.GET, "/api/stats", token: "bad", headers: forwarded)
            }
            #expect(try await server.request(.GET, "/api/stats", headers: forwarded).status == 429)
            #expect(
                try await server.request(.GET, "/api/stats", headers: [("X-Forwarded-For", "203.0.113.6")]).status
                    == 200)
        }
        try await AdminTestServer.run { server in
            let forwarded = [("X-Forwarded-For", "203.0.113.5")]
            #expect(try await server.request(.POST, "/api/deployments/none/builds", headers: forwarded).status == 404)
            let event = try #require(try await Self.events(server, query: "&action=build.trigger").first)
            #expect(event["clientAddress"] as? String == "127.0.0.1")
        }
    }

    @Test func theLogIsPagedNewestFirst() async throws {
        try await AdminTestServer.run { server in
            for index in 0..<5 {
                _ = try await server.request(
                    .POST, "/api/tokens", body: #"{"name": "t\#(index)", "scope": "read"}"#)
            }
            let first = try await server.request(.GET, "/api/audit?limit=2&action=token.create")
            let page = try first.json
            let names = (page["events"] as? [[String: Any]])?.compactMap { $0["outcome"] as? Int }
            #expect(names == [201, 201])
            let before = try #require(page["nextBefore"] as? Int)
            let second = try await server.request(.GET, "/api/audit?limit=200&action=token.create&before=\(before)")
            #expect((try second.json["events"] as? [Any])?.count == 3)
            #expect(try second.json["nextBefore"] is NSNull)
            #expect(try await server.request(.GET, "/api/audit?limit=0").status == 422)
        }
    }

    @Test func retentionDeletesEntriesOlderThanItByTheInjectedClock() async throws {
        let clock = TestClock()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-audit-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let catalog = try SQLiteCatalog(dataDirectory: directory, clock: { clock.now })
        let recorder = AuditRecorder(catalog: catalog, logger: Logger(label: "test"))
        let maintenance = AdminMaintenance(
            catalog: catalog, recorder: recorder, retention: .seconds(90 * 86_400), clock: { clock.now },
            logger: Logger(label: "test"))
        await recorder.record(
            .init(tokenID: "a", tokenName: "a", action: "old", target: nil, outcome: 200, clientAddress: nil))
        clock.advance(by: .seconds(30 * 86_400))
        await recorder.record(
            .init(tokenID: "a", tokenName: "a", action: "newer", target: nil, outcome: 200, clientAddress: nil))
        clock.advance(by: .seconds(60 * 86_400))
        #expect(await maintenance.pruneOnce() == 0)
        clock.advance(by: .milliseconds(1))
        #expect(await maintenance.pruneOnce() == 1)
        #expect(try await catalog.auditEvents(AuditQuery()).events.map(\.action) == ["newer"])
        // Failed attempts counted but not yet written are written by a flush.
        recorder.recordFailure(.init(clientAddress: "192.0.2.1", outcome: 401))
        recorder.recordFailure(.init(clientAddress: "192.0.2.1", outcome: 401))
        #expect(recorder.pendingFailures == 2)
        await recorder.flushFailures()
        #expect(recorder.pendingFailures == 0)
        #expect(try await catalog.auditEvents(AuditQuery(action: "auth.failed")).events.map(\.count) == [2])
        try await catalog.close()
    }
}
