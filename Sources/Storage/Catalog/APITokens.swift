public import Foundation
public import Model

/// A token to store (``Catalog/createAPIToken(_:)``): its metadata and the
/// digest of its secret (``APITokenSecret/digest(of:)``), never the secret.
public struct APITokenDraft: Sendable, Hashable {
    public var id: String
    public var name: String
    public var scope: APITokenScope
    public var secretDigest: String
    public var expiresAt: Date?
    public var createdBy: String?

    public init(
        id: String = APITokenID.generate(), name: String, scope: APITokenScope, secretDigest: String,
        expiresAt: Date? = nil, createdBy: String? = nil
    ) {
        self.id = id
        self.name = name
        self.scope = scope
        self.secretDigest = secretDigest
        self.expiresAt = expiresAt
        self.createdBy = createdBy
    }
}

/// The limits and checks of API tokens every catalog applies alike.
public enum APITokens {
    /// The longest name, in characters.
    public static let maxNameLength = 100

    /// What is wrong with `name`; nil when it is 1 to ``maxNameLength``
    /// characters without control characters.
    public static func problem(withName name: String) -> String? {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return "the token's name is empty; give it a name that says who uses it" }
        guard name.count <= maxNameLength else { return "the token's name is longer than \(maxNameLength) characters" }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return "the token's name may not hold control characters"
        }
        return nil
    }

    /// Checks a draft before it is stored.
    package static func check(_ draft: APITokenDraft) throws {
        guard OpaqueIdentifier.isWellFormed(draft.id) else {
            throw CatalogError.invalidInput("the token id '\(draft.id.prefix(40))' is not a generated id")
        }
        if let problem = problem(withName: draft.name) { throw CatalogError.invalidInput(problem) }
        guard draft.secretDigest.utf8.count == 64, draft.secretDigest.utf8.allSatisfy({ Hex.isDigit($0) }) else {
            throw CatalogError.invalidInput("the token's digest must be 64 lower-case hex digits (SHA-256)")
        }
    }
}

/// What one ``Catalog/auditEvents(_:)`` call asks for.
public struct AuditQuery: Sendable, Hashable {
    /// The most entries returned, 1…``AuditLog/maxPageSize``.
    public var limit: Int
    /// Only entries with a smaller id (the previous page's ``AuditPage/nextBefore``).
    public var before: Int64?
    /// Only entries with this action.
    public var action: String?
    /// Only entries of this token.
    public var tokenID: String?

    public init(limit: Int = 50, before: Int64? = nil, action: String? = nil, tokenID: String? = nil) {
        self.limit = limit
        self.before = before
        self.action = action
        self.tokenID = tokenID
    }
}

/// One page of the audit log, newest first.
public struct AuditPage: Sendable, Hashable {
    public var events: [AuditEvent]
    /// Pass as ``AuditQuery/before`` for the next, older page; nil on the last one.
    public var nextBefore: Int64?

    public init(events: [AuditEvent], nextBefore: Int64?) {
        self.events = events
        self.nextBefore = nextBefore
    }
}

/// An entry to record (``Catalog/recordAuditEvents(_:)``); the catalog gives
/// it its id and time.
public struct AuditEventDraft: Sendable, Hashable {
    public var tokenID: String?
    public var tokenName: String?
    public var action: String
    public var target: String?
    public var outcome: Int
    public var clientAddress: String?
    public var count: Int

    public init(
        tokenID: String?, tokenName: String?, action: String, target: String?, outcome: Int, clientAddress: String?,
        count: Int = 1
    ) {
        self.tokenID = tokenID
        self.tokenName = tokenName
        self.action = action
        self.target = target
        self.outcome = outcome
        self.clientAddress = clientAddress
        self.count = count
    }
}

/// The limits of the audit log every catalog applies alike.
public enum AuditLog {
    /// Most entries one page may hold.
    public static let maxPageSize = 200
    /// Fields longer than this are cut (none of Slipway's own come close).
    static let maxFieldLength = 200

    /// The draft with every text bounded and the count at least 1.
    package static func bounded(_ draft: AuditEventDraft) -> AuditEventDraft {
        var draft = draft
        func cut(_ text: String?) -> String? { text.map { String($0.prefix(maxFieldLength)) } }
        draft.tokenID = cut(draft.tokenID)
        draft.tokenName = cut(draft.tokenName)
        draft.action = String(draft.action.prefix(maxFieldLength))
        draft.target = cut(draft.target)
        draft.clientAddress = cut(draft.clientAddress)
        draft.count = max(1, draft.count)
        return draft
    }

    /// Refuses a page size outside 1…``maxPageSize``.
    package static func check(_ query: AuditQuery) throws {
        guard (1...maxPageSize).contains(query.limit) else {
            throw CatalogError.invalidInput(
                "limit is \(query.limit); ask for 1 to \(maxPageSize) audit entries per page")
        }
    }
}

extension Hex {
    static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
