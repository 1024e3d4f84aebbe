import Foundation
import GRDB

/// One column that both catalogs have, and how its values travel: the
/// PostgreSQL type a value is cast to on the way in.
struct CopiedColumn: Sendable {
    enum Kind: String, Sendable {
        case text
        case integer
        case bigint
        /// SQLite's 0 or 1, PostgreSQL's boolean.
        case boolean

        /// The cast of a bound value in the INSERT.
        var cast: String { self == .boolean ? "integer::boolean" : rawValue }
    }

    let name: String
    let kind: Kind

    init(_ name: String, _ kind: Kind = .text) {
        self.name = name
        self.kind = kind
    }
}

/// One value of a copied column. SQLite stores what it is given, so each one
/// is checked against its column's kind when it is read.
enum CopiedValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
}

/// A catalog table that is copied row for row: its columns, named alike in
/// `Sources/Storage/Catalog/SQLiteCatalog+Migrations.swift` and
/// `Sources/Postgres/PostgresCatalog+Migrations.swift`.
struct CopiedTable: Sendable {
    let name: String
    let columns: [CopiedColumn]
    /// PostgreSQL's identity column (`seq`, the tie-breaker of the claim
    /// order) that SQLite's `rowid`, its tie-breaker, fills; nil for a table
    /// without one.
    let identity: String?
    /// The order rows are read and written in.
    let order: String

    func index(of column: String) -> Int {
        guard let index = columns.firstIndex(where: { $0.name == column }) else {
            preconditionFailure("\(name) has no column \(column)")
        }
        return index
    }

    /// Every table of the catalog, parents first. `site.claimed_build_id`
    /// (PostgreSQL's claim mutex) is left out: it stays NULL, since no
    /// builder holds a build of the copy.
    static let all: [CopiedTable] = [
        site, build, notification, webhookDelivery, apiToken, auditEvent, customDomain, blob, siteBlob,
    ]

    static let site = CopiedTable(
        name: "site",
        columns: [
            CopiedColumn("id"), CopiedColumn("slug"), CopiedColumn("repo_url"), CopiedColumn("branch"),
            CopiedColumn("root_dir"), CopiedColumn("install_command"), CopiedColumn("build_command"),
            CopiedColumn("output_dir"), CopiedColumn("spa"), CopiedColumn("env"), CopiedColumn("active_build_id"),
            CopiedColumn("build_counter", .integer), CopiedColumn("webhook_secret"), CopiedColumn("notify_url"),
            CopiedColumn("created_at", .bigint), CopiedColumn("updated_at", .bigint), CopiedColumn("repo_token"),
            CopiedColumn("protection_mode"), CopiedColumn("protection_username"),
            CopiedColumn("protection_previews_only", .boolean), CopiedColumn("protection_version", .integer),
            CopiedColumn("protection_hash"),
        ],
        identity: nil, order: "rowid")

    static let build = CopiedTable(
        name: "build",
        columns: [
            CopiedColumn("id"), CopiedColumn("site_id"), CopiedColumn("number", .integer), CopiedColumn("status"),
            CopiedColumn("priority", .integer), CopiedColumn("trigger"), CopiedColumn("commit_sha"),
            CopiedColumn("commit_message"), CopiedColumn("error"), CopiedColumn("attempt", .integer),
            CopiedColumn("queued_at", .bigint), CopiedColumn("started_at", .bigint),
            CopiedColumn("finished_at", .bigint), CopiedColumn("not_before", .bigint), CopiedColumn("lease_owner"),
            CopiedColumn("lease_expires_at", .bigint), CopiedColumn("file_count", .integer),
            CopiedColumn("bytes", .bigint), CopiedColumn("replaced_at", .bigint),
        ],
        identity: "seq", order: "rowid")

    static let notification = CopiedTable(
        name: "notification",
        columns: [
            CopiedColumn("id"), CopiedColumn("site_id"), CopiedColumn("build_id"), CopiedColumn("event"),
            CopiedColumn("url"), CopiedColumn("build"), CopiedColumn("state"), CopiedColumn("attempts", .integer),
            CopiedColumn("created_at", .bigint), CopiedColumn("next_attempt_at", .bigint),
            CopiedColumn("lease_owner"), CopiedColumn("lease_expires_at", .bigint),
            CopiedColumn("last_attempt_at", .bigint), CopiedColumn("last_status", .integer),
            CopiedColumn("last_error"), CopiedColumn("finished_at", .bigint),
        ],
        identity: "seq", order: "rowid")

