import AsyncHTTPClient
import Foundation
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Admin

/// A deployment's `notifyUrl` through the API: set, shown, changed, cleared, refused.
@Suite struct AdminNotifyURLTests {
    @Test func aNotifyURLIsSetOnCreateShownChangedAndClearedWithNull() async throws {
        try await AdminTestServer.run { server in
            let create = try await server.request(
                .POST, "/api/deployments",
                body:
                    #"{"slug": "blog", "repoUrl": "https://github.com/example/blog.git", "notifyUrl": "https://hooks.example.com/in?token=t0p"}"#
            )
            #expect(create.status == 201, "\(create.body)")
            let created = try #require(try create.json["deployment"] as? [String: Any])
            #expect(created["notifyUrl"] as? String == "https://hooks.example.com/in?token=t0p")
            #expect(try await server.catalog.site(slug: "blog").notifyURL == "https://hooks.example.com/in?token=t0p")
            #expect(
                try await server.request(.GET, "/api/deployments/blog").json["notifyUrl"] as? String
                    == "https://hooks.example.com/in?token=t0p")

            let changed = try await server.request(
                .PATCH, "/api/deployments/blog", body: #"{"notifyUrl": "http://10.0.0.7:9000/slipway"}"#)
            #expect(changed.status == 200, "\(changed.body)")
            #expect(try changed.json["notifyUrl"] as? String == "http://10.0.0.7:9000/slipway")
            // Leaving it out keeps it.
            let other = try await server.request(.PATCH, "/api/deployments/blog", body: #"{"branch": "trunk"}"#)
            #expect(try other.json["notifyUrl"] as? String == "http://10.0.0.7:9000/slipway")

            let cleared = try await server.request(.PATCH, "/api/deployments/blog", body: #"{"notifyUrl": null}"#)
            #expect(cleared.status == 200)
            #expect(try cleared.json["notifyUrl"] is NSNull)
            #expect(try await server.catalog.site(slug: "blog").notifyURL == nil)

            _ = try await server.request(
                .PATCH, "/api/deployments/blog", body: #"{"notifyUrl": "https://hooks.example.com/x"}"#)
            let emptied = try await server.request(.PATCH, "/api/deployments/blog", body: #"{"notifyUrl": ""}"#)
            #expect(try emptied.json["notifyUrl"] is NSNull)

            // A deployment without one shows null, never leaves the key out.
            let (plain, _) = try await server.createDeployment(slug: "plain")
            let shown = try await server.request(.GET, "/api/deployments/\(plain)")
            #expect(try shown.json.keys.contains("notifyUrl"))
            #expect(try shown.json["notifyUrl"] is NSNull)
        }
    }

    @Test func aBadNotifyURLIsRefusedWithWhatToFixAndChangesNothing() async throws {
        try await AdminTestServer.run { server in
            let cases: [(String, String)] = [
                (#""ftp://files.example.com/in""#, "must be an absolute http:// or https:// URL"),
                (#""hooks.example.com/in""#, "must be an absolute http:// or https:// URL"),
                (#""https://hooks.example.com/a b""#, "whitespace"),
                (#""https:///in""#, "has no host"),
                (#""https://hooks.example.com:70000/""#, "port"),
                (#""https://hooks.example.com/#frag""#, "fragment"),
            ]
            for (value, problem) in cases {
                let reply = try await server.request(
                    .POST, "/api/deployments",
                    body: #"{"slug": "bad", "repoUrl": "https://github.com/a/b.git", "notifyUrl": \#(value)}"#)
                #expect(reply.status == 422, "\(value): \(reply.body)")
                #expect(reply.errorCode == "invalid_input")
                #expect(
                    reply.errorMessage?.contains("notifyUrl") == true && reply.errorMessage?.contains(problem) == true,
                    "\(reply.body)")
            }
            #expect(try await server.request(.GET, "/api/deployments/bad").status == 404)

            let tooLong = "https://hooks.example.com/" + String(repeating: "a", count: 2100)
            let long = try await server.request(
                .POST, "/api/deployments",
                body: #"{"repoUrl": "https://github.com/a/b.git", "notifyUrl": "\#(tooLong)"}"#)
            #expect(long.status == 422 && long.errorMessage?.contains("longer than 2048 bytes") == true, "\(long.body)")

            let wrongType = try await server.request(
                .POST, "/api/deployments", body: #"{"repoUrl": "https://github.com/a/b.git", "notifyUrl": 42}"#)
            #expect(wrongType.status == 422)
            #expect(wrongType.errorMessage?.contains("'notifyUrl' must be a string") == true, "\(wrongType.body)")

            _ = try await server.createDeployment(slug: "kept")
            _ = try await server.request(
                .PATCH, "/api/deployments/kept", body: #"{"notifyUrl": "https://hooks.example.com/ok"}"#)
            let refused = try await server.request(
                .PATCH, "/api/deployments/kept", body: #"{"notifyUrl": "mailto:ops@example.com"}"#)
            #expect(refused.status == 422 && refused.errorMessage?.contains("notifyUrl") == true)
            #expect(try await server.catalog.site(slug: "kept").notifyURL == "https://hooks.example.com/ok")
        }
    }
}
