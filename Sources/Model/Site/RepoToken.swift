import Foundation

/// A private repository's access token, and the userinfo that must never
/// travel in a repository URL.
///
/// A deployment of a private https repository keeps an access token
/// (`repoToken` in the API), sealed in the catalog like every secret. The
/// builder hands it to git through a credential helper for the clone, never
/// in the URL or in the build's environment. Repository URLs with userinfo
/// (`https://user:token@host/…`) are refused: the URL is shown by the API,
/// the CLI, the dashboard and in logs.
///
/// The token is `TOKEN`, or `USER:TOKEN` for a host that wants a particular
/// user name with it (Bitbucket's app passwords).
public enum RepoToken {
    /// Longest token accepted, in bytes.
    public static let maxLength = 4096

    /// The user name git sends with a token that names none. GitHub,
    /// GitLab and Gitea accept a token with any user name;
    /// `x-access-token` is GitHub's convention.
    public static let defaultUser = "x-access-token"

    /// The user name and the password git sends for `token`.
    public static func credentials(_ token: String) -> (user: String, password: String) {
        if let colon = token.firstIndex(of: ":"), colon != token.startIndex {
            return (String(token[..<colon]), String(token[token.index(after: colon)...]))
        }
        return (defaultUser, token)
    }
}

/// Userinfo (`user:password@`) in the authority of a URL.
public enum URLUserinfo {
    /// `url` without the userinfo of its authority; other text unchanged.
    /// `https://u:p@host/x` becomes `https://host/x`.
    public static func removed(from url: String) -> String {
        guard let range = userinfoRange(in: url) else { return url }
        var text = url
        text.removeSubrange(range)
        return text
    }

    /// The userinfo of the URL's authority (`user:password`, without the `@`); nil when it has none.
    public static func userinfo(of url: String) -> String? {
        guard let range = userinfoRange(in: url) else { return nil }
        return String(url[range].dropLast())
    }

    /// Whether the URL's authority carries userinfo.
    public static func present(in url: String) -> Bool { userinfoRange(in: url) != nil }

    /// The range of `user:password@` (with the `@`) after `scheme://`.
    private static func userinfoRange(in url: String) -> Range<String.Index>? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let authorityStart = schemeEnd.upperBound
        let rest = url[authorityStart...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? url.endIndex
        guard let at = url[authorityStart..<authorityEnd].lastIndex(of: "@") else { return nil }
        return authorityStart..<url.index(after: at)
    }
}
