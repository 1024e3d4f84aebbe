import ArgumentParser
import Foundation
import Model
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

            With --dir FOLDER the folder is published as it is, as a new build of the deployment \
            --slug names (created without a repository when it does not exist; no build step): \
            only the files whose contents \
            the deployment does not store yet are sent, and the build goes live at once — or, with \
            --preview, is kept as a preview without touching production. Run it again after an \
            interruption: what arrived is not sent twice. A CI job needs only a `deploy:<slug>` token.

            With --source FOLDER the folder is a source tree: it is uploaded the same way (leaving \
            out what its .gitignore files ignore, and always .git, node_modules and .slipway) and \
            built on the server like a repository's checkout, and the build is followed until it is live.
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
    @Option(
        name: .long,
        help: "Publish this folder (a built site) as a new build of the deployment --slug names, without building.")
    var dir: String?
    @Option(
        name: .long,
        help:
            "Upload this source tree (without what .gitignore ignores, node_modules and .git) and build it on the server."
    )
    var source: String?
    @Flag(name: .long, help: "With --dir: keep the build as a preview; production stays as it is.") var preview = false
    @Option(name: .long, help: "With --dir: files hashed and sent at once (default 4).") var parallel = 4

    func validate() throws {
        if dir == nil && preview { throw ValidationError("--preview goes with --dir") }
        if dir != nil && source != nil { throw ValidationError("--dir and --source do not go together: give one") }
        if source != nil && repo != nil {
            throw ValidationError("--repo does not go with --source: the uploaded folder is what is built")
        }
        if dir != nil {
            let building: [(String, Bool)] = [
                ("--repo", repo != nil), ("--branch", branch != nil), ("--root", root != nil),
                ("--install", install != nil), ("--build", build != nil), ("--output", output != nil),
                ("--env", !env.isEmpty), ("--secret", !secret.isEmpty), ("--repo-token-stdin", repoTokenStdin),
                ("--no-follow", noFollow),
            ]
            if let (flag, _) = building.first(where: { $0.1 }) {
                throw ValidationError("\(flag) does not go with --dir: a folder is published as it is, without a build")
            }
        }
        if !(1...32).contains(parallel) { throw ValidationError("--parallel must be 1 to 32") }
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
            if let dir {
                try await deployFolder(dir, slug: slug ?? defaults.slug, client: client)
                return
            }
            if let source {
                try await deploySource(source, slug: slug ?? defaults.slug, defaults: defaults, client: client)
                return
            }
            guard let repo = repo ?? defaults.repo else {
                throw ClientError(
                    "no repository: pass --repo URL, or run where a slipway.yaml or slipway.json with `repo` is")
            }
            let slug = slug ?? defaults.slug
            var settings = try buildSettings(defaults)
            settings["repoUrl"] = repo
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

    /// `--source`: uploads the source tree, then follows its build as any deploy does.
    private func deploySource(_ folder: String, slug: String?, defaults: DeploymentFile, client: AdminAPIClient)
        async throws
    {
        guard let slug else {
            throw ClientError("--source needs --slug (or a slipway.yaml with `slug`): the deployment to build it for")
        }
        try await ensureDeployment(slug, settings: try buildSettings(defaults), client: client)
        let outcome = try await FolderDeploy(
            client: client, slug: slug, directory: folder, kind: .source, preview: false, parallel: parallel,
            progress: options.json ? nil : { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        ).run()
        let build = outcome.finished["build"] as? [String: Any] ?? [:]
        let deployment = try await client.send(.GET, "/api/deployments/\(slug)") as? [String: Any] ?? [:]
        if noFollow {
            report(["deployment": deployment, "build": build], json: options.json) {
                "queued build #\(text(build["number"])) (\(text(build["id"]))) of \(slug) from the uploaded source"
            }
            return
        }
        try await follow(build: build, deployment: deployment, client: client)
    }

    /// The build settings the flags (else the deployment file) give.
    private func buildSettings(_ defaults: DeploymentFile) throws -> [String: Any] {
        var settings: [String: Any] = [:]
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
        return settings
    }

    /// Creates the deployment (without a repository) when it does not
    /// exist, or applies `settings` to it.
    private func ensureDeployment(_ slug: String, settings: [String: Any], client: AdminAPIClient) async throws {
        let (status, _) = try await client.request(.GET, "/api/deployments/\(slug)")
        if status == 404 {
            _ = try await client.send(.POST, "/api/deployments", body: settings.merging(["slug": slug]) { $1 })
            if !options.json {
                FileHandle.standardError.write(Data("created the deployment \(slug) (no repository)\n".utf8))
            }
        } else if !settings.isEmpty {
            _ = try await client.send(.PATCH, "/api/deployments/\(slug)", body: settings)
        }
    }

    /// `--dir`: uploads the folder and prints where the build serves.
    private func deployFolder(_ dir: String, slug: String?, client: AdminAPIClient) async throws {
        guard let slug else {
            throw ClientError("--dir needs --slug (or a slipway.yaml with `slug`): the deployment to publish to")
        }
        let json = options.json
        var settings: [String: Any] = [:]
        if let spa = spa { settings["spa"] = spa }
        if let notifyUrl = notifyUrl { settings["notifyUrl"] = notifyUrl }
        try await ensureDeployment(slug, settings: settings, client: client)
        let outcome = try await FolderDeploy(
            client: client, slug: slug, directory: dir, preview: preview, parallel: parallel,
            progress: json ? nil : { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        ).run()
        let build = outcome.finished["build"] as? [String: Any] ?? [:]
        for warning in outcome.finished["warnings"] as? [String] ?? [] {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        report(outcome.finished, json: json) {
            let sent =
                "\(outcome.sent) sent (\(ByteCount.format(outcome.sentBytes))), \(outcome.skipped) already stored"
            if outcome.finished["activated"] as? Bool == true {
                return
                    "build #\(text(build["number"])) of \(slug) is live at \(text(outcome.finished["url"])) (\(outcome.files) files; \(sent))"
            }
            if preview {
                return
                    "build #\(text(build["number"])) of \(slug) is ready to preview at \(text(build["previewUrl"])) (\(outcome.files) files; \(sent)); production is unchanged"
            }
            return
                "build #\(text(build["number"])) of \(slug) was published but a newer build stays live; preview it at \(text(build["previewUrl"]))"
        }
    }

    private func variable(_ pair: String, secret: Bool) -> [String: Any] {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return ["name": String(parts[0]), "value": parts.count > 1 ? String(parts[1]) : "", "secret": secret]
    }
}