    /// `WITHOUT ROWID` in SQLite: read in the order it was received.
    static let webhookDelivery = CopiedTable(
        name: "webhook_delivery",
        columns: [CopiedColumn("site_id"), CopiedColumn("delivery_id"), CopiedColumn("received_at", .bigint)],
        identity: nil, order: "received_at, site_id, delivery_id")

    /// API tokens: only the digests of their secrets, as stored.
    static let apiToken = CopiedTable(
        name: "api_token",
        columns: [
            CopiedColumn("id"), CopiedColumn("name"), CopiedColumn("scope"), CopiedColumn("secret_digest"),
            CopiedColumn("created_by"), CopiedColumn("created_at", .bigint), CopiedColumn("expires_at", .bigint),
            CopiedColumn("last_used_at", .bigint), CopiedColumn("revoked_at", .bigint),
        ],
        identity: nil, order: "rowid")

    /// The audit log; its ids (SQLite's `rowid`) are kept, so pages and
    /// references to entries stay valid.
    static let auditEvent = CopiedTable(
        name: "audit_event",
        columns: [
            CopiedColumn("time", .bigint), CopiedColumn("token_id"), CopiedColumn("token_name"),
            CopiedColumn("action"), CopiedColumn("target"), CopiedColumn("outcome", .integer),
            CopiedColumn("client_address"), CopiedColumn("count", .integer),
        ],
        identity: "id", order: "id")

    /// Custom domains with their states and the object keys of their
    /// certificates (the keys themselves are sealed in the object store).
    /// Fleet leases are not copied: no node holds one in the copy.
    static let customDomain = CopiedTable(
        name: "custom_domain",
        columns: [
            CopiedColumn("hostname"), CopiedColumn("site_id"), CopiedColumn("apex", .boolean),
            CopiedColumn("paired_with"), CopiedColumn("redirect_to"), CopiedColumn("verify_token"),
            CopiedColumn("status"), CopiedColumn("cert_status"), CopiedColumn("error_code"),
            CopiedColumn("error_detail"), CopiedColumn("error_at", .bigint), CopiedColumn("check_attempts", .integer),
            CopiedColumn("next_check_at", .bigint), CopiedColumn("verified_at", .bigint),
            CopiedColumn("cert_chain_key"), CopiedColumn("cert_key_key"), CopiedColumn("cert_sha256"),
            CopiedColumn("cert_not_before", .bigint), CopiedColumn("cert_not_after", .bigint),
            CopiedColumn("cert_renew_at", .bigint), CopiedColumn("cert_source"),
            CopiedColumn("https_redirect", .boolean), CopiedColumn("hsts_max_age", .integer),
            CopiedColumn("created_at", .bigint), CopiedColumn("updated_at", .bigint),
        ],
        identity: nil, order: "rowid")

    /// Content blobs (the objects themselves stay where they are: copy the
    /// object store's `blobs/` with it when the store changes too).
    static let blob = CopiedTable(
        name: "blob",
        columns: [
            CopiedColumn("sha256"), CopiedColumn("size", .bigint), CopiedColumn("state"),
            CopiedColumn("created_at", .bigint), CopiedColumn("used_at", .bigint),
        ],
        identity: nil, order: "sha256")

    /// Which sites have which blobs.
    static let siteBlob = CopiedTable(
        name: "site_blob",
        columns: [CopiedColumn("site_id"), CopiedColumn("sha256"), CopiedColumn("used_at", .bigint)],
        identity: nil, order: "site_id, sha256")
}

/// The rows of one table as read from SQLite.
struct CopiedRows: Sendable {
    let table: CopiedTable
    /// Each row's values in the order of `table.columns`.
    var rows: [[CopiedValue]]
    /// Each row's SQLite `rowid`, when the table has an identity column.
    var rowIDs: [Int64]
}

/// Everything an embedded SQLite catalog holds, read from one snapshot of
/// the file, which is opened read-only.
struct SQLiteCatalogDump: Sendable {
    /// The migrations of `Sources/Storage/Catalog/SQLiteCatalog+Migrations.swift`
    /// whose columns ``CopiedTable`` knows (`v12-uploads` adds uploads in
    /// progress, which are not copied: an upload is finished within its
    /// lifetime, or started again). A file with a migration not
    /// listed here was written by a newer Slipway (its tables may hold
    /// columns this copy would drop), one without all of them by an older one.
    static let knownMigrations = [
        "v1-sites-builds-queue", "v2-site-webhook-secret", "v3-notifications", "v4-webhook-deliveries",
        "v5-repo-token", "v6-api-tokens", "v7-audit-log", "v8-site-protection", "v9-custom-domains",
        "v10-fleet-leases", "v11-content-blobs", "v12-uploads",
    ]

