/// Whether visitors must sign in before the edge serves a site, and how.
public enum ProtectionMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Anyone may visit.
    case none
    /// A sign-in page asks for the site's password and sets a session cookie.
    case password
    /// HTTP Basic authentication (`WWW-Authenticate: Basic`) with a username and password.
    case basic
}

/// A site's protection as it is shown, logged, published and returned by
/// the API: never the password or its hash. The hash stays in the catalog
/// (``ProtectionSecret``), which hands it out only to whatever must verify
/// a password.
public struct SiteProtection: Sendable, Hashable, Codable, CustomStringConvertible {
    public var mode: ProtectionMode
    /// The Basic username; nil unless `mode` is `basic`.
    public var username: String?
    /// Only preview hosts (`<n>--<slug>.<apps-domain>`) are protected; the
    /// production host stays public.
    public var previewsOnly: Bool
    /// Grows by one whenever the password changes (and whenever protection
    /// is turned on), so a new password signs every visitor out.
    public var version: Int

    public init(mode: ProtectionMode, username: String? = nil, previewsOnly: Bool = false, version: Int = 0) {
        self.mode = mode
        self.username = username
        self.previewsOnly = previewsOnly
        self.version = version
    }

    /// No protection.
    public static let none = SiteProtection(mode: .none)

    /// Whether a request for the production host (`isPreview` false) or a
    /// preview host must be signed in.
    public func applies(isPreview: Bool) -> Bool {
        mode != .none && (isPreview || !previewsOnly)
    }

    public var description: String {
        switch mode {
        case .none: "none"
        case .password: "password (v\(version)\(previewsOnly ? ", previews only" : ""))"
        case .basic: "basic \(username ?? "?") (v\(version)\(previewsOnly ? ", previews only" : ""))"
        }
    }

    /// Shortest password accepted, in bytes.
    public static let minPasswordBytes = 8
    /// Longest password accepted, in bytes.
    public static let maxPasswordBytes = 1024
    /// Longest Basic username accepted, in bytes.
    public static let maxUsernameBytes = 64

    /// What is wrong with `password` as a site password, or nil.
    public static func passwordProblem(_ password: String) -> String? {
        let count = password.utf8.count
        if count < minPasswordBytes {
            return "protection.password is \(count) bytes long; give at least \(minPasswordBytes)"
        }
        if count > maxPasswordBytes {
            return "protection.password is longer than \(maxPasswordBytes) bytes; shorten it"
        }
        if password.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return "protection.password contains control characters (a newline?); remove them"
        }
        return nil
    }

    /// What is wrong with `username` as a Basic username, or nil: 1 to
    /// ``maxUsernameBytes`` visible ASCII characters without `:` (RFC 7617
    /// splits the credentials at the first colon).
    public static func usernameProblem(_ username: String) -> String? {
        if username.isEmpty { return "protection.username is empty; give the name visitors sign in with" }
        if username.utf8.count > maxUsernameBytes {
            return "protection.username is longer than \(maxUsernameBytes) bytes; shorten it"
        }
        guard username.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ":") }) else {
            return "protection.username may hold only visible ASCII characters other than ':' (no spaces)"
        }
        return nil
    }
}

/// What verifying a site's password needs: the hash (``PasswordHash``) and
/// the password version it belongs to. Only
/// ``Catalog/protectionSecret(siteID:)`` hands it out; it is never logged.
public struct ProtectionSecret: Sendable, Hashable, CustomStringConvertible {
    public let mode: ProtectionMode
    public let username: String?
    public let version: Int
    public let passwordHash: String

    public init(mode: ProtectionMode, username: String?, version: Int, passwordHash: String) {
        self.mode = mode
        self.username = username
        self.version = version
        self.passwordHash = passwordHash
    }

    public var description: String { "ProtectionSecret(\(mode), v\(version), hash: ***)" }
}
