import Foundation
public import Logging
public import Model
import PostgresNIO
import Storage

/// Why an import was refused or failed, in a sentence that says what to do.
/// It never holds the database's password.
public struct CatalogImportError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}

/// Copies an embedded SQLite catalog (`<data>/catalog.sqlite`) into an
/// empty PostgreSQL catalog, for an installation that moves to a fleet
/// (`slipway catalog import`).
///
/// Every row is copied as it is — ids, build numbers and counters, times in
/// milliseconds, statuses, active builds, webhook secrets, variables with
/// their secret values, notifications, webhook deliveries, API tokens (their
/// digests) and the audit log — with SQL of
/// its own, not through the ``Catalog`` API (which would number builds
/// anew), in one transaction: a failure leaves the target as empty as it
/// was. Two things change, because no builder holds a build any more:
///
/// - a build that was `building` is `queued` again, without its lease and
///   start time and without counting an attempt (as a worker that shuts
///   down gives its build back); a canceled build lets go of its lease;
/// - `site.claimed_build_id`, PostgreSQL's per-site claim mutex, stays NULL;
/// - secrets, sealed in SQLite under the single node's key
///   (`<data>/secret-key`), are sealed again under the fleet's
///   `SLIPWAY_SECRET_KEY`.
///
/// The identity columns (`seq`) get SQLite's `rowid`, so ties in the queue
/// and the notification outbox are broken as SQLite broke them, and their
/// sequences continue after the highest one copied.
public enum CatalogImport {
    /// What an import copied.
    public struct Summary: Sendable, Hashable {
        public var sites = 0
        public var builds = 0
        /// Builds that were running in SQLite and are queued again.
        public var requeuedBuilds = 0
        public var notifications = 0
        public var webhookDeliveries = 0
        public var apiTokens = 0
        public var customDomains = 0
        public var blobs = 0
        public var auditEvents = 0
    }

    /// How long the import waits for another session's lock on the target's
    /// tables before it gives up.
    static let lockTimeout = "10s"

