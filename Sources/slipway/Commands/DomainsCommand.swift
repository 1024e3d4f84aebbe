import ArgumentParser
import Foundation
import NIOHTTP1

/// `slipway domains add|ls|rm|verify`: a deployment's custom domains.
struct DomainsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domains",
        abstract: "Add, list, check and remove a deployment's custom domains.",
        discussion: """
            A domain is pending until its ownership TXT record and its routing record are seen in DNS; \
            `slipway domains ls SLUG` shows the records to create. An apex (example.com) is added with its \
            www together; the one not chosen as primary redirects to the other.
            """,
        subcommands: [
            DomainsAddCommand.self, DomainsListCommand.self, DomainsVerifyCommand.self, DomainsRemoveCommand.self,
        ])

    /// The records to create, as lines a person can copy.
    static func records(_ domain: [String: Any]) -> String {
        let records = domain["dnsRecords"] as? [[String: Any]] ?? []
        return records.map {
            "  \(text($0["type"])) \(text($0["name"])) \(text($0["value"]))  (\(text($0["purpose"])))"
        }
        .joined(separator: "\n")
    }

    static func path(_ slug: String, _ hostname: String? = nil) -> String {
        let base = "/api/deployments/\(slug)/domains"
        guard let hostname else { return base }
        return base + "/" + (hostname.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? hostname)
    }
}

struct DomainsAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a custom domain to a deployment and print the DNS records to create.",
        discussion: "Example: slipway domains add my-site www.example.com --primary www.example.com")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The deployment's slug.") var slug: String
    @Argument(help: "The host name, e.g. www.example.com or example.com.") var hostname: String
    @Option(name: .long, help: "Which of an apex/www pair serves; the other redirects to it.") var primary: String?
    @Flag(name: .long, help: "Add the name alone, without its www or apex partner.") var noPair = false
    @Flag(name: .long, help: "Treat the name as a zone apex (guessed otherwise).") var apex = false
    @Option(name: .long, help: "Send Strict-Transport-Security with this max-age (seconds) over HTTPS.") var hstsMaxAge:
        Int?

    func run() async throws {
        try await runClient {
            var body: [String: Any] = ["hostname": hostname]
            if let primary { body["primary"] = primary }
            if noPair { body["pairWww"] = false }
            if apex { body["apex"] = true }
            if let hstsMaxAge { body["hstsMaxAge"] = hstsMaxAge }
            let answer = try await options.client().send(.POST, DomainsCommand.path(slug), body: body)
            let domains = (answer as? [String: Any])?["domains"] as? [[String: Any]] ?? []
            report(answer, json: options.json) {
                let names = domains.map { text($0["hostname"]) }.joined(separator: " and ")
                let records = Set(domains.map(DomainsCommand.records)).sorted().joined(separator: "\n")
                return """
                    Added \(names) to \(slug), pending. Create these records at your DNS host:
                    \(records)
                    Slipway checks DNS on its own and backs off; `slipway domains verify \(slug) \(hostname)` checks now.
                    """
            }
        }
    }
}

struct DomainsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List a deployment's custom domains, their states and the records they need.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The deployment's slug.") var slug: String

    func run() async throws {
        try await runClient {
            let answer = try await options.client().send(.GET, DomainsCommand.path(slug))
            let domains = (answer as? [String: Any])?["domains"] as? [[String: Any]] ?? []
            report(answer, json: options.json) {
                guard !domains.isEmpty else {
                    return "No custom domains on \(slug): add one with `slipway domains add \(slug) www.example.com`."
                }
                var lines = table(
                    ["HOSTNAME", "STATUS", "CERTIFICATE", "EXPIRES", "REDIRECTS TO"],
                    domains.map {
                        let certificate = $0["certificate"] as? [String: Any]
                        return [
                            text($0["hostname"]), text($0["status"]), text($0["certificateStatus"]),
                            text(certificate?["notAfter"]), text($0["redirectTo"]),
                        ]
                    })
                for domain in domains {
                    if let problem = domain["lastError"] as? [String: Any] {
                        lines += "\n\(text(domain["hostname"])): \(text(problem["detail"]))"
                    }
                    if let warning = domain["warning"] as? String { lines += "\nwarning: \(warning)" }
                    if text(domain["status"]) != "active" {
                        lines += "\n\(text(domain["hostname"])) needs:\n" + DomainsCommand.records(domain)
                    }
                }
                return lines
            }
        }
    }
}

struct DomainsVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check a custom domain's DNS now (and again, if its checks gave up).")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The deployment's slug.") var slug: String
    @Argument(help: "The host name.") var hostname: String

    func run() async throws {
        try await runClient {
            let answer = try await options.client().send(.POST, DomainsCommand.path(slug, hostname) + "/verify")
            report(answer, json: options.json) {
                "checking \(hostname) now; `slipway domains ls \(slug)` shows what was found"
            }
        }
    }
}

struct DomainsRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a custom domain (and the other half of its pair).")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The deployment's slug.") var slug: String
    @Argument(help: "The host name.") var hostname: String

    func run() async throws {
        try await runClient {
            let answer = try await options.client().send(.DELETE, DomainsCommand.path(slug, hostname))
            let domains = (answer as? [String: Any])?["domains"] as? [[String: Any]] ?? []
            report(answer, json: options.json) {
                "removed \(domains.map { text($0["hostname"]) }.joined(separator: " and ")) from \(slug)"
            }
        }
    }
}
