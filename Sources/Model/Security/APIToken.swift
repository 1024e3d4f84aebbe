import Crypto
public import Foundation

/// What an API token may do (`admin`, `read`, `deploy:<slug>`).
///
/// - `admin`: everything, including managing tokens and reading the audit log.
/// - `read`: every `GET` of the admin API except tokens and the audit log.
/// - `deploy:<slug>`: what a CI job needs for one deployment: read it, its
///   builds and their logs, trigger and cancel its builds, roll it back.
///   It names the deployment by slug: renaming the deployment leaves the
///   token naming the old slug.
public enum APITokenScope: Sendable, Hashable, CustomStringConvertible {
    case admin
    case read
    case deploy(slug: String)

    /// Parses `admin`, `read` or `deploy:<slug>` (the slug checked against
    /// ``SlugRules``).
    /// - Throws: a message saying which forms are accepted.
    public init(parsing text: String) throws(APITokenError) {
        switch text {
        case "admin": self = .admin
        case "read": self = .read
        default:
            guard text.hasPrefix("deploy:") else {
                throw APITokenError(
                    "scope '\(text.prefix(80))' is not one of admin, read or deploy:<slug>; e.g. deploy:my-site")
            }
            let slug = String(text.dropFirst("deploy:".count))
            if let problem = SlugRules.problem(with: slug) {
                throw APITokenError("scope '\(text.prefix(80))' names no valid deployment slug: \(problem)")
            }
            self = .deploy(slug: slug)
        }
    }

    /// `admin`, `read` or `deploy:<slug>`.
    public var description: String {
        switch self {
        case .admin: "admin"
        case .read: "read"
        case .deploy(let slug): "deploy:\(slug)"
        }
    }
}

/// A refused token field, said for people.
public struct APITokenError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An API token as the catalog keeps it: everything but its secret, of which
/// only a SHA-256 digest is stored.
public struct APIToken: Sendable, Hashable {
    /// The id of the token `SLIPWAY_ADMIN_TOKEN` (or `<data>/admin-token`)
    /// is: it has the `admin` scope and no catalog row.
    public static let bootstrapID = "bootstrap"

    public var id: String
    public var name: String
    public var scope: APITokenScope
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?
    /// The id of the token that created it.
    public var createdBy: String?

    public init(
        id: String, name: String, scope: APITokenScope, createdAt: Date, expiresAt: Date? = nil,
        lastUsedAt: Date? = nil, revokedAt: Date? = nil, createdBy: String? = nil
    ) {
        self.id = id
        self.name = name
        self.scope = scope
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
        self.createdBy = createdBy
    }

    /// Whether the token is refused at `now`: revoked, or expired.
    public func isUsable(at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { now < $0 } ?? true)
    }

    /// The bootstrap admin token.
    public static let bootstrap = APIToken(
        id: bootstrapID, name: "bootstrap", scope: .admin, createdAt: Date(timeIntervalSince1970: 0))
}

/// The secret of an API token: `slw_` and 43 characters of base62 (256 bits
/// from the system's CSPRNG). The prefix lets secret scanners recognise a
/// leaked token; only ``digest(of:)`` of it is ever stored.
public enum APITokenSecret {
    public static let prefix = "slw_"
    static let bodyLength = 43
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A new random token.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var body: [UInt8] = []
        body.reserveCapacity(bodyLength)
        for _ in 0..<bodyLength {
            // Uniform: `random(in:)` rejects the values that would bias it.
            body.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
        }
        return prefix + String(decoding: body, as: UTF8.self)
    }

    /// Whether `text` has the form of a generated token.
    public static func isWellFormed(_ text: String) -> Bool {
        guard text.hasPrefix(prefix) else { return false }
        let body = text.utf8.dropFirst(prefix.utf8.count)
        return body.count == bodyLength && body.allSatisfy { alphabet.contains($0) }
    }

    /// The lower-case hex SHA-256 of the token: what the catalog stores and
    /// looks tokens up by. A high-entropy secret needs no salt or slow hash.
    public static func digest(of token: String) -> String {
        Hex.encode(SHA256.hash(data: Data(token.utf8)))
    }
}

/// Identifiers of API tokens: 26 characters of lower-case Crockford base32,
/// as sites and builds have.
public enum APITokenID {
    public static func generate(at date: Date = Date()) -> String { OpaqueIdentifier.generate(at: date) }

    /// Whether `text` could name a token: a generated id, or `bootstrap`.
    public static func isWellFormed(_ text: String) -> Bool {
        text == APIToken.bootstrapID || OpaqueIdentifier.isWellFormed(text)
    }
}
