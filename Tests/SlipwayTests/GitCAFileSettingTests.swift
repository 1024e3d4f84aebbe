import Builder
import Foundation
import Testing

@testable import slipway

/// `SLIPWAY_GIT_CA_FILE`: checked at start, made absolute, handed to the builder.
@Suite struct GitCAFileSettingTests {
    @Test func aPEMBundleReachesTheBuilderAndAnythingElseStopsTheStart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-git-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bundle = directory.appendingPathComponent("git-ca.pem").path
        try Data("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8)
            .write(to: URL(fileURLWithPath: bundle))

        let none = try await SlipwayConfiguration.load(file: nil, environment: [:])
        #expect(none.builds.gitCAFile == nil && none.builderConfiguration.gitCAFile == nil)

        let configured = try await SlipwayConfiguration.load(file: nil, environment: ["SLIPWAY_GIT_CA_FILE": bundle])
        #expect(configured.builderConfiguration.gitCAFile == bundle)

        let missing = directory.appendingPathComponent("missing.pem").path
        let error = await #expect(throws: ConfigurationError.self) {
            try await SlipwayConfiguration.load(file: nil, environment: ["SLIPWAY_GIT_CA_FILE": missing])
        }
        #expect(
            error?.description.contains("SLIPWAY_GIT_CA_FILE (builder.git_ca_file)") == true,
            "\(String(describing: error))")
        #expect(error?.description.contains("'\(missing)' is not a file") == true)

        let yaml = directory.appendingPathComponent("slipway.yaml").path
        try Data("builder:\n  git_ca_file: \(directory.path)\n".utf8).write(to: URL(fileURLWithPath: yaml))
        await #expect(throws: ConfigurationError.self) {
            try await SlipwayConfiguration.load(file: yaml, environment: [:])
        }
    }
}
