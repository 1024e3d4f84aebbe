import Foundation

/// A repository URL and branch that are safe to hand to `git clone`.
///
/// Validation happens before git runs: only `https://` URLs by default
/// (`file://` and local paths only when the operator allows them), no
/// transport helpers (`ext::`), no option injection (a leading `-`, `ssh -o…`),
/// and branch names checked like `git check-ref-format --branch`.
public struct RepositorySource: Sendable, Hashable, CustomStringConvertible {
    /// The URL exactly as git receives it (credentials included).
    public let url: String
    public let branch: String

    /// - Parameter allowLocal: accept `file://` URLs and absolute paths
    ///   (`SLIPWAY_ALLOW_LOCAL_REPOS`; development and tests only).
    public init(url: String, branch: String, allowLocal: Bool) throws(RepositoryError) {
        try RepositorySource.check(url: url, allowLocal: allowLocal)
        try RepositorySource.check(branch: branch)
        self.url = url
        self.branch = branch
    }

    /// The URL with any `user:password@` replaced, safe for logs, errors and API responses.
    public var redactedURL: String { RepositorySource.redact(url) }

    public var description: String { "\(redactedURL)#\(branch)" }

    /// Replaces the user-info part of every URL in `text` with `***`.
    public static func redact(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd =
                rest.firstIndex(where: { $0 == "/" || $0 == " " || $0 == "\n" || $0 == "?" || $0 == "#" })
                ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                result += "***@"
                rest = rest[rest.index(after: at)...]
            }
        }
        return result + rest
    }

    static func check(url: String, allowLocal: Bool) throws(RepositoryError) {
        let shown = redact(url)
        guard !url.isEmpty, url.utf8.count <= 2048 else {
            throw RepositoryError("the repository URL is empty or longer than 2048 characters")
        }
        guard !url.hasPrefix("-") else {
            throw RepositoryError("the repository URL '\(shown)' may not start with '-'")
        }
        guard !url.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }) else {
            throw RepositoryError("the repository URL '\(shown)' contains spaces or control characters")
        }
        let lower = url.lowercased()
        if lower.hasPrefix("https://") {
            let rest = lower.dropFirst("https://".count)
            let host =
                rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map {
                    $0.split(separator: "@").last ?? $0
                } ?? ""
            guard !host.isEmpty, !host.hasPrefix("-"), rest.contains("/") else {
                throw RepositoryError(
                    "the repository URL '\(shown)' has no host or path; expected https://host/owner/repo")
            }
            return
        }
        if lower.hasPrefix("file://") || url.hasPrefix("/") {
            guard allowLocal else {
                throw RepositoryError(
                    "local repositories ('\(shown)') are disabled; use an https:// URL, or set SLIPWAY_ALLOW_LOCAL_REPOS=true for development"
                )
            }
            return
        }
        throw RepositoryError("unsupported repository URL '\(shown)': only https:// URLs are accepted")
    }

    /// `git check-ref-format --branch` rules, plus no leading `-`.
    static func check(branch: String) throws(RepositoryError) {
        func fail(_ why: String) -> RepositoryError {
            RepositoryError("the branch name '\(branch.prefix(100))' is invalid: \(why)")
        }
        guard !branch.isEmpty, branch.utf8.count <= 255 else { throw fail("it must be 1 to 255 characters") }
        if branch.hasPrefix("-") { throw fail("it may not start with '-'") }
        if branch.hasPrefix("/") || branch.hasSuffix("/") || branch.contains("//") { throw fail("misplaced '/'") }
        if branch.hasSuffix(".") || branch.hasSuffix(".lock") { throw fail("it may not end with '.' or '.lock'") }
        if branch.contains("..") || branch.contains("@{") || branch == "@" {
            throw fail("it may not contain '..' or '@{'")
        }
        for scalar in branch.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f || " ~^:?*[\\".unicodeScalars.contains(scalar) {
                throw fail("it may not contain spaces, control characters or any of ~^:?*[\\")
            }
        }
        for component in branch.split(separator: "/") where component.hasPrefix(".") {
            throw fail("no path component may start with '.'")
        }
    }
}

/// A repository URL or branch that Slipway refuses to clone, with the reason.
public struct RepositoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
