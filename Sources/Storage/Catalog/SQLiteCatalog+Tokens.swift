import GRDB
public import Model

/// API tokens (see ``Catalog/createAPIToken(_:)`` and what follows it).
extension SQLiteCatalog {
    public func createAPIToken(_ draft: APITokenDraft) async throws -> APIToken {
        try APITokens.check(draft)
        return try await write { db, now, _ in
            do {
                try db.execute(
                    sql: """
                        INSERT INTO api_token (id, name, scope, secret_digest, created_by, created_at, expires_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        draft.id, draft.name, draft.scope.description, draft.secretDigest, draft.createdBy, now,
                        draft.expiresAt.map(Millis.from),
                    ])
            } catch let error as DatabaseError
                where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
                || error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
            {
                throw CatalogError.invalidInput("a token with this id or secret exists already; generate a new one")
            }
            return try Self.fetchToken(db, sql: "SELECT * FROM api_token WHERE id = ?", arguments: [draft.id])!
        }
    }

    public func apiTokens() async throws -> [APIToken] {
        try await read { db, _ in
            try Row.fetchAll(db, sql: "SELECT * FROM api_token ORDER BY created_at DESC, id DESC").map(
                Self.apiToken(from:))
        }
    }

    public func apiToken(id: String) async throws -> APIToken? {
        try await read { db, _ in
            try Self.fetchToken(db, sql: "SELECT * FROM api_token WHERE id = ?", arguments: [id])
        }
    }

    public func apiToken(secretDigest: String) async throws -> APIToken? {
        try await read { db, _ in
            try Self.fetchToken(db, sql: "SELECT * FROM api_token WHERE secret_digest = ?", arguments: [secretDigest])
        }
    }

    public func revokeAPIToken(id: String) async throws -> APIToken? {
        try await write { db, now, _ in
            try db.execute(
                sql: "UPDATE api_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now, id])
            return try Self.fetchToken(db, sql: "SELECT * FROM api_token WHERE id = ?", arguments: [id])
        }
    }

    public func recordAPITokenUse(id: String, minimumInterval: Duration) async throws -> Bool {
        let interval = Millis.from(minimumInterval)
        return try await write { db, now, _ in
            // One IMMEDIATE transaction: of two writers, the second sees the
            // first one's time and changes nothing.
            try db.execute(
                sql: """
                    UPDATE api_token SET last_used_at = ?
                    WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)
                    """,
                arguments: [now, id, now - interval])
            return db.changesCount == 1
        }
    }

    static func fetchToken(_ db: Database, sql: String, arguments: StatementArguments) throws -> APIToken? {
        try Row.fetchOne(db, sql: sql, arguments: arguments).map(apiToken(from:))
    }

    static func apiToken(from row: Row) throws -> APIToken {
        let scopeText: String = try row.decode(forColumn: "scope")
        let scope: APITokenScope
        do { scope = try APITokenScope(parsing: scopeText) } catch {
            throw CatalogError.unavailable("a token row holds the unknown scope '\(scopeText.prefix(80))'")
        }
        let expiresAt: Int64? = try row.decode(forColumn: "expires_at")
        let lastUsedAt: Int64? = try row.decode(forColumn: "last_used_at")
        let revokedAt: Int64? = try row.decode(forColumn: "revoked_at")
        return APIToken(
            id: try row.decode(forColumn: "id"), name: try row.decode(forColumn: "name"), scope: scope,
            createdAt: Millis.date(try row.decode(forColumn: "created_at")), expiresAt: expiresAt.map(Millis.date),
            lastUsedAt: lastUsedAt.map(Millis.date), revokedAt: revokedAt.map(Millis.date),
            createdBy: try row.decode(forColumn: "created_by"))
    }
}
