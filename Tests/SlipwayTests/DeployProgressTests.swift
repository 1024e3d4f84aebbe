import Foundation
import SlipwayTestSupport
import Testing

@testable import slipway

#if canImport(Glibc)
    import Glibc
#endif

/// `slipway deploy` following a build as a user sees it: through a pipe (CI)
/// and on a terminal (a pseudo-terminal the test reads), against a real
/// `slipway serve`.
@Suite(.serialized) struct DeployProgressTests {
    @Test func throughAPipeStatusChangesArePlainLinesAndTheURLIsPrinted() async throws {
        let repository = try makeRepository(files: ["public/index.html": "<h1>piped</h1>\n"])
        var (server, data, proxyPort, adminPort) = try await startLocalServe()
        defer { server.kill() }
        try await AdminClient(port: adminPort, token: "").waitUntilReady()
        let client = [
            "SLIPWAY_ADMIN_URL": "http://127.0.0.1:\(adminPort)", "SLIPWAY_DATA_DIR": data, "TERM": "xterm-256color",
        ]
        func startDeploy(build: String, _ more: String...) throws -> SlipwayProcess {
            try SlipwayProcess.start(
                [
                    "deploy", "--slug", "piped", "--repo", repository, "--install", "true", "--output", "public",
                    "--build", build,
                ] + more,
                environment: client)
        }

        var deploy = try startDeploy(build: "echo first step && sleep 2 && echo second step")
        defer { deploy.kill() }
        #expect(try await deploy.waitForExit() == 0, "\(deploy.output)\(deploy.errorOutput)")
        #expect(!deploy.output.contains("\u{1B}") && !deploy.errorOutput.contains("\u{1B}"))
        #expect(!deploy.output.contains("\r") && !deploy.errorOutput.contains("\r"))
        #expect(deploy.errorOutput.contains("build #1 queued\n"), "\(deploy.errorOutput)")
        #expect(deploy.errorOutput.contains("build #1 building\n"), "\(deploy.errorOutput)")
        #expect(deploy.output.contains("  first step\n") && deploy.output.contains("  second step\n"))
        let last = deploy.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("✓ live at http://piped.localhost:\(proxyPort)/ (build #1, 0:0"), "\(deploy.output)")

        // A failing build: its error and a hint on stderr, exit status 1.
        var failing = try startDeploy(build: "echo about to fail && exit 3")
        defer { failing.kill() }
        #expect(try await failing.waitForExit() == 1, "\(failing.output)\(failing.errorOutput)")
        #expect(failing.output.contains("  about to fail\n"))
        #expect(failing.errorOutput.contains("✗ build #2 failed: "), "\(failing.errorOutput)")
        #expect(failing.errorOutput.contains("exited with status 3"))
        #expect(failing.errorOutput.contains("slipway logs "))
        #expect(!failing.output.contains("live at"))
        #expect(!failing.errorOutput.contains("\u{1B}"))
        // The site still serves build #1.
        #expect(try await httpGet(port: proxyPort, host: "piped.localhost").body == "<h1>piped</h1>\n")

