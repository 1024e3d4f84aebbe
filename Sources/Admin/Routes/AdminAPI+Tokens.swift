import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import Storage

extension AdminAPI {
    /// The longest lifetime a token may be given: ten years.
    static let maxTokenLifetime: TimeInterval = 10 * 365 * 86_400
    /// The shortest: one minute.
    static let minTokenLifetime: TimeInterval = 60

    func registerTokens(on router: Router<AdminRequestContext>) {
        router.post("/api/tokens") { request, context in try await createToken(request, context) }
        router.get("/api/tokens") { _, _ in try await listTokens() }
        router.delete("/api/tokens/{id}") { _, context in try await revokeToken(context) }
    }

    /// `POST /api/tokens`: 201 with the token's metadata and, only here, its secret.
    func createToken(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let body = try await StrictJSON.decode(CreateTokenBody.self, from: request, limit: configuration.maxBodyBytes)
        if let problem = APITokens.problem(withName: body.name) { throw AdminError.invalidBody(problem) }
        let scope: APITokenScope
        do { scope = try APITokenScope(parsing: body.scope) } catch { throw AdminError.invalidBody(error.description) }
        if case .deploy(let slug) = scope {
            // A typo would make a token that never works: the deployment must exist.
            _ = try await catalog.site(slug: slug)
        }
        let now = services.clock()
        let expiresAt = try body.expiry(now: now)
        let secret = APITokenSecret.generate()
        let token = try await catalog.createAPIToken(
            APITokenDraft(
                id: APITokenID.generate(at: now), name: body.name, scope: scope,
                secretDigest: APITokenSecret.digest(of: secret), expiresAt: expiresAt,
                createdBy: context.principal?.tokenID))
        context.audit.target = token.id
        logger.info(
            "API token created", metadata: ["token": "\(token.id)", "name": "\(token.name)", "scope": "\(token.scope)"])
        return try json(TokenJSON(token: token, secret: secret), status: .created)
    }

    /// `GET /api/tokens`: every stored token's metadata, newest first.
    func listTokens() async throws -> Response {
        try json(
            Envelope(key: "tokens", value: try await catalog.apiTokens().map { TokenJSON(token: $0, secret: nil) }))
    }

    /// `DELETE /api/tokens/{id}`: revokes the token at once, on every admin node.
    func revokeToken(_ context: AdminRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        if id == APIToken.bootstrapID {
            throw AdminError.conflict(
                "bootstrap_token",
                "the bootstrap token is not stored and cannot be revoked here; change SLIPWAY_ADMIN_TOKEN (or delete <data-dir>/admin-token) and restart"
            )
        }
        guard APITokenID.isWellFormed(id), let token = try await catalog.revokeAPIToken(id: id) else {
            throw AdminError(
                status: .notFound, code: "token_not_found",
                message: "no token with id '\(id.prefix(40))'; list the tokens (GET /api/tokens) to find its id")
        }
        logger.info("API token revoked", metadata: ["token": "\(token.id)", "name": "\(token.name)"])
        return try json(TokenJSON(token: token, secret: nil))
    }
}

/// `POST /api/tokens`.
struct CreateTokenBody: Decodable, Sendable {
    let name: String
    let scope: String
    let expiresIn: String?
    let expiresAt: String?

    static let fields = ["name", "scope", "expiresIn", "expiresAt"]

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: Self.fields)
        name = try object.required("name")
        scope = try object.required("scope")
        expiresIn = try object.optional("expiresIn")
        expiresAt = try object.optional("expiresAt")
    }

    /// When the token expires: `expiresIn` from `now`, or `expiresAt`; nil
    /// (never) without either.
    func expiry(now: Date) throws -> Date? {
        let date: Date
        switch (expiresIn, expiresAt) {
        case (nil, nil): return nil
        case (.some, .some):
            throw AdminError.invalidBody("give expiresIn or expiresAt, not both")
        case (let text?, nil):
            guard let seconds = Self.seconds(text) else {
                throw AdminError.invalidBody(
                    "expiresIn '\(text.prefix(40))' is not a duration; use a number with d, h, m or s, e.g. 30d or 12h")
            }
            date = now.addingTimeInterval(seconds)
        case (nil, let text?):
            guard let parsed = Self.timestamp(text) else {
                throw AdminError.invalidBody(
                    "expiresAt '\(text.prefix(40))' is not an ISO 8601 time; e.g. 2027-01-31T12:00:00Z")
            }
            date = parsed
        }
        let lifetime = date.timeIntervalSince(now)
        guard lifetime >= AdminAPI.minTokenLifetime, lifetime <= AdminAPI.maxTokenLifetime else {
            throw AdminError.invalidBody("a token must expire between 1 minute and 10 years from now")
        }
        return date
    }

    /// `30d`, `12h`, `90m`, `3600s`, `1d12h`; nil for anything else.
    static func seconds(_ text: String) -> TimeInterval? {
        let units: [Character: TimeInterval] = ["d": 86_400, "h": 3600, "m": 60, "s": 1]
        var total: TimeInterval = 0
        var digits = ""
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if let unit = units[character], !digits.isEmpty, digits.count <= 9, let number = Double(digits) {
                total += number * unit
                digits = ""
            } else {
                return nil
            }
        }
        return digits.isEmpty && total > 0 ? total : nil
    }

    static func timestamp(_ text: String) -> Date? {
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return (try? withFraction.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}

/// A token as the API returns it; `token` (the secret) only in the answer to its creation.
struct TokenJSON: Encodable, Sendable {
    let token: APIToken
    let secret: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        try container.encode(token.id, forKey: AnyCodingKey("id"))
        try container.encode(token.name, forKey: AnyCodingKey("name"))
        try container.encode(token.scope.description, forKey: AnyCodingKey("scope"))
        try container.encode(token.createdAt, forKey: AnyCodingKey("createdAt"))
        try container.encode(token.expiresAt, forKey: AnyCodingKey("expiresAt"))
        try container.encode(token.lastUsedAt, forKey: AnyCodingKey("lastUsedAt"))
        try container.encode(token.revokedAt, forKey: AnyCodingKey("revokedAt"))
        try container.encode(token.createdBy, forKey: AnyCodingKey("createdBy"))
        if let secret { try container.encode(secret, forKey: AnyCodingKey("token")) }
    }
}
