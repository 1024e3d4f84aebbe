import Crypto
import Foundation
import NIOHTTP1
import SlipwayTestSupport
import Testing

/// `slipway serve` as a user runs it: a child process on embedded defaults.
@Suite(.serialized) struct ServeCommandTests {
    @Test func serveStartsOnEmbeddedDefaultsAndStopsGracefullyOnSIGTERM() async throws {
        let data = temporaryDirectory()
        let proxyPort = try freePort()
        var server = try SlipwayProcess.start(
            ["serve", "--data-dir", data],
            environment: [
                "SLIPWAY_PROXY_HOST": "127.0.0.1", "SLIPWAY_PROXY_PORT": "\(proxyPort)",
                "SLIPWAY_ADMIN_PORT": "\(try freePort())", "SLIPWAY_BUILD_RUNNER": "local",
            ])
        defer { server.kill() }
        try await server.waitForOutput(containing: "admin token (shown once")
        try await waitForPort(proxyPort)

        // Sites answer at <slug>.localhost; an unknown one gets the 404 page.
        let (status, body) = try await httpGet(port: proxyPort, host: "nothing-here.localhost")
        #expect(status == 404)
        #expect(body.contains("<!doctype html>"))

        // The generated token is kept with mode 0600.
        let tokenPath = data + "/admin-token"
        let attributes = try FileManager.default.attributesOfItem(atPath: tokenPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let token = try String(contentsOfFile: tokenPath, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(server.output.contains(token))

        #expect(try await server.terminate() == 0)

        // A second start reuses the token and does not print it again.
        let secondPort = try freePort()
        var again = try SlipwayProcess.start(
            ["serve", "--data-dir", data],
            environment: [
                "SLIPWAY_PROXY_HOST": "127.0.0.1", "SLIPWAY_PROXY_PORT": "\(secondPort)",
                "SLIPWAY_ADMIN_PORT": "\(try freePort())", "SLIPWAY_BUILD_RUNNER": "local",
            ])
        defer { again.kill() }
        try await again.waitForOutput(containing: "admin API:")
        try await waitForPort(secondPort)
        #expect(!again.output.contains(token))
        #expect(try await again.terminate() == 0)
    }

    /// The quick start: `slipway serve` on its embedded defaults (data in
    /// `./.slipway`, relative to where it runs), a deployment, a live site.
    @Test func aDeploymentCreatedThroughTheAdminAPIGoesLive() async throws {
        let repository = try makeRepository(files: ["public/index.html": "<h1>Hello from a fixture</h1>\n"])
        var (server, data, proxyPort, adminPort) = try await startLocalServe(embeddedDataDirectory: true)
        defer { server.kill() }
        try await waitForPort(proxyPort)
        let token = try AdminClient.token(in: data)
        let admin = AdminClient(port: adminPort, token: token)
        try await admin.waitUntilReady()

        let created = try await admin.send(
            "POST", "/api/deployments",
            body: [
                "slug": "hello", "repoUrl": repository, "branch": "main", "installCommand": "true",
                "buildCommand": "true",
                "outputDir": "public",
            ])
        #expect(created.status == 201)
        let buildID = try #require(((created.json["build"] as? [String: Any])?["id"]) as? String)
        var status = ""
        for _ in 0..<600 where status != "success" && status != "failed" {
            status = (try await admin.send("GET", "/api/builds/\(buildID)").json["status"] as? String) ?? ""
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status == "success", "\(server.output)")
        let deployment = try await admin.send("GET", "/api/deployments/hello").json
        #expect(deployment["status"] as? String == "live")
        #expect(deployment["url"] as? String == "http://hello.localhost:\(proxyPort)/")

        let (siteStatus, page) = try await httpGet(port: proxyPort, host: "hello.localhost:\(proxyPort)")
        #expect(siteStatus == 200 && page == "<h1>Hello from a fixture</h1>\n")

        // The request shows in the Prometheus metrics and in the stats.
        let metrics = try await admin.text("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("slipway_proxy_requests_total"))
        #expect(metrics.body.contains("slipway_cache_hits_total"))
        let unauthorized = try await AdminClient(port: adminPort, token: "wrong").text("/metrics")
        #expect(unauthorized.status == 401)
        let stats = try await admin.send("GET", "/api/stats").json
        #expect(((stats["builds"] as? [String: Any])?["success"] as? Int) == 1)
        #expect(try await server.terminate() == 0)
    }

    @Test func theCLIDeploysFollowsRollsBackAndRemoves() async throws {
        let repository = try makeRepository(files: ["public/index.html": "<h1>v1</h1>\n"])
        var (server, data, proxyPort, adminPort) = try await startLocalServe()
        defer { server.kill() }
        let client = ["SLIPWAY_ADMIN_URL": "http://127.0.0.1:\(adminPort)", "SLIPWAY_DATA_DIR": data]
        try await AdminClient(port: adminPort, token: "").waitUntilReady()

        func cli(_ arguments: String...) async throws -> (status: Int32, output: String, error: String) {
            var process = try SlipwayProcess.start(arguments, environment: client)
            defer { process.kill() }
            let status = try await process.waitForExit()
            return (status, process.output, process.errorOutput)
        }

        let deploy = [
            "deploy", "--slug", "cli-site", "--repo", repository, "--install", "true", "--build", "true",
            "--output", "public", "--secret", "API_KEY=hunter2",
        ]
        var first = try SlipwayProcess.start(deploy, environment: client)
        defer { first.kill() }
        #expect(try await first.waitForExit() == 0, "\(first.output)\(first.errorOutput)")
        #expect(first.output.contains("live at http://cli-site.localhost:\(proxyPort)/"))
        #expect(!first.output.contains("hunter2"))
        #expect(try await httpGet(port: proxyPort, host: "cli-site.localhost").body == "<h1>v1</h1>\n")

        // Deploying again updates the deployment and builds it anew.
        var second = try SlipwayProcess.start(deploy, environment: client)
        defer { second.kill() }
        #expect(try await second.waitForExit() == 0)
        #expect(second.output.contains("✓ live at http://cli-site.localhost:\(proxyPort)/ (build #2, "))

        let sites = try await cli("sites")
        #expect(sites.status == 0 && sites.output.contains("cli-site") && sites.output.contains("live"))
        let builds = try await cli("builds", "cli-site", "--json")
        let listed = try JSONSerialization.jsonObject(with: Data(builds.output.utf8)) as? [String: Any]
        let ids = (listed?["builds"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(ids.count == 2)

        let rollback = try await cli("rollback", "cli-site")
        #expect(rollback.status == 0 && rollback.output.contains(ids[1]))
        let log = try await cli("logs", ids[1])
        #expect(log.status == 0 && !log.output.isEmpty)

        // A private repository's token goes in through standard input, never an argument, and never comes back.
        var withToken = try SlipwayProcess.start(
            deploy + ["--repo-token-stdin", "--no-follow"], environment: client, standardInput: "cli-token-7q2w\n")
        defer { withToken.kill() }
        #expect(try await withToken.waitForExit() == 0, "\(withToken.output)\(withToken.errorOutput)")
        #expect(!withToken.output.contains("cli-token-7q2w"))
        let shown = try await cli("sites", "--json")
        #expect(
            shown.output.contains("\"hasRepoToken\" : true") || shown.output.contains("\"hasRepoToken\":true"),
            "\(shown.output)")
        #expect(!shown.output.contains("cli-token-7q2w"))

        let missing = try await cli("builds", "no-such-site")
        #expect(missing.status == 1 && missing.error.contains("no-such-site"))
        let usage = try await cli("rollback")
        #expect(usage.status == 2)

        // A slipway.yaml in the working directory stands in for the flags.
        let checkout = temporaryDirectory()
        try """
        slug: from-file
        repo: \(repository)
        install: "true"
        build: "true"
        output: public
        env: ["GREETING=hello"]
        """.write(toFile: checkout + "/slipway.yaml", atomically: true, encoding: .utf8)
        var fromFile = try SlipwayProcess.start(["deploy"], environment: client, directory: checkout)
        defer { fromFile.kill() }
        #expect(try await fromFile.waitForExit() == 0, "\(fromFile.output)\(fromFile.errorOutput)")
        #expect(fromFile.output.contains("live at http://from-file.localhost:\(proxyPort)/"))
        var noRepository = try SlipwayProcess.start(["deploy"], environment: client, directory: temporaryDirectory())
        defer { noRepository.kill() }
        #expect(try await noRepository.waitForExit() == 1)
        #expect(noRepository.errorOutput.contains("--repo"))

        // Protection: the password from standard input, the edge asks for it, the list says so.
        var protect = try SlipwayProcess.start(
            ["protect", "cli-site", "--password-stdin", "--previews-only"], environment: client,
            standardInput: "a cli password\n")
        defer { protect.kill() }
        #expect(try await protect.waitForExit() == 0, "\(protect.output)\(protect.errorOutput)")
        #expect(protect.output.contains("cli-site: password, previews only"), "\(protect.output)")
        #expect(!protect.output.contains("a cli password"))
        let preview = "1--cli-site.localhost"
        // The edge learns of the change from the catalog's event, a moment after the API answered.
        let deadline = ContinuousClock.now + .seconds(10)
        while try await httpGet(port: proxyPort, host: preview).status != 401, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await httpGet(port: proxyPort, host: preview).status == 401)
        #expect(try await httpGet(port: proxyPort, host: "cli-site.localhost").status == 200)
        let protectedList = try await cli("sites")
        #expect(protectedList.output.contains("password, previews only"), "\(protectedList.output)")
        #expect(try await cli("protect", "cli-site", "--basic", "team").status == 2)
        let off = try await cli("protect", "cli-site", "--off")
        #expect(off.status == 0 && off.output.contains("cli-site: public"), "\(off.output)")

        #expect(try await cli("rm", "cli-site").status == 0)
        #expect(try await httpGet(port: proxyPort, host: "cli-site.localhost").status == 404)
        #expect(try await server.terminate() == 0)
    }

    @Test func aBuildEndingSendsASignedNotificationToTheDeploymentsURL() async throws {
        let receiver = try await ScriptedHTTPServer.start(replies: [], fallback: .respond(status: .ok, body: "thanks"))
        let repository = try makeRepository(files: ["public/index.html": "<h1>Notified</h1>\n"])
        var (server, data, proxyPort, adminPort) = try await startLocalServe()
        defer { server.kill() }
        let token = try AdminClient.token(in: data)
        let admin = AdminClient(port: adminPort, token: token)
        try await admin.waitUntilReady()

        let created = try await admin.send(
            "POST", "/api/deployments",
            body: [
                "slug": "notified", "repoUrl": repository, "installCommand": "true", "buildCommand": "true",
                "outputDir": "public",
                "notifyUrl": "\(receiver.endpoint)/hooks/slipway?token=abc",
            ])
        #expect(created.status == 201)
        let secret = try #require(created.json["webhookSecret"] as? String)
        let buildID = try #require(((created.json["build"] as? [String: Any])?["id"]) as? String)
        #expect(
            (created.json["deployment"] as? [String: Any])?["notifyUrl"] as? String
                == "\(receiver.endpoint)/hooks/slipway?token=abc")

        let requests = try await receiver.requests(atLeast: 1, within: .seconds(90))
        let request = try #require(
            requests.first, "no notification arrived; server output:\n\(server.output)\(server.errorOutput)")
        #expect(request.method == .POST && request.uri == "/hooks/slipway?token=abc")
        #expect(request.headers.first(name: "Content-Type") == "application/json")
        #expect(request.headers.first(name: "User-Agent")?.hasPrefix("Slipway/") == true)
        #expect(request.headers.first(name: "X-Slipway-Event") == "build.finished")
        // Verified as a receiver would, with the secret the create response gave.
        let digest = HMAC<SHA256>.authenticationCode(for: request.body, using: SymmetricKey(data: Data(secret.utf8)))
        #expect(
            request.headers.first(name: "X-Slipway-Signature-256") == "sha256="
                + digest.map { String(format: "%02x", $0) }.joined())
        let body = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
        #expect(body["event"] as? String == "build.finished")
        #expect(body["deliveryId"] as? String == request.headers.first(name: "X-Slipway-Delivery"))
        let build = try #require(body["build"] as? [String: Any])
        #expect(build["id"] as? String == buildID && build["status"] as? String == "success")
        #expect(build["previewUrl"] as? String == "http://1--notified.localhost:\(proxyPort)/")
        let deployment = try #require(body["deployment"] as? [String: Any])
        #expect(
            deployment["slug"] as? String == "notified"
                && deployment["url"] as? String == "http://notified.localhost:\(proxyPort)/")
        // Sent once the build was live.
        #expect(deployment["activeBuildId"] as? String == buildID)

