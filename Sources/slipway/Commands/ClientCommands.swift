import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1

/// Prints a result: the API's JSON with `--json`, else `human`.
func report(_ value: Any?, json: Bool, human: () -> String) {
    if json, let value,
        let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])
    {
        print(String(decoding: data, as: UTF8.self))
    } else {
        print(human())
    }
}

/// Runs a client command body, turning its failures into a message on
/// stderr and exit status 1.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ClientError {
        FileHandle.standardError.write(Data("slipway: \(error.description)\n".utf8))
        throw ExitCode(1)
    }
}

/// Columns padded to the widest cell.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n")
}

func text(_ value: Any?) -> String {
    switch value {
    case let string as String: string
    case let number as NSNumber: number.stringValue
    default: "-"
    }
}

struct SitesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sites", abstract: "List the deployments.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let answer = try await options.client().send(.GET, "/api/deployments")
            let deployments = (answer as? [String: Any])?["deployments"] as? [[String: Any]] ?? []
            report(answer, json: options.json) {
                deployments.isEmpty
                    ? "No deployments yet: create one with `slipway deploy --repo URL`."
                    : table(
                        ["SLUG", "STATUS", "URL", "ACTIVE BUILD", "PROTECTION"],
                        deployments.map {
                            [
                                text($0["slug"]), text($0["status"]), text($0["url"]), text($0["activeBuildId"]),
                                ProtectCommand.describe($0["protection"]),
                            ]
                        })
            }
        }
    }
}

struct BuildsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "builds", abstract: "List a deployment's builds, newest first.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The deployment's slug.") var slug: String

    func run() async throws {
        try await runClient {
            let answer = try await options.client().send(.GET, "/api/deployments/\(slug)/builds")
            let builds = (answer as? [String: Any])?["builds"] as? [[String: Any]] ?? []
            report(answer, json: options.json) {
                table(
                    ["#", "STATUS", "ID", "COMMIT", "FINISHED", "ERROR"],
                    builds.map {
                        [
                            text($0["number"]), text($0["status"]), text($0["id"]),
                            String(text($0["commitSha"]).prefix(10)),
                            text($0["finishedAt"]), String(text($0["error"]).prefix(60)),
                        ]
                    })
            }
        }
    }
}

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a build's log.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The build's id.") var buildID: String
    @Flag(name: .long, help: "Follow the log until the build ends; exit 1 unless it succeeded.") var follow = false

    func run() async throws {
        try await runClient {
            let client = try options.client()
            if follow {
                let build = try await client.followLog(buildID: buildID) { _, line in print(line) }
                try finish(build)
            } else {
                let log = try await client.plainLog(buildID: buildID)
                FileHandle.standardOutput.write(Data(log.readableBytesView))
            }
        }
    }
}

/// Ends a followed build: a summary line, and exit status 1 unless it succeeded.
func finish(_ build: [String: Any]) throws {
    let status = text(build["status"])
    let number = text(build["number"])
    if status == "success" {
        print("build #\(number) succeeded")
    } else {
        throw ClientError(
            "build #\(number) \(status == "canceled" ? "was canceled" : "failed"): \(text(build["error"]))")
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Serve an earlier build again (the previous successful one by default).")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The deployment's slug.") var slug: String
    @Argument(help: "The build to serve (default: the previous successful build).") var buildID: String?

    func run() async throws {
        try await runClient {
            var body: [String: Any] = [:]
            if let buildID { body["buildId"] = buildID }
            let answer = try await options.client().send(.POST, "/api/deployments/\(slug)/rollback", body: body)
            report(answer, json: options.json) {
                "\(slug) now serves build \(text((answer as? [String: Any])?["activeBuildId"]))"
            }
        }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a queued or running build.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The build's id.") var buildID: String

    func run() async throws {
        try await runClient {
            let answer = try await options.client().send(.POST, "/api/builds/\(buildID)/cancel")
            report(answer, json: options.json) { "build \(buildID) is \(text((answer as? [String: Any])?["status"]))" }
        }
    }
}

struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete a deployment, its builds and its files.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The deployment's slug.") var slug: String

    func run() async throws {
        try await runClient {
            _ = try await options.client().send(.DELETE, "/api/deployments/\(slug)")
            report(["deleted": slug], json: options.json) { "deleted \(slug)" }
        }
    }
}
