import ArgumentParser
import Foundation

/// `slipway config`: shows where every setting comes from and checks the
/// whole configuration the way `slipway serve` does before it starts.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check the configuration and print every setting's value (secrets redacted).",
        discussion: """
            Settings come from the environment (SLIPWAY_*), then the configuration file \
            (YAML or JSON), then the defaults. Exits with status 1 and a message naming \
            the setting when the configuration cannot be used.
            """
    )

    @Option(name: .long, help: "A YAML (.yaml/.yml) or JSON (.json) configuration file.")
    var config: String?

    @Option(name: .long, help: "The data directory (overrides SLIPWAY_DATA_DIR and data.dir).")
    var dataDir: String?

    func run() async throws {
        var environment = ProcessInfo.processInfo.environment
        if let dataDir { environment[Setting.dataDir.environment] = dataDir }
        do {
            let values = try await SettingValues.load(file: config, environment: environment)
            print(ConfigCommand.render(values))
            _ = try SlipwayConfiguration.parse(values)
            print("\nThe configuration is valid.")
        } catch {
            FileHandle.standardError.write(Data("slipway: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// One line per setting: file key, variable, and the value in effect.
    static func render(_ values: SettingValues) -> String {
        let width = Setting.all.map { $0.key.count }.max() ?? 0
        return Setting.all.map { setting in
            let value: String
            if let text = values.text(setting) {
                value = setting.secret ? "<redacted>" : text
            } else {
                value = setting.defaultText.isEmpty ? "(not set)" : "\(setting.defaultText) (default)"
            }
            return setting.key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value
                + "   [\(setting.environment)]"
        }.joined(separator: "\n")
    }
}
