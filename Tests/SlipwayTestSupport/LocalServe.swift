import Foundation

/// `slipway serve` on free loopback ports with a fresh data directory, the
/// local build runner and local repositories allowed, once it has printed
/// where it listens.
/// - Parameters:
///   - roles: `SLIPWAY_ROLES`.
///   - embeddedDataDirectory: start in a new directory with the default data
///     directory (`./.slipway`, as the quick start does) instead of passing
///     an absolute `--data-dir`.
/// - Returns: the process, its data directory, and its proxy and admin ports.
public func startLocalServe(
    roles: String = "proxy,builder,admin", embeddedDataDirectory: Bool = false
) async throws -> (server: SlipwayProcess, data: String, proxyPort: Int, adminPort: Int) {
    let proxyPort = try freePort()
    let adminPort = try freePort()
    var environment = [
        "SLIPWAY_PROXY_HOST": "127.0.0.1", "SLIPWAY_PROXY_PORT": "\(proxyPort)", "SLIPWAY_ADMIN_PORT": "\(adminPort)",
        "SLIPWAY_BUILD_RUNNER": "local", "SLIPWAY_ALLOW_LOCAL_REPOS": "true", "SLIPWAY_ROLES": roles,
        "SLIPWAY_OPERATIONS_PORT": "\(try freePort())",
    ]
    // A process with some of the roles needs the key the others share.
    if Set(roles.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) != [
        "proxy", "builder", "admin",
    ] {
        environment["SLIPWAY_SECRET_KEY"] = TestPostgres.secretKey
    }
    let data: String
    var server: SlipwayProcess
    if embeddedDataDirectory {
        let directory = temporaryDirectory()
        data = directory + "/.slipway"
        // Started elsewhere than the repository, so its static files are named.
        let staticFiles = SlipwayProcess.repositoryRoot.appendingPathComponent("static").path
        server = try SlipwayProcess.start(
            ["serve"], environment: environment.merging(["SLIPWAY_STATIC_DIR": staticFiles]) { $1 },
            directory: directory)
    } else {
        data = temporaryDirectory()
        server = try SlipwayProcess.start(["serve", "--data-dir", data], environment: environment)
    }
    do {
        try await server.waitForOutput(containing: "admin API:")
    } catch {
        server.kill()
        throw error
    }
    return (server, data, proxyPort, adminPort)
}
