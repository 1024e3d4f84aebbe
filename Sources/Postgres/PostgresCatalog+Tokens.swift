import Foundation
public import Model
import PostgresNIO
public import Storage

/// API tokens (see ``Catalog/createAPIToken(_:)`` and what follows it).
extension PostgresCatalog {
    public func createAPIToken(_ draft: APITokenDraft) async throws -> APIToken {
        try APITokens.check(draft)
        return try await write { tx in
            let inserted = try await tx.rows(
                """
                INSERT INTO api_token (id, name, scope, secret_digest, created_by, created_at, expires_at)
                VALUES (\(draft.id), \(draft.name), \(draft.scope.description), \(draft.secretDigest),
                    \(draft.createdBy), \(tx.now), \(draft.expiresAt.map(Millis.from)))
                ON CONFLICT DO NOTHING
                RETURNING *
                """)
            guard let row = inserted.first else {
                throw CatalogError.invalidInput("a token with this id or secret exists already; generate a new one")
            }
            return try Self.apiToken(from: row)
        }
    }

    public func apiTokens() async throws -> [APIToken] {
        try await read { tx in
            try await tx.rows("SELECT * FROM api_token ORDER BY created_at DESC, id DESC").map(Self.apiToken(from:))
        }
    }

    public func apiToken(id: String) async throws -> APIToken? {
        try await read { tx in
            try await tx.rows("SELECT * FROM api_token WHERE id = \(id)").first.map(Self.apiToken(from:))
        }
    }

    public func apiToken(secretDigest: String) async throws -> APIToken? {
        try await read { tx in
            try await tx.rows("SELECT * FROM api_token WHERE secret_digest = \(secretDigest)").first.map(
                Self.apiToken(from:))
        }
    }

    public func revokeAPIToken(id: String) async throws -> APIToken? {
        try await write { tx in
            // COALESCE keeps the first revocation time when two race.
            try await tx.rows(
                "UPDATE api_token SET revoked_at = COALESCE(revoked_at, \(tx.now)) WHERE id = \(id) RETURNING *"
            ).first.map(Self.apiToken(from:))
        }
    }

    public func recordAPITokenUse(id: String, minimumInterval: Duration) async throws -> Bool {
        let interval = Millis.from(minimumInterval)
        return try await write { tx in
            // A second writer waits for the first one's row lock, then
            // re-checks the condition on the row the first one wrote and
            // changes nothing (READ COMMITTED re-evaluates the WHERE clause).
            let updated = try await tx.rows(
                """
                UPDATE api_token SET last_used_at = \(tx.now)
                WHERE id = \(id) AND (last_used_at IS NULL OR last_used_at <= \(tx.now - interval))
                RETURNING id
                """)
            return updated.count == 1
        }
    }

    static func apiToken(from row: PostgresRandomAccessRow) throws -> APIToken {
        let scopeText = try row["scope"].decode(String.self)
        let scope: APITokenScope
        do { scope = try APITokenScope(parsing: scopeText) } catch {
            throw CatalogError.unavailable("a token row holds the unknown scope '\(scopeText.prefix(80))'")
        }
        return APIToken(
            id: try row["id"].decode(String.self), name: try row["name"].decode(String.self), scope: scope,
            createdAt: Millis.date(try row["created_at"].decode(Int64.self)),
            expiresAt: try row["expires_at"].decode(Int64?.self).map(Millis.date),
            lastUsedAt: try row["last_used_at"].decode(Int64?.self).map(Millis.date),
            revokedAt: try row["revoked_at"].decode(Int64?.self).map(Millis.date),
            createdBy: try row["created_by"].decode(String?.self))
    }
}
