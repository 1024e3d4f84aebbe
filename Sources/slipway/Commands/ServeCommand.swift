import Admin
import ArgumentParser
import Builder
import Foundation
import Logging
import Metrics
import Prometheus
import Proxy
import ServiceLifecycle
import Storage

/// `slipway serve`: the edge proxy, the build workers and the admin API in
/// one process, shut down together and gracefully on SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the edge proxy, the build workers and the admin API.",
        discussion: """
            With no configuration at all Slipway keeps everything under ./.slipway \
            (SQLite catalog, disk object store), builds in Docker when an engine \
            answers (else locally, with a warning: only on such a single machine \
            with the admin API on loopback; elsewhere builds are refused until an \
            engine answers) and serves sites at http://<slug>.localhost:8080/. \
            See `slipway config` for every setting.
            """
    )

    @Option(name: .long, help: "A YAML (.yaml/.yml) or JSON (.json) configuration file.")
    var config: String?

    @Option(name: .long, help: "The data directory (overrides SLIPWAY_DATA_DIR and data.dir).")
    var dataDir: String?

    func run() async throws {
        var environment = ProcessInfo.processInfo.environment
        if let dataDir { environment[Setting.dataDir.environment] = dataDir }
        let configuration: SlipwayConfiguration
        do {
            configuration = try await SlipwayConfiguration.load(file: config, environment: environment)
        } catch {
            FileHandle.standardError.write(Data("slipway: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        do {
            try await Server(configuration: configuration).run()
        } catch let error as ServeError {
            FileHandle.standardError.write(Data("slipway: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