        // --json: only the deployment and the final build, as one JSON document.
        var json = try startDeploy(build: "true", "--json")
        defer { json.kill() }
        #expect(try await json.waitForExit() == 0, "\(json.output)\(json.errorOutput)")
        let document = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect((document?["build"] as? [String: Any])?["status"] as? String == "success")
        #expect((document?["build"] as? [String: Any])?["number"] as? Int == 3)
        #expect((document?["deployment"] as? [String: Any])?["status"] as? String == "live")
        #expect(json.errorOutput.isEmpty)
        #expect(try await server.terminate() == 0)
    }

    @Test func onATerminalOneStatusLineIsRewrittenInPlaceAndEndsWithTheURL() async throws {
        let repository = try makeRepository(files: ["public/index.html": "<h1>on a terminal</h1>\n"])
        var (server, data, proxyPort, adminPort) = try await startLocalServe()
        defer { server.kill() }
        try await AdminClient(port: adminPort, token: "").waitUntilReady()

        let columns = 72
        var terminal = try PseudoTerminalProcess.start(
            [
                "deploy", "--slug", "tty-site", "--repo", repository, "--install", "true", "--output", "public",
                "--build", "echo compiling && sleep 1 && echo done compiling",
            ],
            environment: [
                "SLIPWAY_ADMIN_URL": "http://127.0.0.1:\(adminPort)", "SLIPWAY_DATA_DIR": data,
                "TERM": "xterm-256color",
            ],
            columns: columns)
        defer { terminal.kill() }
        let (status, screen) = try await terminal.waitForExit()
        #expect(status == 0, "\(screen)")

        // The status line is drawn after a carriage return and an erase, in colour.
        #expect(screen.contains("\r\u{1B}[2K"))
        #expect(screen.contains("\u{1B}[36m"))
        let drawn = screen.components(separatedBy: "\r\u{1B}[2K").dropFirst()
            .map { stripSGR(String($0.prefix { $0 != "\r" && $0 != "\n" })) }
            .filter { !$0.isEmpty }
        let statusLines = drawn.filter {
            $0.first.map(BuildStatusLine.spinner.contains) == true && $0.contains("build #")
        }
        #expect(statusLines.count >= 3, "\(drawn)")
        #expect(statusLines.contains { $0.contains("tty-site  build #1") })
        #expect(statusLines.allSatisfy { $0.count <= columns - 1 }, "\(statusLines)")
        // Log lines scroll above it; the last line is the outcome.
        #expect(screen.contains("  compiling\r\n") && screen.contains("  done compiling\r\n"))
        // What the terminal shows on the last line: what follows its last carriage return and erase.
        let last = screen.components(separatedBy: "\r\n").filter { !$0.isEmpty }.last ?? ""
        let lastLine = stripSGR(last.components(separatedBy: BuildProgress.eraseLine).last ?? "")
        #expect(lastLine.hasPrefix("✓ live at http://tty-site.localhost:\(proxyPort)/ (build #1, 0:0"), "\(lastLine)")
        #expect(try await server.terminate() == 0)
    }

    @Test func ctrlCOnATerminalStopsFollowingAndTheBuildGoesOn() async throws {
        let repository = try makeRepository(files: ["public/index.html": "<h1>slow</h1>\n"])
        var (server, data, _, adminPort) = try await startLocalServe()
        defer { server.kill() }
        let token = try AdminClient.token(in: data)
        let admin = AdminClient(port: adminPort, token: token)
        try await admin.waitUntilReady()

        var terminal = try PseudoTerminalProcess.start(
            [
                "deploy", "--slug", "slow-site", "--repo", repository, "--install", "true", "--output", "public",
                "--build", "echo taking a while && sleep 60",
            ],
            environment: [
                "SLIPWAY_ADMIN_URL": "http://127.0.0.1:\(adminPort)", "SLIPWAY_DATA_DIR": data,
                "TERM": "xterm-256color",
            ],
            columns: 100)
        defer { terminal.kill() }
        try await terminal.waitForScreen(containing: "  taking a while\r\n")
        kill(terminal.process.processIdentifier, SIGINT)
        let (status, screen) = try await terminal.waitForExit()
        #expect(status == 130, "\(screen)")
        let builds =
            try await admin.send("GET", "/api/deployments/slow-site/builds").json["builds"] as? [[String: Any]] ?? []
        let buildID = try #require(builds.first?["id"] as? String)
        #expect(builds.first?["status"] as? String == "building")
        let tail = screen.components(separatedBy: BuildProgress.eraseLine).last ?? ""
        #expect(tail.hasPrefix("stopped following build #1; it goes on on the server\r\n"), "\(tail)")
        #expect(tail.contains("slipway logs \(buildID) --follow"))

        #expect(try await admin.send("POST", "/api/builds/\(buildID)/cancel").status == 200)
        #expect(try await server.terminate() == 0)
    }
}
