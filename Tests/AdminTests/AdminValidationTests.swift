import AsyncHTTPClient
import Foundation
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Admin

@Suite struct AdminValidationTests {
    @Test func badJSONIs400AndSaysWhereItBroke() async throws {
        try await AdminTestServer.run { server in
            let reply = try await server.request(
                .POST, "/api/deployments", body: #"{"repoUrl": "https://x.test/a.git" "branch": "main"}"#)
            #expect(reply.status == 400)
            #expect(reply.errorCode == "bad_json")
            #expect(reply.errorMessage?.contains("not valid JSON") == true, "\(reply.body)")
            #expect(reply.errorMessage?.contains("around character 35") == true, "\(reply.body)")
            let empty = try await server.request(.POST, "/api/deployments", body: "")
            #expect(empty.status == 400)
            let array = try await server.request(.POST, "/api/deployments", body: "[]")
            #expect(array.status == 422)
            #expect(array.errorMessage?.contains("JSON object") == true)
        }
    }

    /// Where the last `key` (quoted) starts in `body`, as the messages count.
    static func lastOffset(of key: String, in body: String) throws -> Int {
        let range = try #require(body.range(of: "\"\(key)\"", options: .backwards))
        return body.utf8.distance(from: body.startIndex, to: range.lowerBound)
    }

    @Test func duplicateKeysAre400NamingTheKeyAndWhereTheSecondOneIs() async throws {
        try await AdminTestServer.run { server in
            let top = #"{"repoUrl": "https://github.com/a/b.git", "slug": "one", "slug": "two"}"#
            let reply = try await server.request(.POST, "/api/deployments", body: top)
            #expect(reply.status == 400, "\(reply.body)")
            #expect(reply.errorCode == "bad_json")
            #expect(reply.errorMessage?.contains("'slug'") == true, "\(reply.body)")
            let at = try Self.lastOffset(of: "slug", in: top)
            #expect(reply.errorMessage?.contains("around character \(at)") == true, "\(reply.body)")
            // Nothing was created under either name.
            #expect(try await server.request(.GET, "/api/deployments/one").status == 404)
            #expect(try await server.request(.GET, "/api/deployments/two").status == 404)

            let nested =
                #"{"repoUrl": "https://github.com/a/b.git", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2", "name": "C"}]}"#
            let inner = try await server.request(.POST, "/api/deployments", body: nested)
            #expect(inner.status == 400, "\(inner.body)")
            #expect(inner.errorCode == "bad_json")
            #expect(inner.errorMessage?.contains("'env[1].name'") == true, "\(inner.body)")
            let innerAt = try Self.lastOffset(of: "name", in: nested)
            #expect(inner.errorMessage?.contains("around character \(innerAt)") == true, "\(inner.body)")

            // The same key written with an escape is the same key.
            let escaped = #"{"repoUrl": "https://github.com/a/b.git", "slug": "one", "sl\u0075g": "two"}"#
            let sneaky = try await server.request(.POST, "/api/deployments", body: escaped)
            #expect(sneaky.status == 400, "\(sneaky.body)")
            #expect(sneaky.errorMessage?.contains("'slug'") == true, "\(sneaky.body)")

            // Every route that reads a body refuses them, PATCH included.
            _ = try await server.createDeployment(slug: "kept")
            let patch = try await server.request(
                .PATCH, "/api/deployments/kept", body: #"{"branch": "a", "branch": "b"}"#)
            #expect(patch.status == 400, "\(patch.body)")
            #expect(patch.errorMessage?.contains("'branch'") == true, "\(patch.body)")
            #expect(try await server.catalog.site(slug: "kept").branch == "main")

            // One key in several objects is no duplicate.
            let distinct =
                #"{"slug": "distinct", "repoUrl": "https://github.com/a/b.git", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}"#
            let created = try await server.request(.POST, "/api/deployments", body: distinct)
            #expect(created.status == 201, "\(created.body)")
        }
    }

    @Test func unknownFieldsAndWrongTypesAre422NamingTheField() async throws {
        try await AdminTestServer.run { server in
            let unknown = try await server.request(
                .POST, "/api/deployments", body: #"{"repoUrl": "https://github.com/a/b.git", "repo": "x", "colour": 1}"#
            )
            #expect(unknown.status == 422)
            #expect(unknown.errorCode == "unknown_fields")
            #expect(unknown.errorMessage?.contains("'colour'") == true)
            #expect(unknown.errorMessage?.contains("'repo'") == true)

            let nested = try await server.request(
                .POST, "/api/deployments",
                body: #"{"repoUrl": "https://github.com/a/b.git", "env": [{"name": "A", "value": "1", "secrt": true}]}"#
            )
            #expect(nested.status == 422)
            #expect(nested.errorMessage?.contains("env[0].secrt") == true)

            let wrongType = try await server.request(
                .POST, "/api/deployments",
                body:
                    #"{"repoUrl": "https://github.com/a/b.git", "env": [{"name": "A", "value": "1", "secret": "yes"}]}"#
            )
            #expect(wrongType.status == 422)
            #expect(wrongType.errorMessage?.contains("env[0].secret") == true)

            let missing = try await server.request(.POST, "/api/deployments", body: #"{"branch": "main"}"#)
            #expect(missing.status == 422)
            #expect(missing.errorMessage?.contains("repoUrl") == true)

            let spa = try await server.request(
                .POST, "/api/deployments", body: #"{"repoUrl": "https://github.com/a/b.git", "spa": "maybe"}"#)
            #expect(spa.status == 422)
            #expect(spa.errorMessage?.contains("'auto'") == true)

            let notJSON = try await server.request(
                .POST, "/api/deployments", body: nil, headers: [("Content-Type", "text/plain")])
            #expect(notJSON.status == 415)
        }
    }

    @Test func anOversizeBodyIs413() async throws {
        try await AdminTestServer.run { server in
            let padding = String(repeating: "x", count: 8000)
            let reply = try await server.request(
                .POST, "/api/deployments",
                body: #"{"repoUrl": "https://github.com/a/b.git", "buildCommand": "\#(padding)"}"#)
            #expect(reply.status == 413)
            #expect(reply.errorCode == "body_too_large")
            #expect(reply.errorMessage?.contains("4096") == true)
        }
    }

    @Test func invalidSlugsAre422AndTakenSlugsAre409() async throws {
        try await AdminTestServer.run { server in
            let invalid = try await server.request(
                .POST, "/api/deployments", body: #"{"slug": "Bad_Slug!", "repoUrl": "https://github.com/a/b.git"}"#)
            #expect(invalid.status == 422)
            #expect(invalid.errorCode == "slug_invalid")
            let inPath = try await server.request(.GET, "/api/deployments/Bad_Slug!")
            #expect(inPath.status == 422)
            #expect(inPath.errorCode == "slug_invalid")

            _ = try await server.createDeployment(slug: "guides")
            let taken = try await server.request(
                .POST, "/api/deployments", body: #"{"slug": "guides", "repoUrl": "https://github.com/a/b.git"}"#)
            #expect(taken.status == 409)
            #expect(taken.errorCode == "slug_taken")

            let unknownSite = try await server.request(.GET, "/api/deployments/nope")
            #expect(unknownSite.status == 404)
            #expect(unknownSite.errorCode == "site_not_found")
            let badBuild = try await server.request(.GET, "/api/builds/not-an-id")
            #expect(badBuild.status == 404)
            #expect(badBuild.errorCode == "build_not_found")
            let badLimit = try await server.request(.GET, "/api/deployments/guides/builds?limit=0")
            #expect(badLimit.status == 422)
        }
    }

    @Test func aFullQueueAnswers429AndLeavesNoDeploymentBehind() async throws {
        try await AdminTestServer.run(queue: QueueSettings(maxQueued: 1)) { server in
            let (slug, _) = try await server.createDeployment(slug: "first")
            let more = try await server.request(.POST, "/api/deployments/\(slug)/builds")
            #expect(more.status == 429)
            #expect(more.errorCode == "queue_full")
            let second = try await server.request(
                .POST, "/api/deployments", body: #"{"slug": "second", "repoUrl": "https://github.com/a/b.git"}"#)
            #expect(second.status == 429)
            let gone = try await server.request(.GET, "/api/deployments/second")
            #expect(gone.status == 404)
        }
    }
}