    /// Copies the catalog at `path` into the PostgreSQL catalog `settings`
    /// names, after migrating its schema (creating it when missing).
    /// - Parameters:
    ///   - sourceKeyring: the keys the SQLite catalog's secrets are sealed
    ///     with; nil for the `secret-key` file beside it.
    ///   - keyring: the fleet's keys, which seal the copy.
    /// - Throws: ``CatalogImportError`` when the source cannot be read, was
    ///   written by another version, or the target is not empty or fails.
    public static func run(
        from path: String, sourceKeyring: SecretKeyring? = nil, to settings: PostgresSettings,
        keyring: SecretKeyring, logger: Logger
    ) async throws -> Summary {
        let dump = try await SQLiteCatalogDump.read(path: path)
        let opening: SecretKeyring
        do {
            let source =
                try sourceKeyring
                ?? SecretKeyring.loadExisting(
                    keyFile: ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
                        "secret-key"))
            // The fleet's key seals; the single node's key opens what it sealed.
            opening = keyring.adding(source ?? keyring)
        } catch {
            throw CatalogImportError("the SQLite catalog's secrets cannot be opened: \(error)")
        }
        let catalog: PostgresCatalog
        do {
            catalog = try await PostgresCatalog.open(
                settings: settings, maximumConnections: 2, keyring: keyring, logger: logger)
        } catch let error as CatalogError {
            throw CatalogImportError("cannot open the PostgreSQL catalog at \(settings): \(error.message)")
        }
        do {
            let summary = try await copy(dump, into: catalog, opening: opening)
            try await catalog.close()
            return summary
        } catch {
            try? await catalog.close()
            throw error
        }
    }

    private static func copy(_ dump: SQLiteCatalogDump, into catalog: PostgresCatalog, opening: SecretKeyring)
        async throws -> Summary
    {
        let settings = catalog.settings
        let logger = catalog.logger
        do {
            return try await catalog.client.withTransaction(logger: logger) { connection in
                let transaction = PostgresCatalog.Transaction(
                    connection: connection, sealed: SealedFields(keyring: opening), now: 0,
                    channel: settings.eventsChannel, logger: logger)
                try await lockEmptyTarget(transaction, settings: settings)
                var summary = Summary()
                for table in CopiedTable.all {
                    var rows = dump.rows(of: table)
                    if table.name == CopiedTable.build.name {
                        summary.requeuedBuilds = giveBackRunningBuilds(&rows)
                    }
                    try await insert(rows, transaction: transaction)
                }
                _ = try await transaction.resealSecrets()
                try await verify(transaction, into: &summary)
                return summary
            }
        } catch {
            var underlying = error
            if let transactionError = error as? PostgresTransactionError {
                underlying =
                    transactionError.closureError ?? transactionError.commitError ?? transactionError.beginError
                    ?? error
            }
            if let importError = underlying as? CatalogImportError { throw importError }
            if underlying is CancellationError { throw underlying }
            let translated = catalog.translate(error, whileClosed: false)
            let message = (translated as? CatalogError)?.message ?? String(describing: type(of: translated))
            throw CatalogImportError(
                "copying into \(settings) failed and nothing was imported: \(message); fix the cause and run the import again"
            )
        }
    }

    /// Locks the catalog's tables against every other writer until the
    /// transaction ends (two imports at once run one after the other), then
    /// refuses a target that holds a deployment or a build.
    private static func lockEmptyTarget(_ tx: PostgresCatalog.Transaction, settings: PostgresSettings) async throws {
        try await tx.rows(PostgresQuery(unsafeSQL: "SET LOCAL lock_timeout = '\(lockTimeout)'"))
        do {
            try await tx.rows(
                "LOCK TABLE site, build, notification, webhook_delivery, api_token, audit_event, custom_domain, blob, site_blob IN SHARE ROW EXCLUSIVE MODE"
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            throw CatalogImportError(
                "another session kept the tables of \(settings) locked for \(lockTimeout); stop every Slipway process that uses this database, then import again"
            )
        }
        // A schema a newer release migrated may have columns this copy would leave empty.
        let known = Set(PostgresCatalog.migrations.map(\.id))
        let unknown = try await tx.rows("SELECT id FROM schema_migration").map { try $0[0].decode(String.self) }
            .filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw CatalogImportError(
                "the PostgreSQL catalog at \(settings) was migrated by a newer Slipway (\(unknown.joined(separator: ", "))); run the import with the fleet's release"
            )
        }
        let counts = try await tx.rows("SELECT (SELECT count(*) FROM site), (SELECT count(*) FROM build)")
        let sites = try counts.first?[0].decode(Int.self) ?? 0
        let builds = try counts.first?[1].decode(Int.self) ?? 0
        guard sites == 0, builds == 0 else {
            throw CatalogImportError(
                "the PostgreSQL catalog at \(settings) is not empty: it holds \(sites) deployment(s) and \(builds) build(s), and an import only goes into an empty catalog; nothing was changed. Import into a new database or a new schema (add ?search_path=NAME to the URL)"
            )
        }
    }

    /// Queues again the builds that were running and lets canceled builds
    /// go of their lease: the builders that held them are gone. Returns how
    /// many builds were queued again.
    static func giveBackRunningBuilds(_ builds: inout CopiedRows) -> Int {
        let table = builds.table
        let status = table.index(of: "status")
        let startedAt = table.index(of: "started_at")
        let finishedAt = table.index(of: "finished_at")
        let leaseOwner = table.index(of: "lease_owner")
        let leaseExpiresAt = table.index(of: "lease_expires_at")
        var requeued = 0
        for index in builds.rows.indices {
            switch builds.rows[index][status] {
            case .text("building"):
                builds.rows[index][status] = .text("queued")
                builds.rows[index][startedAt] = .null
                builds.rows[index][finishedAt] = .null
                requeued += 1
            case .text("canceled"): break
            default: continue
            }
            builds.rows[index][leaseOwner] = .null
            builds.rows[index][leaseExpiresAt] = .null
        }
        return requeued
    }

    /// Most values one INSERT binds (PostgreSQL allows 65,535).
    static let maxBindsPerStatement = 20_000

    /// Inserts `rows` in batches of multi-row INSERTs, each value cast to
    /// its column's type (a NULL has none of its own), then moves the
    /// table's identity sequence past the highest value copied.
    private static func insert(_ rows: CopiedRows, transaction tx: PostgresCatalog.Transaction) async throws {
        let table = rows.table
        let identity = table.identity.map { [$0] } ?? []
        let names = (identity + table.columns.map(\.name)).joined(separator: ", ")
        let overriding = table.identity == nil ? "" : " OVERRIDING SYSTEM VALUE"
        let width = identity.count + table.columns.count
        let batchSize = max(1, maxBindsPerStatement / width)
        var start = 0
        while start < rows.rows.count {
            let end = min(start + batchSize, rows.rows.count)
            var sql = "INSERT INTO \(table.name) (\(names))\(overriding) VALUES "
            var binds = PostgresBindings(capacity: (end - start) * width)
            var parameterNumber = 0
            for index in start..<end {
                var cells: [String] = []
                cells.reserveCapacity(width)
                if table.identity != nil {
                    parameterNumber += 1
                    cells.append("$\(parameterNumber)::bigint")
                    binds.append(rows.rowIDs[index])
                }
                for (column, value) in zip(table.columns, rows.rows[index]) {
                    parameterNumber += 1
                    cells.append("$\(parameterNumber)::\(column.kind.cast)")
                    switch value {
                    case .null: binds.appendNull()
                    case .integer(let number): binds.append(number)
                    case .text(let text): binds.append(text)
                    }
                }
                sql += (index == start ? "(" : ", (") + cells.joined(separator: ", ") + ")"
            }
            try await tx.rows(PostgresQuery(unsafeSQL: sql, binds: binds))
            start = end
        }
        if let column = table.identity, !rows.rowIDs.isEmpty {
            try await tx.rows(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT setval(pg_get_serial_sequence('\(table.name)', '\(column)'), max(\(column)))
                        FROM \(table.name)
                        """))
        }
    }

    /// Reads every copied row back the way ``PostgresCatalog`` reads it, so
    /// a row the fleet could not use fails the import instead of a node
    /// later, and counts them.
    private static func verify(_ tx: PostgresCatalog.Transaction, into summary: inout Summary) async throws {
        summary.sites = try await tx.rows("SELECT * FROM site").map {
            try PostgresCatalog.site(from: $0, sealed: tx.sealed)
        }.count
        summary.builds = try await tx.rows("SELECT * FROM build").map(PostgresCatalog.build(from:)).count
        summary.notifications =
            try await tx.rows("SELECT * FROM notification").map {
                try PostgresCatalog.notification(from: $0, sealed: tx.sealed)
            }.count
        summary.webhookDeliveries =
            try await tx.rows("SELECT count(*) FROM webhook_delivery").first?[0].decode(Int.self) ?? 0
        summary.apiTokens = try await tx.rows("SELECT * FROM api_token").map(PostgresCatalog.apiToken(from:)).count
        summary.auditEvents =
            try await tx.rows("SELECT * FROM audit_event").map(PostgresCatalog.auditEvent(from:)).count
        summary.customDomains =
            try await tx.rows("SELECT * FROM custom_domain").map(PostgresCatalog.domain(from:)).count
        summary.blobs = try await tx.rows("SELECT count(*) FROM blob").first?[0].decode(Int.self) ?? 0
    }
}
