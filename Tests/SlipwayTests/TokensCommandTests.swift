import Foundation
import SlipwayTestSupport
import Testing

/// `slipway tokens` and `slipway audit`, the real executable against a real
/// `slipway serve` with the admin role.
@Suite struct TokensCommandTests {
    @Test func tokensAreCreatedListedUsedRevokedAndAudited() async throws {
        var (server, data, _, adminPort) = try await startLocalServe(roles: "admin")
        defer { server.kill() }
        try await AdminClient(port: adminPort, token: "").waitUntilReady()
        let client = ["SLIPWAY_ADMIN_URL": "http://127.0.0.1:\(adminPort)", "SLIPWAY_DATA_DIR": data]

        func cli(_ arguments: [String], token: String? = nil) async throws -> (
            status: Int32, output: String, error: String
        ) {
            var environment = client
            if let token { environment["SLIPWAY_TOKEN"] = token }
            var process = try SlipwayProcess.start(arguments, environment: environment)
            defer { process.kill() }
            let status = try await process.waitForExit()
            return (status, process.output, process.errorOutput)
        }

        let created = try await cli(["tokens", "create", "--name", "ci job", "--scope", "read", "--expires-in", "30d"])
        #expect(created.status == 0, "\(created.output)\(created.error)")
        let secret = try #require(
            created.output.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("slw_") }.map(String.init))
        #expect(created.error.contains("not shown again"))
        #expect(created.output.contains("scope read"))

        let listed = try await cli(["tokens", "ls"])
        #expect(listed.status == 0)
        #expect(listed.output.contains("ci job") && listed.output.contains("active"))
        #expect(!listed.output.contains(secret))
        let json = try await cli(["tokens", "ls", "--json"])
        let tokens = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        let id = try #require((tokens?["tokens"] as? [[String: Any]])?.first?["id"] as? String)

        // The read token reads, and is refused a change with the scope it lacks.
        #expect(try await cli(["sites"], token: secret).status == 0)
        let refused = try await cli(["rm", "anything"], token: secret)
        #expect(refused.status == 1 && refused.error.contains("admin"), "\(refused.error)")
        let notAdmin = try await cli(["tokens", "ls"], token: secret)
        #expect(notAdmin.status == 1)

        let revoked = try await cli(["tokens", "revoke", id])
        #expect(revoked.status == 0 && revoked.output.contains(id))
        let afterwards = try await cli(["sites"], token: secret)
        #expect(afterwards.status == 1 && afterwards.error.contains("revoked"), "\(afterwards.error)")
        #expect(try await cli(["tokens", "ls"]).output.contains("revoked"))

        let audit = try await cli(["audit", "--limit", "20"])
        #expect(audit.status == 0)
        for expected in ["token.create", "token.revoke", "auth.failed", "bootstrap", "127.0.0.1"] {
            #expect(audit.output.contains(expected), "\(expected) missing from:\n\(audit.output)")
        }
        #expect(!audit.output.contains(secret))
        let onlyCreates = try await cli(["audit", "--action", "token.create", "--json"])
        let events = try JSONSerialization.jsonObject(with: Data(onlyCreates.output.utf8)) as? [String: Any]
        #expect((events?["events"] as? [[String: Any]])?.count == 1)

        #expect(try await cli(["tokens", "create", "--name", "x"]).status == 2)
        let bad = try await cli(["tokens", "create", "--name", "x", "--scope", "owner"])
        #expect(bad.status == 1 && bad.error.contains("deploy:<slug>"))
        #expect(try await server.terminate() == 0)
    }

    @Test func everyTokenCommandExplainsItselfInHelp() async throws {
        for (arguments, mentions) in [
            (["tokens", "--help"], ["create", "ls", "revoke", "deploy:<slug>"]),
            (["tokens", "create", "--help"], ["--name", "--scope", "--expires-in", "shown only once"]),
            (["tokens", "ls", "--help"], ["never their values"]),
            (["tokens", "revoke", "--help"], ["refused at once"]),
            (["audit", "--help"], ["--action", "--token-id", "--before"]),
        ] {
            var process = try SlipwayProcess.start(arguments, environment: [:])
            defer { process.kill() }
            #expect(try await process.waitForExit() == 0)
            for mention in mentions {
                #expect(process.output.contains(mention), "\(arguments): \(mention)")
            }
        }
    }
}
