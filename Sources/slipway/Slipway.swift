import ArgumentParser
import Foundation

/// The `slipway` command: one binary for the edge proxy, the build engine and
/// the admin API, plus the client commands that talk to a running instance.
@main
struct Slipway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slipway",
        abstract: "Self-hosted static-site and SPA hosting: edge proxy, build engine and admin API in one binary.",
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, DeployCommand.self, SitesCommand.self, BuildsCommand.self, LogsCommand.self,
            RollbackCommand.self, CancelCommand.self, RemoveCommand.self, TokensCommand.self, AuditCommand.self,
            ProtectCommand.self, DomainsCommand.self, ConfigCommand.self, CatalogCommand.self, SecretKeyCommand.self,
            SuperviseCommand.self,
        ]
    )

    /// Parses and runs a command. Usage errors exit with status 2 (as
    /// scripts expect), failures with 1, success with 0.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
