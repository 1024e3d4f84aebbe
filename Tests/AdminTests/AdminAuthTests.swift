import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Testing

@testable import Admin

@Suite struct AdminAuthTests {
    @Test func missingMalformedAndWrongTokensGet401WithABearerChallenge() async throws {
        try await AdminTestServer.run { server in
            let cases: [(String, [(String, String)])] = [
                ("missing", []),
                ("malformed", [("Authorization", "Basic dXNlcjpwYXNz")]),
                ("empty bearer", [("Authorization", "Bearer ")]),
                ("wrong", [("Authorization", "Bearer not-the-token")]),
                ("two headers", [("Authorization", "Bearer \(AdminTestServer.token)"), ("Authorization", "Bearer x")]),
            ]
            for (name, headers) in cases {
                let reply = try await server.request(.GET, "/api/deployments", token: nil, headers: headers)
                #expect(reply.status == 401, "\(name)")
                #expect(reply.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true, "\(name)")
                #expect(reply.errorCode == "unauthorized", "\(name)")
                let message = reply.errorMessage ?? ""
                #expect(message.contains("token") || message.contains("Authorization"), "\(name): \(message)")
                #expect(!message.contains("not-the-token"), "\(name)")
            }
            let good = try await server.request(.GET, "/api/deployments")
            #expect(good.status == 200)
        }
    }

    @Test func aTokenInTheQueryStringIsRefusedEvenWithAGoodHeader() async throws {
        try await AdminTestServer.run { server in
            let alone = try await server.request(
                .GET, "/api/deployments?access_token=\(AdminTestServer.token)", token: nil)
            #expect(alone.status == 401)
            #expect(alone.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(alone.errorMessage?.contains("query string") == true)
            let withHeader = try await server.request(.GET, "/api/deployments?token=\(AdminTestServer.token)")
            #expect(withHeader.status == 401)
        }
    }

    @Test func healthChecksNeedNoTokenAndUnknownPathsStillDo() async throws {
        try await AdminTestServer.run { server in
            let health = try await server.request(.GET, "/healthz", token: nil)
            #expect(health.status == 200)
            #expect(try health.json["status"] as? String == "ok")
            let ready = try await server.request(.GET, "/readyz", token: nil)
            #expect(ready.status == 200, "\(ready.body)")
            #expect(try ready.json["status"] as? String == "ready")
            let hidden = try await server.request(.GET, "/api/nothing-here", token: nil)
            #expect(hidden.status == 401)
            let missing = try await server.request(.GET, "/api/nothing-here")
            #expect(missing.status == 404)
            #expect(missing.errorCode == "not_found")
        }
    }
}
