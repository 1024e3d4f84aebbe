import Foundation
import SlipwayTestSupport
import Testing

/// Slipway as `scripts/install` lays it out (`docs/install.md`): the built
/// executable copied under a prefix with its files in `share/slipway`, run
/// from a directory that has nothing of Slipway's, found on the `PATH`.
@Suite(.serialized) struct InstalledLayoutTests {
    /// Installs the products this test run was built with under a new prefix.
    func install() async throws -> String {
        let prefix = temporaryDirectory() + "/prefix"
        let script = TestProcess()
        script.executableURL = SlipwayProcess.repositoryRoot.appendingPathComponent("scripts/install")
        script.arguments = ["--prefix", prefix, "--from", SlipwayProcess.executable.deletingLastPathComponent().path]
        let output = Pipe()
        script.standardOutput = output
        script.standardError = output
        try script.run()
        let printed = try await onOwnThread {
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            script.waitUntilExit()
            return printed
        }
        guard script.terminationStatus == 0 else { throw TestFailure("scripts/install failed:\n\(printed)") }
        return prefix
    }

    /// `slipway serve` started the way a shell starts it from the `PATH`
    /// (`argv[0]` is the bare name) in an empty directory.
    func serve(prefix: String, proxyPort: Int, adminPort: Int) throws -> SlipwayProcess {
        let elsewhere = temporaryDirectory()
        return try SlipwayProcess.start(
            ["slipway", "serve", "--data-dir", elsewhere + "/data"],
            environment: [
                "PATH": prefix + "/bin:/usr/bin:/bin", "SLIPWAY_PROXY_HOST": "127.0.0.1",
                "SLIPWAY_PROXY_PORT": "\(proxyPort)", "SLIPWAY_ADMIN_PORT": "\(adminPort)",
                "SLIPWAY_BUILD_RUNNER": "local",
            ],
            directory: elsewhere, executable: URL(fileURLWithPath: "/usr/bin/env"))
    }

    @Test func anInstalledCopyServesItsPagesDashboardAndOpenAPIDocumentFromAnyDirectory() async throws {
        let prefix = try await install()
        #expect(FileManager.default.fileExists(atPath: prefix + "/share/slipway/static/pages/error.html"))
        #expect(FileManager.default.fileExists(atPath: prefix + "/share/slipway/slipway_Admin.resources/openapi.json"))
        let proxyPort = try freePort()
        let adminPort = try freePort()
        var server = try serve(prefix: prefix, proxyPort: proxyPort, adminPort: adminPort)
        defer { server.kill() }
        try await server.waitForOutput(containing: "admin API:")
        try await waitForPort(proxyPort)

        // The edge's own pages: an unknown site gets the installed 404 page.
        let (status, body) = try await httpGet(port: proxyPort, host: "nothing-here.localhost")
        #expect(status == 404)
        #expect(body.contains("<!doctype html>"))
        // The dashboard and the OpenAPI document from share/slipway.
        let dashboard = try await httpGet(port: adminPort, host: "127.0.0.1")
        #expect(dashboard.status == 200)
        #expect(dashboard.body.contains("<!doctype html>"))
        let document = try await httpGet(port: adminPort, host: "127.0.0.1", path: "/api/openapi.json")
        #expect(document.status == 200)
        #expect(document.body.contains("\"openapi\""))
        #expect(try await server.terminate() == 0)
    }

    @Test func anInstallationMissingItsFilesRefusesToStartAndSaysWhatIsMissing() async throws {
        let prefix = try await install()
        let share = prefix + "/share/slipway"

        // Without the OpenAPI document, a server with the admin role does not start.
        try FileManager.default.removeItem(atPath: share + "/slipway_Admin.resources")
        var withoutDocument = try serve(prefix: prefix, proxyPort: try freePort(), adminPort: try freePort())
        defer { withoutDocument.kill() }
        #expect(try await withoutDocument.waitForExit() != 0)
        #expect(withoutDocument.errorOutput.contains("slipway_Admin.resources/openapi.json"))
        #expect(withoutDocument.errorOutput.contains(share + "/slipway_Admin.resources"))
        #expect(withoutDocument.errorOutput.contains("scripts/install"))

        // Without the static files, no role starts: the edge's pages are missing.
        try FileManager.default.removeItem(atPath: share + "/static")
        var withoutPages = try serve(prefix: prefix, proxyPort: try freePort(), adminPort: try freePort())
        defer { withoutPages.kill() }
        #expect(try await withoutPages.waitForExit() != 0)
        #expect(withoutPages.errorOutput.contains("pages/error.html"))
        #expect(withoutPages.errorOutput.contains(share + "/static"))
        #expect(withoutPages.errorOutput.contains("scripts/install"))
    }
}