    let tables: [CopiedRows]

    func rows(of table: CopiedTable) -> CopiedRows {
        guard let rows = tables.first(where: { $0.table.name == table.name }) else {
            preconditionFailure("the dump holds no table \(table.name)")
        }
        return rows
    }

    /// Reads every table of the catalog at `path`.
    /// - Throws: ``CatalogImportError`` saying what is wrong with the file.
    static func read(path: String) async throws -> SQLiteCatalogDump {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw CatalogImportError(
                "there is no file at \(path); give the catalog.sqlite of the data directory (SLIPWAY_DATA_DIR, ./.slipway by default)"
            )
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.label = "slipway.catalog-import"
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw CatalogImportError(
                "cannot open \(path) as an SQLite database: \(describe(error)); check the path and that this user may read the file and its directory"
            )
        }
        defer { try? queue.close() }
        do {
            return try await queue.read { db in
                try checkMigrations(db, path: path)
                return SQLiteCatalogDump(tables: try CopiedTable.all.map { try readRows(of: $0, db: db) })
            }
        } catch let error as CatalogImportError {
            throw error
        } catch {
            throw CatalogImportError("cannot read the catalog \(path): \(describe(error))")
        }
    }

    /// Refuses a file that is not a Slipway catalog, or that another
    /// version of Slipway migrated.
    private static func checkMigrations(_ db: Database, path: String) throws {
        guard try db.tableExists("grdb_migrations") else {
            throw CatalogImportError(
                "\(path) is not a Slipway catalog (it has no migration table); give the catalog.sqlite of the data directory"
            )
        }
        let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        let unknown = applied.filter { !knownMigrations.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw CatalogImportError(
                "the catalog \(path) was written by a newer Slipway (it holds the migrations \(unknown.joined(separator: ", ")), which this version does not know); import it with that version"
            )
        }
        let missing = knownMigrations.filter { !applied.contains($0) }
        guard missing.isEmpty else {
            throw CatalogImportError(
                "the catalog \(path) was last opened by an older Slipway (it lacks the migrations \(missing.joined(separator: ", "))); start this version's `slipway serve` on it once (it migrates the file on start), stop it, and import again"
            )
        }
    }

    private static func readRows(of table: CopiedTable, db: Database) throws -> CopiedRows {
        let names = table.columns.map(\.name).joined(separator: ", ")
        let rowID = table.identity == nil ? "" : "rowid, "
        let cursor = try Row.fetchCursor(db, sql: "SELECT \(rowID)\(names) FROM \(table.name) ORDER BY \(table.order)")
        var result = CopiedRows(table: table, rows: [], rowIDs: [])
        while let row = try cursor.next() {
            let offset = table.identity == nil ? 0 : 1
            if offset == 1 {
                guard case .int64(let id) = (row[0] as DatabaseValue).storage else {
                    throw CatalogImportError("a row of \(table.name) has no rowid; check the file with sqlite3")
                }
                result.rowIDs.append(id)
            }
            var values: [CopiedValue] = []
            values.reserveCapacity(table.columns.count)
            for (index, column) in table.columns.enumerated() {
                values.append(try value(row[index + offset], column: column, table: table, row: result.rows.count))
            }
            result.rows.append(values)
        }
        return result
    }

    private static func value(_ value: DatabaseValue, column: CopiedColumn, table: CopiedTable, row: Int) throws
        -> CopiedValue
    {
        switch (value.storage, column.kind) {
        case (.null, _): return .null
        case (.string(let text), .text): return .text(text)
        case (.int64(let number), .integer), (.int64(let number), .bigint), (.int64(let number), .boolean):
            return .integer(number)
        default:
            throw CatalogImportError(
                "row \(row + 1) of the table \(table.name) holds a value of the wrong type in \(column.name) (\(column.kind.rawValue) expected); repair the catalog or restore a backup, then import again"
            )
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return "\(error.message ?? "SQLite error") (SQLite code \(error.extendedResultCode.rawValue))"
        }
        return String(describing: error)
    }
}
