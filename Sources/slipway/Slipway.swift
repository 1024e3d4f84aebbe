import ArgumentParser

/// The `slipway` command: one binary for the edge proxy, the build engine and
/// the admin API, plus the client commands that talk to a running instance.
@main
struct Slipway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slipway",
        abstract: "Self-hosted static-site and SPA hosting: edge proxy, build engine and admin API in one binary.",
        version: "0.1.0",
        subcommands: [ServeCommand.self, ConfigCommand.self]
    )
}
