import Foundation
public import Logging
public import Model
import PostgresNIO
public import Storage
import Synchronization

/// The catalog of a fleet: every process (proxies, builders, admins) shares
/// one PostgreSQL database.
///
/// It keeps the contract of ``Catalog`` (and passes the same contract suite
/// as `SQLiteCatalog`) without SQLite's single writer: transactions run at
/// READ COMMITTED, concurrently, and each read-modify-write takes the row
/// locks it needs, always a site's row before its builds' rows so that two
/// transactions never wait for each other in a circle:
///
/// - a claim takes a build and its site's mutex (`site.claimed_build_id`)
///   together with `FOR UPDATE … SKIP LOCKED`, so two processes claiming at
///   the same instant never start two builds of one site (a partial unique
///   index on running builds backs this up); every end of a lease frees the
///   mutex;
/// - build numbers come from `UPDATE site SET build_counter = build_counter + 1`,
///   and the queue limit is counted under a transaction-level advisory lock;
/// - the sweep and the notification claim skip rows another process holds;
/// - activations and site edits lock the site's row first.
///
/// Events are written to the event outbox (``EventOutbox``) inside the
/// transaction that causes them, in the order `SQLiteCatalog` publishes
/// them; PostgreSQL delivers their notifications at commit, in commit order.
///
/// Times are milliseconds since 1970. Without an injected clock they come
/// from the database, read at the start of each transaction, so the clocks of
/// the fleet's machines never shorten or stretch a lease.
public final class PostgresCatalog: Catalog {
    public let queueSettings: QueueSettings
    /// The database, without its password.
    public let settings: PostgresSettings

    let client: PostgresClient
    let clock: CatalogClock?
    /// Seals secret values before they are written and opens them when read.
    let sealed: SealedFields
    let logger: Logger
    /// The task running the client's connection pool, until ``close()``.
    private let runner: Mutex<Task<Void, Never>?>
    private let isClosed = Mutex(false)

    private init(
        settings: PostgresSettings, queue: QueueSettings, clock: CatalogClock?, client: PostgresClient,
        runner: Task<Void, Never>, keyring: SecretKeyring, logger: Logger
    ) {
        self.sealed = SealedFields(keyring: keyring)
        self.settings = settings
        self.queueSettings = queue
        self.clock = clock
        self.client = client
        self.runner = Mutex(runner)
        self.logger = logger
    }

    /// Connects to the database, migrates its schema (creating the schema
    /// itself when missing) and returns the catalog, whose connection pool
    /// runs until ``close()``.
    /// - Parameters:
    ///   - settings: where the database is; its `schema` holds the tables.
    ///   - queue: queue limits and timings.
    ///   - clock: the time source; nil (production) reads the database's clock.
    ///   - maximumConnections: the size of the connection pool.
    ///   - connectTimeout: how long the first connection and the migration may take.
    ///   - keyring: the keys secrets are sealed with (`SLIPWAY_SECRET_KEY`),
    ///     the same on every node. Secrets stored clear or under a key that is
    ///     no longer the first are sealed (again) once the schema is migrated.
    /// - Throws: `invalid_input` for bad settings, `unavailable` when the
    ///   database cannot be reached in time, refuses the migration, or was
    ///   migrated by a newer Slipway.
    public static func open(
        settings: PostgresSettings,
        queue: QueueSettings = QueueSettings(),
        clock: CatalogClock? = nil,
        maximumConnections: Int = 10,
        connectTimeout: Duration = .seconds(30),
        keyring: SecretKeyring,
        logger: Logger
    ) async throws -> PostgresCatalog {
        try queue.validate()
        let configuration: PostgresClient.Configuration
        do {
            configuration = try settings.clientConfiguration(maximumConnections: maximumConnections)
        } catch {
            throw CatalogError.invalidInput("the database URL \(error.description)")
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let runner = Task { await client.run() }
        let catalog = PostgresCatalog(
            settings: settings, queue: queue, clock: clock, client: client, runner: runner, keyring: keyring,
            logger: logger)
        do {
            // A race without a task group: a group would wait for the
            // migration, and a connection lease that the stopped pool never
            // answers could make it wait forever.
            let outcome = FirstOutcome()
            let migrated: Bool = try await withCheckedThrowingContinuation { continuation in
                outcome.install(continuation)
                Task {
                    do {
                        try await catalog.migrate()
                        _ = try await catalog.resealSecrets()
                        outcome.finish(.success(true))
                    } catch {
                        outcome.finish(.failure(error))
                    }
                }
                Task {
                    try? await Task.sleep(for: connectTimeout)
                    outcome.finish(.success(false))
                }
            }
            guard migrated else {
                throw CatalogError.unavailable(
                    "PostgreSQL at \(settings) did not answer within \(connectTimeout); check that it runs and that this host may reach it"
                )
            }
        } catch {
            // Stop the pool without waiting for it: while it still retries a
            // connection (a refused certificate, say) it may take long to wind down.
            catalog.abandon()
            throw catalog.translate(error, whileClosed: false)
        }
        logger.info(
            "catalog opened",
            metadata: ["database": "\(settings)", "schema_version": "\(Self.schemaVersion)"])
        return catalog
    }

    /// Stops the connection pool. Calls afterwards throw `closed`; calling
    /// it again does nothing.
    /// Marks the catalog closed and stops its pool without waiting.
    private func abandon() {
        isClosed.withLock { $0 = true }
        runner.withLock { runner in
            runner?.cancel()
            runner = nil
        }
    }

    public func close() async throws {
        isClosed.withLock { $0 = true }
        guard
            let task = runner.withLock({ runner in
                defer { runner = nil }
                return runner
            })
        else { return }
        task.cancel()
        await task.value
    }

    // MARK: Transactions

    /// One transaction: its connection, its time and where its events go.
    struct Transaction {
        let connection: PostgresConnection
        let sealed: SealedFields
        /// The transaction's time, milliseconds since 1970.
        let now: Int64
        let channel: String
        let logger: Logger

        /// Runs `query` and returns every row it produced.
        @discardableResult
        func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
            try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
        }

        /// Records `event` in the outbox; it is announced when the transaction commits.
        func publish(_ event: CatalogEvent) async throws {
            try await EventOutbox.record(
                event, on: connection, channel: channel, now: now, logger: logger, sealed: sealed)
        }
    }

