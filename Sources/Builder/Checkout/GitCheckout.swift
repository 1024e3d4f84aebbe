import Foundation
import Storage
import Synchronization

/// The commit a checkout holds.
public struct CheckedOutCommit: Sendable, Hashable {
    /// The full object name, lower-case hex.
    public var sha: String
    /// The commit's subject line.
    public var subject: String
}

/// Clones a validated repository with the `git` command line.
///
/// `git clone --depth 1 --branch <branch> --single-branch
/// --no-recurse-submodules -- <url> <dir>` runs as a child process with a
/// scrubbed environment: no terminal prompts (`GIT_TERMINAL_PROMPT=0`), a
/// protocol allow-list (`GIT_ALLOW_PROTOCOL`: `https`, plus `file` only
/// when local repositories are allowed), no system or user git
/// configuration, and a timeout after which git and its helpers are killed.
/// Credentials inside the URL are masked in every line of the build's log
/// from the start of the clone on (however git prints the URL), and
/// redacted from the errors.
struct GitCheckout: Sendable {
    var gitExecutable: String
    var timeout: Duration
    var allowLocal: Bool
    var maxLineBytes: Int

    /// Clones `source` into `directory` (which must not exist yet) and
    /// returns the commit it checked out. `home` is an empty directory git
    /// may use as `HOME`.
    func clone(_ source: RepositorySource, into directory: String, home: String, log: BuildLog) async throws
        -> CheckedOutCommit
    {
        let url = Self.gitURL(for: source.url)
        let environment = environment(home: home)
        log.maskCredentials(of: source)
        log.system("cloning \(source.redactedURL) (branch \(source.branch))")
        let stderrTail = LineTail(limit: 20)
        let outcome = try await ChildProcess.run(
            executable: gitExecutable,
            arguments: [
                "-c", "core.hooksPath=/dev/null", "-c", "advice.detachedHead=false",
                "clone", "--depth", "1", "--branch", source.branch, "--single-branch", "--no-recurse-submodules",
                "--", url, directory,
            ],
            environment: environment,
            workingDirectory: home,
            timeout: timeout,
            maxLineBytes: maxLineBytes
        ) { line, stream in
            let safe = log.output(line, stream: stream)
            if stream == .stderr { stderrTail.append(safe) }
        }
        if outcome.timedOut {
            throw BuildError.cloneFailed(
                "cloning \(source.redactedURL) took longer than \(DurationText.format(timeout)) and was stopped; check that the repository is reachable and not too large",
                transient: true
            )
        }
        guard outcome.exitCode == 0 else {
            let output = stderrTail.lines.joined(separator: "\n")
            let transient = Self.looksTransient(output)
            let detail =
                stderrTail.lines.last(where: { $0.hasPrefix("fatal:") || $0.hasPrefix("error:") }) ?? stderrTail.lines
                .last ?? "no output"
            throw BuildError.cloneFailed(
                "git clone of \(source.redactedURL) (branch \(source.branch)) failed with status \(outcome.exitCode): \(log.sanitize(detail))"
                    + (transient
                        ? "; this looks like a network problem, the build will be retried"
                        : "; check the repository URL, the branch and the access rights"),
                transient: transient
            )
        }
        return try await headCommit(of: directory, environment: environment, log: log)
    }

    /// The SHA and subject of HEAD in `directory`.
    private func headCommit(of directory: String, environment: [String: String], log: BuildLog) async throws
        -> CheckedOutCommit
    {
        let collected = LineTail(limit: 4)
        let outcome = try await ChildProcess.run(
            executable: gitExecutable,
            arguments: ["-C", directory, "log", "-1", "--format=%H%n%s"],
            environment: environment,
            workingDirectory: directory,
            timeout: .seconds(30),
            maxLineBytes: maxLineBytes
        ) { line, stream in
            if stream == .stdout { collected.append(line) } else { log.output(line, stream: stream) }
        }
        let lines = collected.lines
        guard outcome.exitCode == 0, let sha = lines.first, sha.count >= 40, sha.allSatisfy(\.isHexDigit) else {
            throw BuildError.cloneFailed(
                "the clone holds no readable commit (git log exited with \(outcome.exitCode)); check the branch",
                transient: false)
        }
        return CheckedOutCommit(sha: sha.lowercased(), subject: lines.dropFirst().first ?? "")
    }

    /// The child's whole environment.
    func environment(home: String) -> [String: String] {
        [
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "LANG": "C",
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ALLOW_PROTOCOL": allowLocal ? "https:file" : "https",
            "GIT_LFS_SKIP_SMUDGE": "1",
        ]
    }

    /// Local paths become `file://` URLs so that `--depth` applies to them too.
    static func gitURL(for url: String) -> String {
        url.hasPrefix("/") ? "file://" + url : url
    }

    /// Whether git's complaint is about the network (worth a retry) rather
    /// than the repository, the branch or the credentials.
    static func looksTransient(_ output: String) -> Bool {
        let lower = output.lowercased()
        let permanent = [
            "not found", "authentication failed", "could not read username", "repository not found",
            "does not appear to be a git repository", "remote branch", "invalid", "terminal prompts disabled",
            "transport '", "not allowed",
        ]
        if permanent.contains(where: { lower.contains($0) }) { return false }
        let network = [
            "could not resolve host", "connection refused", "connection timed out", "timed out", "connection reset",
            "early eof", "rpc failed", "unexpected disconnect", "the remote end hung up", "failed to connect",
            "network is unreachable", "returned error: 5", "tls", "ssl", "gnutls",
        ]
        return network.contains { lower.contains($0) }
    }
}

/// The last few lines of a stream, kept for an error message.
final class LineTail: Sendable {
    private let limit: Int
    private let storage = Mutex<[String]>([])

    init(limit: Int) { self.limit = limit }

    func append(_ line: String) {
        storage.withLock { lines in
            lines.append(String(line.prefix(500)))
            if lines.count > limit { lines.removeFirst(lines.count - limit) }
        }
    }

    var lines: [String] { storage.withLock { $0 } }
}
