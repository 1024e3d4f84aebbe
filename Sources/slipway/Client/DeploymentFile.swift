import Configuration
import Foundation
import SystemPackage

/// A deployment's settings kept in its repository as `slipway.json` or
/// `slipway.yaml`, so `slipway deploy` needs no flags:
///
/// ```yaml
/// slug: handbook
/// repo: https://github.com/acme/handbook.git
/// branch: main
/// root: website
/// install: npm ci
/// build: npm run build
/// output: dist
/// spa: auto
/// notifyUrl: https://hooks.example.com/slipway
/// env: ["PUBLIC_API=https://api.example.com"]
/// ```
///
/// Secret variables never belong in a repository: pass them with `--secret`.
struct DeploymentFile: Sendable, Equatable {
    var slug: String?
    var repo: String?
    var branch: String?
    var root: String?
    var install: String?
    var build: String?
    var output: String?
    var spa: String?
    var notifyUrl: String?
    var env: [String] = []

    static let names = ["slipway.yaml", "slipway.yml", "slipway.json"]

    /// The first of `slipway.yaml`, `slipway.yml`, `slipway.json` in `directory`, or nil.
    static func find(in directory: String) -> String? {
        names.map { directory + "/" + $0 }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Reads a deployment file.
    /// - Throws: `ClientError` naming the file when it cannot be read or holds
    ///   keys of the wrong type.
    static func load(_ path: String) async throws -> DeploymentFile {
        let reader: ConfigReader
        do {
            if path.hasSuffix(".json") {
                reader = ConfigReader(provider: try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
            } else {
                reader = ConfigReader(provider: try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
            }
        } catch {
            throw ClientError("cannot read \(path): \(error)")
        }
        var file = DeploymentFile()
        file.slug = reader.string(forKey: "slug")
        file.repo = reader.string(forKey: "repo")
        file.branch = reader.string(forKey: "branch")
        file.root = reader.string(forKey: "root")
        file.install = reader.string(forKey: "install")
        file.build = reader.string(forKey: "build")
        file.output = reader.string(forKey: "output")
        file.spa = reader.string(forKey: "spa")
        file.notifyUrl = reader.string(forKey: "notifyUrl")
        file.env = reader.stringArray(forKey: "env") ?? []
        return file
    }
}
