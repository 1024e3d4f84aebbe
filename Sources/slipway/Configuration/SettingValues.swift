import Configuration
import Foundation
import SystemPackage

/// The raw values of every setting, layered the way docs/interface.md promises:
/// environment variables first, then the configuration file, then defaults.
///
/// File values may be strings, numbers or booleans; environment values are
/// strings. Parsing into typed values happens in `SlipwayConfiguration`, so
/// every bad value is reported with the setting's name.
struct SettingValues: Sendable {
    private let reader: ConfigReader

    /// - Parameters:
    ///   - file: a `.json`, `.yaml` or `.yml` file, or nil for environment and defaults only.
    ///   - environment: the process environment (injected for tests).
    static func load(file: String?, environment: [String: String]) async throws(ConfigurationError) -> SettingValues {
        // Each file key reads from its documented variable (`storage.s3.bucket`
        // -> SLIPWAY_S3_BUCKET), not from a mechanically derived name.
        let variables = Dictionary(uniqueKeysWithValues: Setting.all.map { ($0.key, $0.environment) })
        let secrets = Set(Setting.all.filter(\.secret).map(\.environment))
        let env = KeyMappingProvider(
            upstream: EnvironmentVariablesProvider(
                environmentVariables: environment.filter { variables.values.contains($0.key) },
                secretsSpecifier: .dynamic { name, _ in secrets.contains(name) })
        ) { key in
            let dotted = key.components.joined(separator: ".")
            guard let variable = variables[dotted] else { return key }
            return AbsoluteConfigKey(variable.lowercased().split(separator: "_").map(String.init))
        }
        var providers: [any ConfigProvider] = [env]
        if let file {
            let path = FilePath(file)
            do {
                switch path.extension?.lowercased() {
                case "json": providers.append(try await FileProvider<JSONSnapshot>(filePath: path))
                case "yaml", "yml": providers.append(try await FileProvider<YAMLSnapshot>(filePath: path))
                default:
                    throw ConfigurationError("the configuration file '\(file)' must end in .yaml, .yml or .json")
                }
            } catch let error as ConfigurationError {
                throw error
            } catch {
                throw ConfigurationError("cannot read the configuration file '\(file)': \(error)")
            }
        }
        return SettingValues(reader: ConfigReader(providers: providers))
    }

    /// The setting's value as text, whatever type the file gave it; nil when unset.
    func text(_ setting: Setting) -> String? {
        let key = ConfigKey(setting.key)
        if let value = reader.string(forKey: key, isSecret: setting.secret) { return value }
        if let value = reader.int(forKey: key, isSecret: setting.secret) { return String(value) }
        if let value = reader.double(forKey: key, isSecret: setting.secret) { return String(value) }
        if let value = reader.bool(forKey: key, isSecret: setting.secret) { return String(value) }
        return nil
    }
}

/// A configuration that cannot be used: the message names the setting and says what to write.
struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
