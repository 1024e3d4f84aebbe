import ArgumentParser
import Foundation
import NIOHTTP1

/// `slipway deploy`: creates or updates a deployment, queues a build and
/// follows it until it is live.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Create or update a deployment, build it and follow the build until it is live.",
        discussion: """
            Settings come from the flags, else from a slipway.yaml, slipway.yml or slipway.json \
            in the current directory (keys: slug, repo, branch, root, install, build, output, spa, \
            notifyUrl, env: ["NAME=VALUE"]). With a slug naming an existing deployment, its settings are \
            updated and a new build is queued. Secret variables are only taken from --secret.

            The build's log goes to standard output and the URL is printed once it is live. On a \
            terminal a status line at the bottom (on standard error) shows the build's progress; \
            elsewhere a line is printed per status change. With --json only the deployment and the \
            final build are printed, as JSON. Exit status: 0 live, 1 failed or canceled, 2 usage.
            """
    )

    @OptionGroup var options: ClientOptions
    @Option(name: .long, help: "The deployment's name in its URL (default: derived from the repository).") var slug:
        String?
    @Option(name: .long, help: "The git repository (https://…).") var repo: String?
    @Option(name: .long, help: "A deployment file to read instead of ./slipway.yaml, ./slipway.yml or ./slipway.json.")
    var file: String?
    @Option(name: .long, help: "The branch to build (default main).") var branch: String?
    @Option(name: .long, help: "The directory inside the repository to build in.") var root: String?
    @Option(name: .long, help: "The install command (default: npm ci with a lockfile, else npm install).") var install:
        String?
    @Option(name: .long, help: "The build command (default: npm run build).") var build: String?
    @Option(name: .long, help: "The directory holding the built site (default: dist, build, public or out).")
    var output: String?
    @Option(name: .long, help: "auto, spa or static.") var spa: String?
    @Option(name: .long, help: "A build variable NAME=VALUE (repeatable).") var env: [String] = []
    @Option(name: .long, help: "A secret build variable NAME=VALUE, masked in logs (repeatable).") var secret:
        [String] = []
    @Option(name: .long, help: "A URL that gets a signed JSON POST whenever a build ends (\"\" removes it).")
    var notifyUrl: String?
    @Flag(
        name: .long,
        help:
            "Read the private repository's access token (TOKEN, or USER:TOKEN) from the first line of standard input; sealed on the server, never shown. An empty line forgets it."
    )
    var repoTokenStdin = false
    @Flag(name: .long, help: "Queue the build and return without following it.") var noFollow = false

    func validate() throws {
        if let spa, !["auto", "spa", "static"].contains(spa) {
            throw ValidationError("--spa must be auto, spa or static")
        }
        for pair in env + secret where !pair.contains("=") {
            throw ValidationError("'\(pair)' is not NAME=VALUE")
        }
    }

    func run() async throws {
        try await runClient {
            let client = try options.client()
            var defaults = DeploymentFile()
            if let path = file ?? DeploymentFile.find(in: FileManager.default.currentDirectoryPath) {
                defaults = try await DeploymentFile.load(path)
            }
            guard let repo = repo ?? defaults.repo else {
                throw ClientError(
                    "no repository: pass --repo URL, or run where a slipway.yaml or slipway.json with `repo` is")
            }
            let slug = slug ?? defaults.slug
            var settings: [String: Any] = ["repoUrl": repo]
            if let branch = branch ?? defaults.branch { settings["branch"] = branch }
            if let root = root ?? defaults.root { settings["rootDir"] = root }
            if let install = install ?? defaults.install { settings["installCommand"] = install }
            if let build = build ?? defaults.build { settings["buildCommand"] = build }
            if let output = output ?? defaults.output { settings["outputDir"] = output }
            if let spa = spa ?? defaults.spa { settings["spa"] = spa }
            if let notifyUrl = notifyUrl ?? defaults.notifyUrl { settings["notifyUrl"] = notifyUrl }
            let plain = env.isEmpty ? defaults.env : env
            for pair in plain where !pair.contains("=") {
                throw ClientError("the variable '\(pair)' is not NAME=VALUE")
            }
            let variables = plain.map { variable($0, secret: false) } + secret.map { variable($0, secret: true) }
            if !variables.isEmpty { settings["env"] = variables }
            if repoTokenStdin {
                // Never an argument: command lines are visible to every user of the machine.
                guard let line = readLine(strippingNewline: true) else {
                    throw ClientError("--repo-token-stdin: standard input ended before a line; pipe the token in")
                }
                settings["repoToken"] = line.trimmingCharacters(in: .whitespaces)
            }

            var buildJSON: [String: Any]
            var deployment: [String: Any]
            if let slug, (try? await client.send(.GET, "/api/deployments/\(slug)")) != nil {
                settings["rebuild"] = true
                deployment =
                    try await client.send(.PATCH, "/api/deployments/\(slug)", body: settings) as? [String: Any] ?? [:]
                let builds = try await client.send(.GET, "/api/deployments/\(slug)/builds") as? [String: Any]
                buildJSON = (builds?["builds"] as? [[String: Any]])?.first ?? [:]
            } else {
                if let slug { settings["slug"] = slug }
                let created = try await client.send(.POST, "/api/deployments", body: settings) as? [String: Any] ?? [:]
                deployment = created["deployment"] as? [String: Any] ?? [:]
                buildJSON = created["build"] as? [String: Any] ?? [:]
            }
            let buildID = text(buildJSON["id"])
            let url = text(deployment["url"])
            if noFollow {
                report(["deployment": deployment, "build": buildJSON], json: options.json) {
                    "queued build #\(text(buildJSON["number"])) (\(buildID)) of \(text(deployment["slug"])); it will serve at \(url)"
                }
                return
            }
            try await follow(build: buildJSON, deployment: deployment, client: client)
        }
    }

    private func variable(_ pair: String, secret: Bool) -> [String: Any] {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return ["name": String(parts[0]), "value": parts.count > 1 ? String(parts[1]) : "", "secret": secret]
    }
}
