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
///
/// A private repository's access token (the deployment's `repoToken`)
/// reaches git through a credential helper (``GitCredentialHelper``): the
/// URL git gets has no userinfo, and the token is in the environment of
/// that git process alone. It is masked in the log and the errors too. A
/// clone the repository refuses for want of credentials, or for a bad
/// token, fails at once with a message saying which, never retried.
struct GitCheckout: Sendable {
    var gitExecutable: String
    var timeout: Duration
    var allowLocal: Bool
    var maxLineBytes: Int
    /// `SLIPWAY_GIT_CA_FILE`: the PEM bundle git trusts for https instead
    /// of the system's (`http.sslCAInfo`); nil: the system's.
    var caFile: String? = nil

    /// Clones `source` into `directory` (which must not exist yet) and
    /// returns the commit it checked out. `home` is an empty directory git
    /// may use as `HOME`. `token` is the deployment's repository access
    /// token, if it has one: git gets it through a credential helper.
    func clone(
        _ source: RepositorySource, token: String? = nil, into directory: String, home: String, log: BuildLog
    ) async throws -> CheckedOutCommit {
        log.maskCredentials(of: source)
        var url = Self.gitURL(for: source.url)
        var cloneEnvironment = environment(home: home)
        var helperArguments: [String] = []
        let hasToken = !(token ?? "").isEmpty
        if let token, hasToken {
            // Masked before anything can go wrong, the token's check included.
            log.addSecrets([token])
            if let helper = try GitCredentialHelper(url: url, token: token) {
                log.addSecrets(helper.secrets)
                url = helper.url
                helperArguments = helper.configurationArguments
                cloneEnvironment.merge(helper.environment) { $1 }
            } else {
                log.system("the deployment's repoToken is not used: only https:// repositories get it")
            }
        }
        log.system(
            "cloning \(source.redactedURL) (branch \(source.branch))"
                + (helperArguments.isEmpty ? "" : " with the deployment's access token"))
        let stderrTail = LineTail(limit: 20)
        let outcome = try await ChildProcess.run(
            executable: gitExecutable,
            arguments: ["-c", "core.hooksPath=/dev/null", "-c", "advice.detachedHead=false"]
                + (caFile.map { ["-c", "http.sslCAInfo=" + $0] } ?? []) + helperArguments + [
                    "clone", "--depth", "1", "--branch", source.branch, "--single-branch", "--no-recurse-submodules",
                    "--", url, directory,
                ],
            environment: cloneEnvironment,
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
            let detail = log.sanitize(
                stderrTail.lines.last(where: { $0.hasPrefix("fatal:") || $0.hasPrefix("error:") }) ?? stderrTail.lines
                    .last ?? "no output")
            let failed =
                "git clone of \(source.redactedURL) (branch \(source.branch)) failed with status \(outcome.exitCode)"
            if let problem = Self.credentialProblem(in: output, hasToken: hasToken) {
                throw BuildError.cloneFailed("\(failed): \(problem.advice) (git said: \(detail))", transient: false)
            }
            let transient = Self.looksTransient(output)
            throw BuildError.cloneFailed(
                "\(failed): \(detail)"
                    + (transient
                        ? "; this looks like a network problem, the build will be retried"
                        : hasToken
                            ? "; check the repository URL, the branch, and that repoToken may read the repository"
                            : "; check the repository URL, the branch and the access rights"),
                transient: transient
            )
        }
        // The token stays with the clone: `git log` gets none of it.
        return try await headCommit(of: directory, environment: environment(home: home), log: log)
    }

    /// Why a repository refused a clone for its credentials.
    enum CredentialProblem: Sendable, Hashable {
        /// The token was sent and refused.
        case tokenRefused
        /// The repository asked for credentials and none were sent.
        case credentialsNeeded
        /// Credentials were asked for a host the token is not sent to (a
        /// redirect to another host).
        case askedElsewhere

        /// What the deployment's owner reads, and what to do.
        var advice: String {
            switch self {
            case .tokenRefused:
                "the repository refused the access token; check repoToken: it must be a valid token, not expired or revoked, that may read the repository"
            case .credentialsNeeded:
                "the repository needs credentials; set repoToken to an access token that may read it (the repository is private, or its URL is wrong)"
            case .askedElsewhere:
                "the repository sent git to another host, which asked for credentials; the access token is only sent to the repository URL's own host, so use the URL the repository is really at"
            }
        }
    }

    /// The credential problem git's complaint names, if any. Git says
    /// `could not read Username for '…': terminal prompts disabled` when it
    /// was asked for credentials and had none (with a token: the helper
    /// did not answer, so the host was another one), and `Authentication
    /// failed for '…'` (or a 401/403) when the credentials were refused.
    static func credentialProblem(in output: String, hasToken: Bool) -> CredentialProblem? {
        let lower = output.lowercased()
        let unanswered = ["could not read username", "could not read password", "terminal prompts disabled"]
        let refused = [
            "authentication failed", "returned error: 401", "returned error: 403", "invalid username or password",
            "http basic: access denied", "invalid credentials", "bad credentials",
        ]
        if unanswered.contains(where: { lower.contains($0) }) { return hasToken ? .askedElsewhere : .credentialsNeeded }
        if refused.contains(where: { lower.contains($0) }) { return hasToken ? .tokenRefused : .credentialsNeeded }
        return nil
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