        // The CLI's --notify-url sets it too; the next build is notified of.
        var deploy = try SlipwayProcess.start(
            ["deploy", "--slug", "notified", "--repo", repository, "--notify-url", "\(receiver.endpoint)/from-cli"],
            environment: ["SLIPWAY_ADMIN_URL": "http://127.0.0.1:\(adminPort)", "SLIPWAY_DATA_DIR": data])
        defer { deploy.kill() }
        #expect(try await deploy.waitForExit() == 0, "\(deploy.output)\(deploy.errorOutput)")
        #expect(
            try await admin.send("GET", "/api/deployments/notified").json["notifyUrl"] as? String
                == "\(receiver.endpoint)/from-cli")
        let second = try await receiver.requests(atLeast: 2, within: .seconds(60))
        #expect(second.count == 2)
        #expect(second.last?.uri == "/from-cli")
        #expect(try await server.terminate() == 0)
        try await receiver.shutdown()
    }

    @Test func anOpenLogStreamDoesNotHoldUpShutdown() async throws {
        var (server, data, _, adminPort) = try await startLocalServe(roles: "admin")
        defer { server.kill() }
        let token = try AdminClient.token(in: data)
        let admin = AdminClient(port: adminPort, token: token)
        try await admin.waitUntilReady()
        // No build workers run, so this build stays queued and its log open.
        let created = try await admin.send(
            "POST", "/api/deployments", body: ["slug": "waiting", "repoUrl": "https://example.invalid/site.git"])
        let buildID = try #require(((created.json["build"] as? [String: Any])?["id"]) as? String)
        let follower = TestProcess()
        follower.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        follower.arguments = [
            "curl", "-sN", "-H", "Authorization: Bearer \(token)", "-H", "Accept: text/event-stream",
            "http://127.0.0.1:\(adminPort)/api/builds/\(buildID)/logs",
        ]
        let output = Pipe()
        follower.standardOutput = output
        try follower.run()
        defer { if follower.isRunning { follower.terminate() } }
        try await Task.sleep(for: .seconds(1))

        // SIGTERM ends the stream with the build's last status and the process exits cleanly.
        #expect(try await server.terminate() == 0)
        let stream = try await onOwnThread {
            follower.waitUntilExit()
            return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        #expect(stream.contains("event: status"))
        #expect(stream.contains("\"status\":\"queued\""))
    }

    @Test func aBadSettingStopsTheStartWithItsName() async throws {
        var server = try SlipwayProcess.start(
            ["serve", "--data-dir", temporaryDirectory()],
            environment: [
                "SLIPWAY_PROXY_PORT": "eighty"
            ])
        defer { server.kill() }
        #expect(try await server.waitForExit() == 1)
        #expect(server.errorOutput.contains("SLIPWAY_PROXY_PORT (proxy.port)"))
    }

    /// `SLIPWAY_BUILD_RUNNER=auto` without a Docker engine: on a laptop-shaped
    /// setup (SQLite, admin API on loopback) builds run outside containers
    /// with a warning; with a shared PostgreSQL catalog the node says at
    /// start that builds cannot run, and a deploy is refused with the reason
    /// instead of waiting in the queue.
    @Test func withoutADockerEngineBuildsRunUnsandboxedOnlyOnALaptopShapedSetup() async throws {
        let repository = try makeRepository(files: ["public/index.html": "<h1>hi</h1>\n"])
        let body: [String: Any] = [
            "slug": "hello", "repoUrl": repository, "branch": "main", "installCommand": "true",
            "buildCommand": "true", "outputDir": "public",
        ]
        let noEngine = "unix://" + temporaryDirectory() + "/no-docker.sock"
        let token = String(repeating: "t", count: 40)
        func serve(_ extra: [String: String]) throws -> (SlipwayProcess, AdminClient) {
            let adminPort = try freePort()
            let server = try SlipwayProcess.start(
                ["serve", "--data-dir", temporaryDirectory()],
                environment: [
                    "SLIPWAY_PROXY_HOST": "127.0.0.1", "SLIPWAY_PROXY_PORT": "\(try freePort())",
                    "SLIPWAY_ADMIN_HOST": "127.0.0.1", "SLIPWAY_ADMIN_PORT": "\(adminPort)",
                    "SLIPWAY_ADMIN_TOKEN": token, "SLIPWAY_BUILD_RUNNER": "auto", "DOCKER_HOST": noEngine,
                    "SLIPWAY_ALLOW_LOCAL_REPOS": "true",
                ].merging(extra) { $1 })
            return (server, AdminClient(port: adminPort, token: token))
        }

        var (laptop, laptopAdmin) = try serve([:])
        defer { laptop.kill() }
        try await laptopAdmin.waitUntilReady()
        #expect(
            laptop.output.contains("no Docker engine answers")
                || laptop.errorOutput.contains("no Docker engine answers"))
        #expect(try await laptopAdmin.send("POST", "/api/deployments", body: body).status == 201)
        #expect(try await laptop.terminate() == 0)

        try await TestPostgres.withSchema { database in
            var (fleet, fleetAdmin) = try serve([
                "SLIPWAY_DATABASE_URL": try TestPostgres.url(for: database, applicationName: "slipway-no-engine"),
                "SLIPWAY_SECRET_KEY": TestPostgres.secretKey,
            ])
            defer { fleet.kill() }
            try await fleetAdmin.waitUntilReady()
            let said = fleet.output + fleet.errorOutput
            #expect(said.contains("builds cannot run on this node"), "\(said.suffix(2000))")
            let refused = try await fleetAdmin.send("POST", "/api/deployments", body: body)
            #expect(refused.status == 503)
            let error = refused.json["error"] as? [String: Any]
            #expect(error?["code"] as? String == "builds_unavailable")
            #expect((error?["message"] as? String)?.contains("no Docker engine answers at \(noEngine)") == true)
            // Nothing was created: the deployment does not exist.
            #expect(try await fleetAdmin.send("GET", "/api/deployments/hello").status == 404)
            #expect(try await fleet.terminate() == 0)
        }
    }
}
