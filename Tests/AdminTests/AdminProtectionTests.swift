import Foundation
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Admin

/// `protection` on deployments: set, changed and turned off through the
/// API; the password is hashed, never returned, and every new one raises
/// the version.
@Suite struct AdminProtectionTests {
    @Test func protectionIsSetWithoutEverReturningThePasswordAndNewPasswordsRaiseTheVersion() async throws {
        try await AdminTestServer.run { server in
            let create = try await server.request(
                .POST, "/api/deployments",
                body: #"""
                    {"slug": "guide", "repoUrl": "https://github.com/example/guide.git",
                     "protection": {"mode": "password", "password": "first-secret-pw", "previewsOnly": true}}
                    """#)
            #expect(create.status == 201, "\(create.body)")
            #expect(!create.body.contains("first-secret-pw") && !create.body.contains("scrypt"))
            let created = try #require(try create.json["deployment"] as? [String: Any])
            let protection = try #require(created["protection"] as? [String: Any])
            #expect(protection["mode"] as? String == "password")
            #expect(protection["previewsOnly"] as? Bool == true)
            #expect(protection["version"] as? Int == 1)
            #expect(protection["username"] is NSNull)
            #expect(protection["password"] == nil)
            let site = try await server.catalog.site(slug: "guide")
            let secret = try #require(try await server.catalog.protectionSecret(siteID: site.id))
            #expect(secret.passwordHash.hasPrefix("scrypt$32768$8$1$"))
            #expect(PasswordHash.verify("first-secret-pw", against: secret.passwordHash))

            // The scope alone changes without a password, and keeps the version.
            let scope = try await server.request(
                .PATCH, "/api/deployments/guide", body: #"{"protection": {"previewsOnly": false}}"#)
            #expect(scope.status == 200, "\(scope.body)")
            #expect((try scope.json["protection"] as? [String: Any])?["version"] as? Int == 1)

            // A new password: version 2.
            let change = try await server.request(
                .PATCH, "/api/deployments/guide", body: #"{"protection": {"password": "second-secret-pw"}}"#)
            #expect(change.status == 200, "\(change.body)")
            #expect(!change.body.contains("second-secret-pw"))
            #expect((try change.json["protection"] as? [String: Any])?["version"] as? Int == 2)

            // Basic needs a username and a new password.
            let noPassword = try await server.request(
                .PATCH, "/api/deployments/guide", body: #"{"protection": {"mode": "basic", "username": "team"}}"#)
            #expect(noPassword.status == 422)
            #expect(noPassword.body.contains("protection.password is required"))
            let basic = try await server.request(
                .PATCH, "/api/deployments/guide",
                body: #"{"protection": {"mode": "basic", "username": "team", "password": "third-secret-pw"}}"#)
            #expect(basic.status == 200, "\(basic.body)")
            let basicProtection = try #require(try basic.json["protection"] as? [String: Any])
            #expect(basicProtection["username"] as? String == "team" && basicProtection["version"] as? Int == 3)

            let listed = try await server.request(.GET, "/api/deployments")
            #expect(listed.body.contains("\"username\":\"team\"") && !listed.body.contains("scrypt"))

            let off = try await server.request(
                .PATCH, "/api/deployments/guide", body: #"{"protection": {"mode": "none"}}"#)
            #expect(off.status == 200, "\(off.body)")
            let offProtection = try #require(try off.json["protection"] as? [String: Any])
            #expect(offProtection["mode"] as? String == "none" && offProtection["username"] is NSNull)
            #expect(try await server.catalog.protectionSecret(siteID: site.id) == nil)
        }
    }

    @Test func badProtectionIsRefusedWith422SayingWhatToFix() async throws {
        try await AdminTestServer.run { server in
            _ = try await server.createDeployment(slug: "guide")
            let cases: [(String, String)] = [
                (#"{"mode": "password", "password": "short"}"#, "at least 8"),
                (#"{"mode": "password", "password": "\#(String(repeating: "x", count: 1025))"}"#, "1024"),
                (#"{"mode": "password"}"#, "protection.password is required"),
                (#"{"mode": "basic", "password": "long enough pw"}"#, "protection.username is required"),
                (#"{"mode": "basic", "username": "a:b", "password": "long enough pw"}"#, "':'"),
                (
                    #"{"mode": "password", "username": "team", "password": "long enough pw"}"#,
                    "only used with mode 'basic'"
                ),
                (#"{"mode": "none", "password": "long enough pw"}"#, "only taken with mode"),
                (#"{"mode": "secret"}"#, "must be one of 'none', 'password', 'basic'"),
                (#"{"mode": "password", "password": "long enough pw", "hint": "x"}"#, "hint"),
            ]
            for (body, message) in cases {
                let reply = try await server.request(
                    .PATCH, "/api/deployments/guide", body: #"{"protection": \#(body)}"#)
                #expect(reply.status == 422, "\(body): \(reply.body)")
                #expect(reply.body.contains(message), "\(body): \(reply.body)")
                #expect(!reply.body.contains("long enough pw"))
            }
            #expect(try await server.catalog.site(slug: "guide").protection == .none)
        }
    }
}
