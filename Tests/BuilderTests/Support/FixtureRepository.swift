import Foundation
import Storage

@testable import Builder

/// Real git repositories made from the fixture trees in `Fixtures/`.
enum FixtureRepository {
    struct GitFailed: Error, CustomStringConvertible {
        var description: String
    }

    /// The directory of a fixture tree.
    static func fixturePath(_ name: String) throws -> String {
        guard let resources = Bundle.module.resourcePath else {
            throw GitFailed(description: "the test bundle has no resources")
        }
        let path = resources + "/Fixtures/" + name
        guard FileManager.default.fileExists(atPath: path) else {
            throw GitFailed(description: "no fixture named \(name) at \(path)")
        }
        return path
    }

    /// Copies fixture `name` to `directory` and makes it a git repository
    /// with one commit on `branch`; returns the repository's path.
    @discardableResult
    static func make(
        _ name: String, at directory: String, branch: String = "main", message: String? = nil
    ) async throws -> String {
        try FileManager.default.createDirectory(
            atPath: (directory as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try fixturePath(name), toPath: directory)
        try await git(["init", "--quiet", "--initial-branch", branch], in: directory)
        try await commitAll(in: directory, message: message ?? "Add the \(name) fixture")
        return directory
    }

    /// Commits every change in `directory`.
    static func commitAll(in directory: String, message: String) async throws {
        try await git(["add", "--all"], in: directory)
        try await git(["commit", "--quiet", "--allow-empty", "-m", message], in: directory)
    }

    /// The SHA of HEAD in `directory`.
    static func head(of directory: String) async throws -> String {
        try await git(["rev-parse", "HEAD"], in: directory).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs git in `directory`; returns its stdout.
    @discardableResult
    static func git(_ arguments: [String], in directory: String) async throws -> String {
        let output = LineTail(limit: 10_000)
        let outcome = try await ChildProcess.run(
            executable: "git",
            arguments: [
                "-c", "user.name=Slipway Tests", "-c", "user.email=tests@slipway.invalid", "-c", "commit.gpgsign=false",
            ]
                + arguments,
            environment: [
                "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": directory, "GIT_CONFIG_NOSYSTEM": "1", "LANG": "C",
            ],
            workingDirectory: directory, timeout: .seconds(60), maxLineBytes: 64 << 10
        ) { line, _ in output.append(line) }
        guard outcome.exitCode == 0 else {
            throw GitFailed(
                description:
                    "git \(arguments.joined(separator: " ")) failed (\(outcome.exitCode)): \(output.lines.joined(separator: "\n"))"
            )
        }
        return output.lines.joined(separator: "\n")
    }
}
