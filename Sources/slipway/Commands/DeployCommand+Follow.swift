import ArgumentParser
import Foundation
import NIOHTTP1
import UnixSignals

extension DeployCommand {
    /// How often the ticker redraws the status line (spinner and clock).
    static let tickInterval = Duration.milliseconds(120)
    /// How often the build's status is asked for while its log streams (the
    /// log stream only reports the final status).
    static let statusInterval = Duration.seconds(1)

    /// Follows a queued build until it ends, showing it as `BuildProgress`
    /// decides for this terminal; with `--json`, prints the deployment and
    /// the final build instead.
    /// - Throws: `ExitCode(1)` when the build does not go live, `ClientError`
    ///   when the admin API cannot be followed.
    func follow(build: [String: Any], deployment: [String: Any], client: AdminAPIClient) async throws {
        let environment = ProcessInfo.processInfo.environment
        let buildID = text(build["id"])
        let style = BuildProgress.Style.detect(
            json: options.json, errorIsTerminal: Terminal.isTerminal(Terminal.error), environment: environment)
        let progress = BuildProgress(
            style: style, slug: text(deployment["slug"]), number: text(build["number"]), status: text(build["status"]),
            logSharesTerminal: Terminal.isTerminal(Terminal.output),
            columns: { Terminal.columns(Terminal.error, environment: environment) })
        // Ctrl-C would leave the status line half-drawn under the shell's
        // prompt: say instead that the build goes on, and exit as the default
        // action would have (128 + SIGINT). Trapped before anything is drawn.
        var interrupts: UnixSignalsSequence?
        if case .live = style { interrupts = await UnixSignalsSequence(trapping: .sigint) }
        fflush(nil) // what print() buffered comes before what progress writes unbuffered
        progress.start()

        let final: [String: Any]
        do {
            final = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: Self.statusInterval)
                        guard !Task.isCancelled else { return }
                        let current = try? await client.send(.GET, "/api/builds/\(buildID)") as? [String: Any]
                        if let status = current?["status"] as? String { progress.observe(status: status) }
                    }
                }
                if case .live = style {
                    group.addTask {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: Self.tickInterval)
                            progress.tick()
                        }
                    }
                }
                if let interrupts {
                    group.addTask {
                        for await _ in interrupts {
                            progress.interrupted(buildID: buildID)
                            Foundation.exit(130)
                        }
                    }
                }
                defer { group.cancelAll() }
                return try await client.followLog(buildID: buildID) { _, line in progress.log(line) }
            }
        } catch {
            progress.clear()
            throw error
        }

        let status = text(final["status"])
        let live = progress.finish(
            status: status, error: final["error"] as? String, buildID: buildID, url: text(deployment["url"]))
        if case .quiet = style {
            let current = try? await client.send(.GET, "/api/deployments/\(text(deployment["slug"]))")
            report(["deployment": current ?? deployment, "build": final], json: true) { "" }
        }
        if !live { throw ExitCode(1) }
    }
}
