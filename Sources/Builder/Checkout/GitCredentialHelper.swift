import Foundation
import Model

/// How `git clone` gets a private repository's access token (`repoToken`):
/// through a git credential helper, never in the URL and never in the
/// environment of the build's install and build commands.
///
/// The helper is a shell function given on git's command line
/// (`-c credential.helper=` to drop any other helper, then
/// `-c credential.helper=!f() {…}; f`). Git runs it with `get` and a
/// description of what it needs on standard input (`protocol=https`,
/// `host=<host[:port]>`, …); it answers only `get`, only for `https`, and
/// only for the repository's own `host[:port]`, with `username=` and
/// `password=` read from variables of its own environment
/// (``hostVariable``, ``userVariable``, ``tokenVariable``). A redirect to
/// another host, or a submodule elsewhere, gets nothing. `store` and
/// `erase` are ignored: nothing is remembered.
///
/// Why this and not a helper file with the token in the per-build git
/// `HOME`: the token never touches the disk, so no crash between writing
/// and removing such a file can leave it behind in a workspace that is
/// later handed to the build user, and there are no file modes or owners
/// to get right. The variables are in the environment of that one git
/// process (and of the helpers git starts, which need them): Slipway's own
/// environment never holds the token, the build's commands start only
/// after git has exited and get an environment of their own
/// (`BuildPipeline`), and git's command line, which every user of the
/// machine can read in `/proc`, names only the variables.
struct GitCredentialHelper: Sendable, Hashable {
    /// The `host[:port]` the helper answers for, exactly as git writes it
    /// (as the URL has it).
    static let hostVariable = "SLIPWAY_GIT_HOST"
    /// The user name sent with the token.
    static let userVariable = "SLIPWAY_GIT_USER"
    /// The token itself.
    static let tokenVariable = "SLIPWAY_GIT_TOKEN"

    /// The shell function, as `credential.helper` takes it (after the `!`).
    /// It reads all of its input first, so that git never writes into a
    /// closed pipe, and prints nothing unless the request is a `get` for
    /// `https` on ``hostVariable``.
    static let script =
        #"f() { p= h=; while IFS= read -r l; do case "$l" in protocol=*) p=${l#protocol=} ;; host=*) h=${l#host=} ;; esac; done; "#
        + #"if test "$1" = get && test "$p" = https && test -n "$h" && test "$h" = "$SLIPWAY_GIT_HOST"; then "#
        + #"printf 'username=%s\npassword=%s\n' "$SLIPWAY_GIT_USER" "$SLIPWAY_GIT_TOKEN"; fi; }; f"#

    /// The URL git is given: the repository's URL without any userinfo.
    let url: String
    /// What the helper answers for: the URL's `host[:port]`.
    let host: String
    /// The user name of a `USER:TOKEN` repo token, else the URL's own user
    /// name when it had one, else ``RepoToken/defaultUser``.
    let user: String
    /// The password git sends: the token (without its `USER:`).
    let token: String
    /// The repo token as the deployment keeps it.
    private let given: String

    /// The helper for cloning `url` (an `https://` URL, userinfo allowed:
    /// it is removed, its user name kept) with `token` (`TOKEN` or `USER:TOKEN`).
    /// - Returns: nil when `url` is not `https://`: only https
    ///   repositories get the token (a local repository needs none).
    /// - Throws: ``BuildError`` when the token holds characters no token
    ///   has (the catalog accepts none of them); the message never holds it.
    init?(url: String, token: String) throws(BuildError) {
        guard token.utf8.allSatisfy({ (0x21...0x7e).contains($0) }), !token.isEmpty,
            token.utf8.count <= RepoToken.maxLength
        else {
            throw BuildError.cloneFailed(
                "the deployment's repoToken holds spaces or control characters, which no access token has; set repoToken again to the token itself",
                transient: false)
        }
        guard url.lowercased().hasPrefix("https://") else { return nil }
        let bare = URLUserinfo.removed(from: url)
        let afterScheme = bare.dropFirst("https://".count)
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty else { return nil }
        self.url = bare
        self.host = String(authority)
        self.given = token
        let credentials = RepoToken.credentials(token)
        if credentials.user != RepoToken.defaultUser || token.hasPrefix(RepoToken.defaultUser + ":") {
            (self.user, self.token) = credentials
        } else {
            (self.user, self.token) = (Self.user(in: url) ?? RepoToken.defaultUser, credentials.password)
        }
    }

    /// The user name of `url`'s userinfo, percent-decoded, when it has one
    /// that git can send (no control characters, no `:`).
    static func user(in url: String) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let authority = url[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return nil }
        let name = authority[..<at].prefix { $0 != ":" }
        guard let decoded = name.removingPercentEncoding, !decoded.isEmpty,
            !decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f || $0 == ":" })
        else { return nil }
        return decoded
    }

    /// The options that put the helper in place: `-c credential.helper=`
    /// empties the list of helpers (none could come from a configuration
    /// file, which git does not read here, but nothing is left to chance),
    /// then adds this one.
    var configurationArguments: [String] {
        ["-c", "credential.helper=", "-c", "credential.helper=!" + Self.script]
    }

    /// The variables of the git process that runs the clone.
    var environment: [String: String] {
        [Self.hostVariable: host, Self.userVariable: user, Self.tokenVariable: token]
    }

    /// What to mask in the build's log and errors should any tool print
    /// it: the token, and the `Authorization: Basic` value it travels in.
    var secrets: [String] {
        Array(Set([given, token, Data("\(user):\(token)".utf8).base64EncodedString()]))
    }
}
