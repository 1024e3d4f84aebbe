import ArgumentParser
import Foundation
import NIOHTTP1

/// `slipway protect SLUG …`: turns a deployment's protection on, changes
/// it, turns it off, or shows it.
struct ProtectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protect",
        abstract: "Make visitors sign in before a deployment is served (or show, change, turn off its protection).",
        discussion: """
            With --password-stdin, the password is read from standard input (one line; the trailing newline is \
            dropped), so it never appears in the shell's history or the process list:

              printf '%s\\n' "$PREVIEW_PASSWORD" | slipway protect my-site --password-stdin --previews-only

            Visitors then get a sign-in page (or, with --basic USER, the browser's HTTP Basic prompt). Giving a \
            new password signs every visitor out. Without flags, prints the current protection.
            """)

    @OptionGroup var options: ClientOptions
    @Argument(help: "The deployment's slug.") var slug: String
    @Flag(name: .long, help: "Read the password from standard input (8 to 1024 bytes).") var passwordStdin = false
    @Option(name: .long, help: "Use HTTP Basic authentication with this username instead of the sign-in page.")
    var basic: String?
    @Flag(name: .long, help: "Protect only preview hosts (<n>--<slug>…); the production host stays public.")
    var previewsOnly = false
    @Flag(name: .long, help: "Protect every host of the deployment, production included.") var everywhere = false
    @Flag(name: .long, help: "Turn protection off.") var off = false

    func validate() throws {
        if off && (passwordStdin || basic != nil || previewsOnly || everywhere) {
            throw ValidationError("--off takes no other protection flag")
        }
        if previewsOnly && everywhere { throw ValidationError("give --previews-only or --everywhere, not both") }
        if basic != nil && !passwordStdin {
            throw ValidationError("--basic needs a password: add --password-stdin and pipe the password in")
        }
    }

    func run() async throws {
        try await runClient {
            let client = try options.client()
            var protection: [String: Any] = [:]
            if off {
                protection["mode"] = "none"
            } else if passwordStdin {
                protection["mode"] = basic == nil ? "password" : "basic"
                if let basic { protection["username"] = basic }
                protection["password"] = try Self.readPassword()
                protection["previewsOnly"] = previewsOnly
            } else if previewsOnly || everywhere {
                protection["previewsOnly"] = previewsOnly
            }
            let answer: Any?
            if protection.isEmpty {
                answer = try await client.send(.GET, "/api/deployments/\(slug)")
            } else {
                answer = try await client.send(.PATCH, "/api/deployments/\(slug)", body: ["protection": protection])
            }
            let deployment = answer as? [String: Any] ?? [:]
            report(answer, json: options.json) {
                "\(slug): \(Self.describe(deployment["protection"]))"
            }
        }
    }

    /// The password from standard input, without its line ending.
    static func readPassword() throws -> String {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard var text = String(data: data, encoding: .utf8) else {
            throw ClientError("the password on standard input is not UTF-8 text")
        }
        if text.hasSuffix("\n") { text.removeLast() }
        if text.hasSuffix("\r") { text.removeLast() }
        guard !text.isEmpty else {
            throw ClientError(
                "no password on standard input; pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | slipway protect …")
        }
        return text
    }

    /// A deployment's `protection` in words (`slipway sites`, `slipway protect`).
    static func describe(_ value: Any?) -> String {
        guard let protection = value as? [String: Any], let mode = protection["mode"] as? String, mode != "none" else {
            return "public"
        }
        let scope = (protection["previewsOnly"] as? Bool) == true ? ", previews only" : ""
        if mode == "basic" { return "basic (user \(text(protection["username"])))\(scope)" }
        return "password\(scope)"
    }
}
