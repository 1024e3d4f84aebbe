import AsyncHTTPClient
import Foundation
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Admin

/// API tokens through the admin API: creation (the secret shown once),
/// listing, revocation and expiry, refused at once.
@Suite struct AdminTokenTests {
    @Test func aCreatedTokenShowsItsSecretOnceAndWorksForItsScope() async throws {
        try await AdminTestServer.run { server in
            _ = try await server.createDeployment(slug: "blog")
            let created = try await server.request(
                .POST, "/api/tokens", body: #"{"name": "GitHub Actions", "scope": "deploy:blog", "expiresIn": "30d"}"#)
            #expect(created.status == 201, "\(created.body)")
            let json = try created.json
            let secret = try #require(json["token"] as? String)
            #expect(secret.hasPrefix("slw_") && APITokenSecret.isWellFormed(secret))
            #expect(json["scope"] as? String == "deploy:blog")
            #expect(json["createdBy"] as? String == "bootstrap")
            #expect(json["lastUsedAt"] is NSNull && json["revokedAt"] is NSNull)
            #expect(json["expiresAt"] is String)
            // Only its digest is stored, and the list never shows the secret.
            let id = try #require(json["id"] as? String)
            #expect(try await server.catalog.apiToken(secretDigest: APITokenSecret.digest(of: secret))?.id == id)
            let list = try await server.request(.GET, "/api/tokens")
            #expect(!list.body.contains(secret))
            let tokens = try #require(try list.json["tokens"] as? [[String: Any]])
            #expect(tokens.map { $0["id"] as? String } == [id])
            #expect(tokens.first?["token"] == nil)
            #expect(try await server.request(.GET, "/api/deployments/blog", token: secret).status == 200)
            let forbidden = try await server.request(.POST, "/api/tokens", body: "{}", token: secret)
            #expect(forbidden.status == 403 && forbidden.errorCode == "insufficient_scope")
            #expect(forbidden.errorMessage?.contains("needs admin") == true, "\(forbidden.body)")
        }
    }

    @Test func badTokenRequestsAreRefusedWithWhatToFix() async throws {
        try await AdminTestServer.run { server in
            let cases: [(String, Int, String)] = [
                (#"{"name": "x", "scope": "owner"}"#, 422, "admin, read or deploy:<slug>"),
                (#"{"name": "x", "scope": "deploy:Bad Slug"}"#, 422, "slug"),
                (#"{"name": "x", "scope": "deploy:nowhere"}"#, 404, "nowhere"),
                (#"{"name": "", "scope": "read"}"#, 422, "name"),
                (#"{"name": "x", "scope": "read", "expiresIn": "soon"}"#, 422, "expiresIn"),
                (#"{"name": "x", "scope": "read", "expiresIn": "30s"}"#, 422, "1 minute"),
                (
                    #"{"name": "x", "scope": "read", "expiresIn": "1d", "expiresAt": "2030-01-01T00:00:00Z"}"#, 422,
                    "not both"
                ),
                (#"{"name": "x", "scope": "read", "expiresAt": "yesterday"}"#, 422, "ISO 8601"),
                (#"{"name": "x", "scope": "read", "secret": "mine"}"#, 422, "secret"),
                (#"{"scope": "read"}"#, 422, "name"),
            ]
            for (body, status, mention) in cases {
                let reply = try await server.request(.POST, "/api/tokens", body: body)
                #expect(reply.status == status, "\(body): \(reply.body)")
                #expect(reply.errorMessage?.contains(mention) == true, "\(body): \(reply.body)")
            }
            #expect(try await server.catalog.apiTokens().isEmpty)
            let unknown = try await server.request(.DELETE, "/api/tokens/01jzzzzzzzzzzzzzzzzzzzzzzz")
            #expect(unknown.status == 404 && unknown.errorCode == "token_not_found")
            let bootstrap = try await server.request(.DELETE, "/api/tokens/bootstrap")
            #expect(bootstrap.status == 409 && bootstrap.errorCode == "bootstrap_token")
        }
    }

    @Test func aRevokedTokenIsRefusedAtOnce() async throws {
        try await AdminTestServer.run { server in
            let token = try await server.createToken(name: "laptop", scope: "read")
            #expect(try await server.request(.GET, "/api/deployments", token: token.secret).status == 200)
            let revoked = try await server.request(.DELETE, "/api/tokens/\(token.id)")
            #expect(revoked.status == 200, "\(revoked.body)")
            #expect(try revoked.json["revokedAt"] is String)
            let refused = try await server.request(.GET, "/api/deployments", token: token.secret)
            #expect(refused.status == 401 && refused.errorCode == "unauthorized")
            #expect(refused.errorMessage?.contains("revoked") == true)
            #expect(refused.errorMessage?.contains(token.secret) == false)
            #expect(refused.headers.first(name: "WWW-Authenticate")?.contains("invalid_token") == true)
            // Revoking again changes nothing.
            let again = try await server.request(.DELETE, "/api/tokens/\(token.id)")
            #expect(try again.json["revokedAt"] as? String == revoked.json["revokedAt"] as? String)
        }
    }

    @Test func anExpiredTokenIsRefusedTheMomentItExpires() async throws {
        let clock = TestClock()
        try await AdminTestServer.run(clock: clock) { server in
            let token = try await server.createToken(name: "short", scope: "read", expiresIn: "1h")
            clock.advance(by: .seconds(3599))
            #expect(try await server.request(.GET, "/api/stats", token: token.secret).status == 200)
            clock.advance(by: .seconds(1))
            let refused = try await server.request(.GET, "/api/stats", token: token.secret)
            #expect(refused.status == 401)
            #expect(refused.errorMessage?.contains("expired") == true)
        }
    }

    @Test func lastUseIsWrittenAtMostOnceAMinute() async throws {
        let clock = TestClock()
        try await AdminTestServer.run(clock: clock) { server in
            let token = try await server.createToken(name: "ci", scope: "read")
            func lastUsed() async throws -> Date? { try await server.catalog.apiToken(id: token.id)?.lastUsedAt }
            #expect(try await lastUsed() == nil)
            let first = clock.now
            #expect(try await server.request(.GET, "/api/stats", token: token.secret).status == 200)
            #expect(try await lastUsed() == first)
            clock.advance(by: .seconds(59))
            #expect(try await server.request(.GET, "/api/stats", token: token.secret).status == 200)
            #expect(try await lastUsed() == first)
            clock.advance(by: .seconds(1))
            #expect(try await server.request(.GET, "/api/stats", token: token.secret).status == 200)
            #expect(try await lastUsed() == clock.now)
        }
    }

    @Test func theQueuesRefusalSaysWhenToRetry() async throws {
        try await AdminTestServer.run(queue: QueueSettings(maxQueued: 1)) { server in
            _ = try await server.createDeployment(slug: "site")
            let refused = try await server.request(.POST, "/api/deployments/site/builds")
            #expect(refused.status == 429 && refused.errorCode == "queue_full")
            #expect(refused.headers.first(name: "Retry-After") == "30")
        }
    }
}
