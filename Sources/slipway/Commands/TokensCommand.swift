import ArgumentParser
import Foundation
import NIOHTTP1

/// `slipway tokens create|ls|revoke`: API tokens with scopes, for CI jobs
/// and people who should not hold the admin token.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Create, list and revoke API tokens (needs an admin token).",
        discussion: """
            Scopes: admin (everything), read (every GET of the API but tokens and the audit log), \
            deploy:<slug> (for a CI job: trigger, cancel and read the builds of one deployment and roll it back).
            """,
        subcommands: [TokensCreateCommand.self, TokensListCommand.self, TokensRevokeCommand.self])
}

struct TokensCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create an API token and print it (it is shown only once).",
        discussion:
            "Example, for a CI job that deploys one site: slipway tokens create --name ci --scope deploy:my-site --expires-in 90d"
    )
    @OptionGroup var options: ClientOptions
    @Option(name: .long, help: "Who or what uses the token, e.g. 'GitHub Actions of my-site'.") var name: String
    @Option(name: .long, help: "admin, read or deploy:<slug>.") var scope: String
    @Option(name: .long, help: "Lifetime, e.g. 30d, 12h or 1d12h (default: never expires).") var expiresIn: String?

    func run() async throws {
        try await runClient {
            var body: [String: Any] = ["name": name, "scope": scope]
            if let expiresIn { body["expiresIn"] = expiresIn }
            let answer = try await options.client().send(.POST, "/api/tokens", body: body)
            let token = answer as? [String: Any] ?? [:]
            report(answer, json: options.json) {
                let expiry = (token["expiresAt"] as? String).map { "expires \($0)" } ?? "never expires"
                return """
                    \(text(token["token"]))

                    Token \(text(token["id"])) '\(text(token["name"]))', scope \(text(token["scope"])), \(expiry).
                    """
            }
            FileHandle.standardError.write(
                Data(
                    "Store this token now (e.g. as a CI secret, SLIPWAY_TOKEN): it is not shown again. Revoke it with `slipway tokens revoke \(text(token["id"]))`.\n"
                        .utf8))
        }
    }
}

struct TokensListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the API tokens, newest first (never their values).")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let answer = try await options.client().send(.GET, "/api/tokens")
            let tokens = (answer as? [String: Any])?["tokens"] as? [[String: Any]] ?? []
            report(answer, json: options.json) {
                tokens.isEmpty
                    ? "No API tokens yet: create one with `slipway tokens create --name NAME --scope SCOPE`."
                    : table(
                        ["ID", "NAME", "SCOPE", "STATE", "EXPIRES", "LAST USED"],
                        tokens.map {
                            [
                                text($0["id"]), text($0["name"]), text($0["scope"]), state(of: $0),
                                text($0["expiresAt"]), text($0["lastUsedAt"]),
                            ]
                        })
            }
        }
    }

    /// `revoked`, `expired` or `active`.
    func state(of token: [String: Any]) -> String {
        if token["revokedAt"] is String { return "revoked" }
        if let expiry = token["expiresAt"] as? String,
            let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(expiry), date <= Date()
        {
            return "expired"
        }
        return "active"
    }
}

struct TokensRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke an API token; it is refused at once.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The token's id (from `slipway tokens ls`).") var id: String

    func run() async throws {
        try await runClient {
            let answer = try await options.client().send(.DELETE, "/api/tokens/\(id)")
            report(answer, json: options.json) { "revoked token \(id)" }
        }
    }
}

/// `slipway audit`: the admin API's audit log, newest first.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show the audit log: changes made through the API and refused tokens, newest first.")
    @OptionGroup var options: ClientOptions
    @Option(name: .long, help: "Entries to show, 1 to 200.") var limit = 50
    @Option(name: .long, help: "Only this action, e.g. build.trigger, token.create or auth.failed.") var action: String?
    @Option(name: .long, help: "Only the entries of this token id (`bootstrap` for the admin token).") var tokenID:
        String?
    @Option(name: .long, help: "Only entries older than this entry id (the next page).") var before: Int?

    func run() async throws {
        try await runClient {
            var query = ["limit=\(limit)"]
            if let action { query.append("action=\(Self.encoded(action))") }
            if let tokenID { query.append("tokenId=\(Self.encoded(tokenID))") }
            if let before { query.append("before=\(before)") }
            let answer = try await options.client().send(.GET, "/api/audit?" + query.joined(separator: "&"))
            let events = (answer as? [String: Any])?["events"] as? [[String: Any]] ?? []
            let next = (answer as? [String: Any])?["nextBefore"]
            report(answer, json: options.json) {
                var lines = table(
                    ["ID", "TIME", "TOKEN", "ACTION", "TARGET", "OUTCOME", "CLIENT"],
                    events.map {
                        let count = ($0["count"] as? Int).map { $0 > 1 ? " ×\($0)" : "" } ?? ""
                        return [
                            text($0["id"]), text($0["time"]), text($0["tokenName"]), text($0["action"]) + count,
                            text($0["target"]), text($0["outcome"]), text($0["clientAddress"]),
                        ]
                    })
                if next is NSNumber { lines += "\nolder entries: slipway audit --before \(text(next))" }
                return lines
            }
        }
    }

    static func encoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? value
    }
}
