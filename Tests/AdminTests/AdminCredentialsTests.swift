import AsyncHTTPClient
import Foundation
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Admin

/// Credentials never come back: repository URLs refuse userinfo, the
/// repository token is write-only, and notify URLs are shown without theirs.
@Suite struct AdminCredentialsTests {
    @Test func aRepositoryURLWithCredentialsIsRefusedWithWhereTheTokenGoes() async throws {
        try await AdminTestServer.run { server in
            for url in [
                "https://deployer:ghp-secret-1@github.com/acme/app.git", "https://ghp-secret-1@github.com/acme/app.git",
            ] {
                let refused = try await server.request(
                    .POST, "/api/deployments", body: #"{"slug": "shop", "repoUrl": "\#(url)"}"#)
                #expect(refused.status == 422, "\(refused.body)")
                #expect(refused.body.contains("repoToken") && !refused.body.contains("ghp-secret-1"), "\(refused.body)")
            }
            #expect(try await server.catalog.sites().isEmpty)
        }
    }

    @Test func theRepositoryTokenIsWriteOnlyAndCanBeReplacedAndCleared() async throws {
        try await AdminTestServer.run { server in
            let create = try await server.request(
                .POST, "/api/deployments",
                body:
                    #"{"slug": "private", "repoUrl": "https://git.example.com/acme/private.git", "repoToken": "tok-first-4f1c"}"#
            )
            #expect(create.status == 201, "\(create.body)")
            #expect(!create.body.contains("tok-first-4f1c"))
            let site = try await server.catalog.site(slug: "private")
            #expect(try await server.catalog.repoToken(siteID: site.id) == "tok-first-4f1c")
            let shown = try await server.request(.GET, "/api/deployments/private")
            #expect(try shown.json["hasRepoToken"] as? Bool == true)
            #expect(!shown.body.contains("tok-first-4f1c"))
            let listed = try await server.request(.GET, "/api/deployments")
            #expect(!listed.body.contains("tok-first-4f1c"))

            let replaced = try await server.request(
                .PATCH, "/api/deployments/private", body: #"{"repoToken": "bitbucket-user:app-pass-2"}"#)
            #expect(replaced.status == 200 && !replaced.body.contains("app-pass-2"), "\(replaced.body)")
            #expect(try await server.catalog.repoToken(siteID: site.id) == "bitbucket-user:app-pass-2")

            // A bad token is refused before anything else in the body changes.
            let bad = try await server.request(
                .PATCH, "/api/deployments/private", body: #"{"branch": "other", "repoToken": "has space"}"#)
            #expect(bad.status == 422, "\(bad.body)")
            #expect(try await server.catalog.site(slug: "private").branch == "main")

            let cleared = try await server.request(.PATCH, "/api/deployments/private", body: #"{"repoToken": null}"#)
            #expect(try cleared.json["hasRepoToken"] as? Bool == false)
            #expect(try await server.catalog.repoToken(siteID: site.id) == nil)
        }
    }

    @Test func aNotifyURLIsShownWithoutItsUserinfo() async throws {
        try await AdminTestServer.run { server in
            let create = try await server.request(
                .POST, "/api/deployments",
                body:
                    #"{"slug": "hooked", "repoUrl": "https://github.com/acme/hooked.git", "notifyUrl": "https://ci:hook-pass-77@hooks.example.com/in"}"#
            )
            #expect(create.status == 201, "\(create.body)")
            let created = try #require(try create.json["deployment"] as? [String: Any])
            #expect(created["notifyUrl"] as? String == "https://hooks.example.com/in")
            for path in ["/api/deployments/hooked", "/api/deployments"] {
                let answer = try await server.request(.GET, path)
                #expect(!answer.body.contains("hook-pass-77") && !answer.body.contains("ci:"), "\(path)")
            }
            // The notifier still has them.
            #expect(
                try await server.catalog.site(slug: "hooked").notifyURL
                    == "https://ci:hook-pass-77@hooks.example.com/in")
            // Leaving notifyUrl out of a PATCH keeps them.
            _ = try await server.request(.PATCH, "/api/deployments/hooked", body: #"{"branch": "trunk"}"#)
            #expect(
                try await server.catalog.site(slug: "hooked").notifyURL
                    == "https://ci:hook-pass-77@hooks.example.com/in")
        }
    }
}
