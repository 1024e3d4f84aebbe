import Foundation

/// Which kinds of repository URL a deployment may name, checked when it is
/// created or changed (the admin API answers 422 at once, rather than a
/// build failing later); the builder checks the URL again before it clones.
public enum RepositoryURLRules {
    /// Why `url`'s kind is refused, in a sentence that says what to do; nil
    /// when it is an `https://` URL, or a local repository (`file://`, an
    /// absolute path) while `allowLocal` (`SLIPWAY_ALLOW_LOCAL_REPOS`).
    public static func problem(with url: String, allowLocal: Bool) -> String? {
        let lower = url.lowercased()
        if lower.hasPrefix("https://") { return nil }
        if lower.hasPrefix("file://") || url.hasPrefix("/") {
            return allowLocal
                ? nil
                : "repoUrl names a local repository, and local repositories are disabled on this server; give an https:// URL (or set SLIPWAY_ALLOW_LOCAL_REPOS=true for development)"
        }
        let scheme: Substring? =
            if let separator = lower.range(of: "://") {
                lower[..<separator.lowerBound]
            } else if let colon = lower.firstIndex(of: ":"), lower[..<colon].allSatisfy({ $0.isLetter }) {
                lower[..<colon]
            } else {
                nil
            }
        let kind = scheme.map { "a \($0.prefix(20)): URL" } ?? "not a URL"
        return
            "repoUrl is \(kind); give the repository's https:// URL (git://, http://, ssh and other schemes are refused: they are unauthenticated or need keys on the server), with a token in repoToken for a private one"
    }
}
