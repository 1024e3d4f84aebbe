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

    /// The URL with its user-info (`user:password@`) replaced by `***@`,
    /// safe for logs, errors and API responses. The URL is taken whole: its
    /// user-info runs to its last `@`, whatever characters the password
    /// holds (see ``redact(url:)``).
    public var redactedURL: String { RepositorySource.redact(url: url) }

    public var description: String { "\(redactedURL)#\(branch)" }

    /// What in ``url`` is a credential, to be masked wherever it shows (git
    /// prints the URL as it was given when its user-info is ambiguous): the
    /// user-info, the password, and both percent-decoded.
    public var credentials: [String] {
        let bytes = Array(url.utf8)
        guard let userInfo = Self.userInfoRange(ofURL: bytes[...]) else { return [] }
        let whole = String(decoding: bytes[userInfo], as: UTF8.self)
        var values = [whole]
        if let colon = whole.firstIndex(of: ":") { values.append(String(whole[whole.index(after: colon)...])) }
        values += values.compactMap { $0.removingPercentEncoding }
        return Array(Set(values.filter { !$0.isEmpty }))
    }

    /// Replaces the user-info of every URL in `text` with `***`.
    ///
    /// A URL here is `scheme://` and what follows up to white space, a
    /// control character or one of `"<>` and the backtick. Git treats what
    /// comes before the first `@` as user-info only when no `/`, `?` or `#`
    /// comes first, and prints a URL with the part before that first `@`
    /// dropped — or whole when a `/` comes first. A password holding an
    /// unencoded `/`, `?`, `#` or `@` therefore reaches its messages. So the
    /// user-info runs to the **last** `@` of the URL, unless what comes
    /// before the first `/`, `?` or `#` is a plain `host[:port]` without an
    /// `@`: then any `@` is in the path or the query
    /// (`https://registry.npmjs.org/@scope/pkg`) and nothing is replaced.
    /// Bytes are compared, not characters: an `@` followed by a combining
    /// mark is still an `@`.
    public static func redact(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let redacted = redact(bytes, cutAtEnd: false)
        return redacted == bytes ? text : String(decoding: redacted, as: UTF8.self)
    }

    /// ``redact(_:)`` on UTF-8 bytes.
    /// - Parameter cutAtEnd: `text` is the start of a longer line that was
    ///   cut: a URL cut before its host ends loses its authority to `***`
    ///   (what was kept may be the start of a password).
    static func redact(_ text: [UInt8], cutAtEnd: Bool) -> [UInt8] {
        var result: [UInt8] = []
        var copied = 0
        var index = 0
        while index + 3 <= text.count {
            guard text[index] == colon, text[index + 1] == slash, text[index + 2] == slash else {
                index += 1
                continue
            }
            let start = index + 3
            var end = start
            while end < text.count, !endsURL(text[end]) { end += 1 }
            index = start
            guard let userInfoEnd = userInfoEnd(inText: text[start..<end], cut: cutAtEnd && end == text.count) else {
                continue
            }
            result.append(contentsOf: text[copied..<start])
            result.append(contentsOf: Array("***".utf8))
            copied = userInfoEnd
            index = userInfoEnd
        }
        guard copied > 0 else { return text }
        result.append(contentsOf: text[copied...])
        return result
    }

    /// `url` with its user-info replaced by `***`, taking the whole string
    /// as one URL: the user-info runs from after `://` (or the start, for a
    /// URL without one) to the last `@`. Git would read
    /// `https://deploy:12/ab@host/repo` as host `deploy`, port 12; the
    /// owner meant a password, and it is never shown.
    public static func redact(url: String) -> String {
        let bytes = Array(url.utf8)
        guard let userInfo = userInfoRange(ofURL: bytes[...]) else { return url }
        return String(
            decoding: bytes[..<userInfo.lowerBound] + Array("***".utf8) + bytes[userInfo.upperBound...], as: UTF8.self)
    }

    /// The user-info of a whole URL: after `://` (or from the start) up to its last `@`.
    private static func userInfoRange(ofURL url: ArraySlice<UInt8>) -> Range<Int>? {
        var start = url.startIndex
        if let scheme = url.indices.dropLast(2).first(where: {
            url[$0] == colon && url[$0 + 1] == slash && url[$0 + 2] == slash
        }) {
            start = scheme + 3
        }
        guard let at = url[start...].lastIndex(of: UInt8(ascii: "@")) else { return nil }
        return start..<at
    }

    /// Where the user-info of the URL whose part after `://` is `rest` ends
    /// (the index of its last `@`, or the end of `rest` when all of it is
    /// to go), or nil when it has none.
    private static func userInfoEnd(inText rest: ArraySlice<UInt8>, cut: Bool) -> Int? {
        let authorityEnd =
            rest.firstIndex { $0 == slash || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = rest.lastIndex(of: UInt8(ascii: "@")) else {
            // No `@` (yet): a line cut inside the authority, or after one
            // that is no plain host, may have kept the start of a password.
            if cut, authorityEnd == rest.endIndex || !isPlainHost(authority) { return rest.endIndex }
            return nil
        }
        if !authority.contains(UInt8(ascii: "@")) && isPlainHost(authority) { return nil }
        return at
    }

    /// Whether `authority` is `host[:port]` and nothing else: a DNS name or
    /// IPv4 address (letters, digits, `-`, `.`, `_`, `~`) or a bracketed
    /// IPv6 address, then an optional `:` and digits.
    private static func isPlainHost(_ authority: ArraySlice<UInt8>) -> Bool {
        var host = authority
        var port = authority[authority.endIndex...]
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return false }
            host = authority[authority.index(after: authority.startIndex)..<close]
            port = authority[authority.index(after: close)...]
            guard host.allSatisfy({ isHexDigit($0) || $0 == colon || $0 == UInt8(ascii: ".") }) else { return false }
        } else {
            if let colonIndex = authority.firstIndex(of: colon) {
                host = authority[..<colonIndex]
                port = authority[colonIndex...]
            }
            guard !host.isEmpty, host.allSatisfy(isHostByte) else { return false }
        }
        guard let first = port.first else { return true }
        return first == colon && port.dropFirst().allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    private static let colon = UInt8(ascii: ":")
    private static let slash = UInt8(ascii: "/")

    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: false
        }
    }

    /// Bytes that end a URL in free text: white space and other controls,
    /// and characters a URL never holds unencoded that often surround one.
    private static func endsURL(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte == 0x7f || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "<")
            || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "`")
    }

    static func check(url: String, allowLocal: Bool) throws(RepositoryError) {
        let shown = redact(url: url)
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