    /// How many times a transaction PostgreSQL aborted to break a deadlock
    /// (or a serialization conflict) is run.
    static let attempts = 3

    /// Runs `body` in one READ COMMITTED transaction, committed when it
    /// returns and rolled back when it throws. A transaction PostgreSQL
    /// chose as a deadlock's victim was rolled back entirely, so it is run
    /// again from the start.
    func write<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T {
        try checkOpen()
        var attempt = 1
        while true {
            do {
                return try await client.withTransaction(logger: logger) { connection in
                    let now = try await Self.now(on: connection, clock: clock, logger: logger)
                    let transaction = Transaction(
                        connection: connection, sealed: sealed, now: now, channel: settings.eventsChannel,
                        logger: logger)
                    return try await body(transaction)
                }
            } catch {
                if attempt < Self.attempts, Self.isRetryable(error) {
                    logger.debug("catalog transaction retried", metadata: ["attempt": "\(attempt)"])
                    attempt += 1
                    continue
                }
                throw translate(error, whileClosed: isClosed.withLock { $0 })
            }
        }
    }

    /// Whether the transaction was rolled back by PostgreSQL to break a
    /// deadlock (40P01) or a serialization conflict (40001), before its commit.
    static func isRetryable(_ error: any Error) -> Bool {
        guard let transactionError = error as? PostgresTransactionError, transactionError.commitError == nil,
            let state = (transactionError.closureError as? PSQLError)?.serverInfo?[.sqlState]
        else { return false }
        return state == "40P01" || state == "40001"
    }

    /// Runs `body` on one consistent, read-only snapshot (REPEATABLE READ),
    /// as SQLite's readers see one. The transaction's time is read only when
    /// `needsTime` (otherwise it is 0).
    func read<T: Sendable>(needsTime: Bool = false, _ body: (Transaction) async throws -> T) async throws -> T {
        try checkOpen()
        do {
            return try await client.withTransaction(logger: logger) { connection in
                _ = try await connection.query(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger
                ).collect()
                let now = needsTime ? try await Self.now(on: connection, clock: clock, logger: logger) : 0
                let transaction = Transaction(
                    connection: connection, sealed: sealed, now: now, channel: settings.eventsChannel, logger: logger)
                return try await body(transaction)
            }
        } catch {
            throw translate(error, whileClosed: isClosed.withLock { $0 })
        }
    }

    /// The injected clock's time, or the database's.
    private static func now(on connection: PostgresConnection, clock: CatalogClock?, logger: Logger) async throws
        -> Int64
    {
        if let clock { return Millis.from(clock()) }
        let rows = try await connection.query(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint", logger: logger
        ).collect()
        guard let row = rows.first else { throw CatalogError.unavailable("the database did not tell its time") }
        return try row.makeRandomAccess()[0].decode(Int64.self)
    }

    private func checkOpen() throws {
        if isClosed.withLock({ $0 }) { throw CatalogError.closed }
    }

    /// The error to throw for `error`: a ``CatalogError`` or a cancellation
    /// as it is (unwrapped from the transaction's error), anything else as
    /// `unavailable`, with what PostgreSQL said but never the query or its
    /// values (they may hold secrets).
    func translate(_ error: any Error, whileClosed: Bool) -> any Error {
        var underlying = error
        var committing = false
        if let transactionError = error as? PostgresTransactionError {
            if let closureError = transactionError.closureError {
                underlying = closureError
            } else if let commitError = transactionError.commitError {
                underlying = commitError
                committing = true
            } else if let beginError = transactionError.beginError {
                underlying = beginError
            }
        }
        if underlying is CatalogError || underlying is CancellationError { return underlying }
        if whileClosed { return CatalogError.closed }
        let described = Self.describe(underlying)
        if committing {
            return CatalogError.unavailable(
                "the catalog database failed while committing (the change may or may not be saved): \(described)")
        }
        return CatalogError.unavailable("the catalog database failed: \(described)")
    }

    /// What went wrong, in words that hold no query, value or password.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + state
            }
            return "PostgreSQL connection error \(error.code)"
        }
        return String(describing: type(of: error))
    }

    /// Whether `error` is PostgreSQL's unique violation (SQLSTATE 23505).
    static func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
    }
}

/// The first of several results, handed to one continuation; later ones are
/// dropped. A result that comes before the continuation is installed is
/// handed over as it is installed.
final class FirstOutcome: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Bool, any Error>?
        var done = false
        /// The first result, while no continuation is installed yet.
        var early: Result<Bool, any Error>?
    }

    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<Bool, any Error>) {
        let early = state.withLock { state -> Result<Bool, any Error>? in
            guard let early = state.early else {
                state.continuation = continuation
                return nil
            }
            state.early = nil
            return early
        }
        if let early { continuation.resume(with: early) }
    }

    func finish(_ result: Result<Bool, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<Bool, any Error>? in
            guard !state.done else { return nil }
            state.done = true
            guard let continuation = state.continuation else {
                state.early = result
                return nil
            }
            state.continuation = nil
            return continuation
        }
        continuation?.resume(with: result)
    }
}
