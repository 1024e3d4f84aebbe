import Foundation
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Admin

/// A repository URL no build could clone is refused when a deployment is
/// created or changed, with nothing stored and no build queued.
@Suite struct AdminRepositoryURLTests {
    @Test(arguments: [
        ("git://github.com/acme/site.git", "a git: URL"), ("http://github.com/acme/site.git", "a http: URL"),
        ("javascript:alert(1)", "a javascript: URL"), ("ssh://github.com/acme/site.git", "a ssh: URL"),
        ("github.com/acme/site", "not a URL"), ("/srv/git/site", "local repositories are disabled"),
        ("file:///srv/git/site", "local repositories are disabled"),
    ])
    func refusedKindsAreA422AtOnce(_ url: String, _ reason: String) async throws {
        try await AdminTestServer.run { server in
            let body = String(
                decoding: try JSONSerialization.data(withJSONObject: ["slug": "site", "repoUrl": url]), as: UTF8.self)
            let created = try await server.request(.POST, "/api/deployments", body: body)
            #expect(created.status == 422 && created.errorCode == "invalid_input", "\(created.body)")
            #expect(created.errorMessage?.contains(reason) == true, "\(created.errorMessage ?? "")")
            #expect(try await server.catalog.sites().isEmpty && server.wakes.count == 0, "nothing stored or queued")

            _ = try await server.createDeployment(slug: "good")
            let patched = try await server.request(
                .PATCH, "/api/deployments/good",
                body: String(body.replacingOccurrences(of: "\"slug\":\"site\",", with: "")))
            #expect(patched.status == 422, "\(patched.body)")
            #expect(try await server.catalog.site(slug: "good").repoURL == "https://github.com/example/site.git")
        }
    }

    @Test func localRepositoriesAreAcceptedWhenTheServerAllowsThem() async throws {
        try await AdminTestServer.run(configure: { $0.allowLocalRepositories = true }) { server in
            let created = try await server.request(
                .POST, "/api/deployments", body: #"{"slug": "local", "repoUrl": "/srv/git/site"}"#)
            #expect(created.status == 201, "\(created.body)")
        }
    }
}
