public import Foundation
import GRDB
public import Model
import Synchronization

/// The embedded catalog: one SQLite database in the data directory.
///
/// It runs in WAL mode through a GRDB `DatabasePool`: reads never wait for
/// writes, and every write is one `BEGIN IMMEDIATE` transaction, so two
/// catalogs opened on the same file (two processes) serialise their writes
/// through SQLite's lock instead of failing halfway. Writers wait up to
/// ``busyTimeout`` for the lock. The schema is migrated on open.
public final class SQLiteCatalog: Catalog {
    /// The database file name inside a data directory.
    public static let fileName = "catalog.sqlite"
    /// How long a write waits for another process's write lock.
    public static let busyTimeout: TimeInterval = 10

    public let queueSettings: QueueSettings
    /// The database file.
    public let path: String

    let pool: DatabasePool
    let clock: CatalogClock
    let bus: (any EventBus)?
    /// Seals secret values before they are written and opens them when read.
    let sealed: SealedFields
    private let isClosed = Mutex(false)

    /// Opens (creating and migrating if needed) `catalog.sqlite` in `dataDirectory`,
    /// creating the directory (mode 0700) when missing.
    public convenience init(
        dataDirectory: String,
        settings: QueueSettings = QueueSettings(),
        clock: @escaping CatalogClock = { Date() },
        bus: (any EventBus)? = nil,
        keyring: SecretKeyring? = nil
    ) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw CatalogError.unavailable(
                "cannot create the data directory '\(dataDirectory)': \(error.localizedDescription); check its parent's permissions"
            )
        }
        try self.init(
            path: (dataDirectory as NSString).appendingPathComponent(Self.fileName), settings: settings, clock: clock,
            bus: bus, keyring: keyring)
    }

    /// Opens (creating and migrating if needed) the database at `path`.
    /// - Parameters:
    ///   - settings: queue limits and timings.
    ///   - clock: the time source; tests pass one they move by hand.
    ///   - bus: where to publish ``CatalogEvent``s after each commit.
    ///   - keyring: the keys secrets are sealed with; nil for the key in
    ///     `secret-key` beside the database, generated on the first open.
    /// - Throws: `invalid_input` for bad settings, `unavailable` when the file
    ///   cannot be opened or was migrated by a newer Slipway.
    public init(
        path: String,
        settings: QueueSettings = QueueSettings(),
        clock: @escaping CatalogClock = { Date() },
        bus: (any EventBus)? = nil,
        keyring: SecretKeyring? = nil
    ) throws {
        try settings.validate()
        let keyring = try keyring ?? Self.keyFileKeyring(beside: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "slipway.catalog"
        configuration.prepareDatabase { db in
            // Deleted and overwritten content is zeroed, so a value sealed
            // again (or a secret from before sealing) leaves no old copy in
            // the file's free space.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            let migrator = Self.migrator
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                try? pool.close()
                throw CatalogError.unavailable(
                    "the catalog '\(path)' was migrated by a newer version of Slipway; run that version or restore a backup"
                )
            }
            try migrator.migrate(pool)
            self.pool = pool
            // It holds every site's variables: readable by Slipway's user only
            // (SQLite gives the -wal and -shm files the database's mode).
            for file in [path, path + "-wal", path + "-shm"] { _ = chmod(file, 0o600) }
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError.unavailable(
                "cannot open the catalog '\(path)': \(Self.describe(error)); check the path and its permissions")
        }
        self.path = path
        self.sealed = SealedFields(keyring: keyring)
        self.queueSettings = settings
        self.clock = clock
        self.bus = bus
        // Secrets written before sealing existed, or under a key that is no
        // longer the first, are sealed (again) now.
        do {
            if try pool.write({ try self.resealRows($0) }) > 0 {
                // The write-ahead log still holds the pages as they were; a
                // truncating checkpoint empties it. Nothing else reads yet.
                _ = try? pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
            }
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError.unavailable("cannot seal the catalog's secrets: \(Self.describe(error))")
        }
    }

    public func close() async throws {
        let wasClosed = isClosed.withLock { closed in
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return }
        do {
            try pool.close()
        } catch {
            throw CatalogError.unavailable("closing the catalog failed: \(Self.describe(error))")
        }
    }

    // MARK: Transactions

    /// Runs `body` in one IMMEDIATE write transaction with the current time
    /// in milliseconds. Events queued on the ``EventSink`` are published after
    /// the commit, on the writer's queue, so they come out in commit order.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database, Int64, inout EventSink) throws -> T) async throws
        -> T
    {
        try checkOpen()
        return try await mapErrors {
            try await pool.write { [clock, bus] db in
                // Read the clock inside the lock so times follow commit order.
                let now = Millis.from(clock())
                var sink = EventSink()
                let result = try body(db, now, &sink)
                if let bus, !sink.events.isEmpty {
                    let events = sink.events
                    db.afterNextTransaction(onCommit: { _ in
                        for event in events { bus.publish(event) }
                    })
                }
                return result
            }
        }
    }

    /// Runs `body` on a read-only snapshot with the current time in milliseconds.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database, Int64) throws -> T) async throws -> T {
        try checkOpen()
        return try await mapErrors {
            try await pool.read { [clock] db in try body(db, Millis.from(clock())) }
        }
    }

    private func checkOpen() throws {
        if isClosed.withLock({ $0 }) { throw CatalogError.closed }
    }

    private func mapErrors<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            return try await operation()
        } catch let error as CatalogError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            if isClosed.withLock({ $0 }) { throw CatalogError.closed }
            throw CatalogError.unavailable("the catalog database failed: \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return "\(error.message ?? "SQLite error") (SQLite code \(error.extendedResultCode.rawValue))"
        }
        return String(describing: error)
    }
}

/// Events a write transaction will publish once it commits.
struct EventSink {
    private(set) var events: [CatalogEvent] = []
    mutating func publish(_ event: CatalogEvent) { events.append(event) }
}

/// Conversions between dates and the integer milliseconds stored in the
/// database (every catalog implementation keeps times this way).
package enum Millis {
    package static func from(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    package static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
    package static func from(_ duration: Duration) -> Int64 { duration.wholeMilliseconds }
}

extension SQLiteCatalog {
    /// The keyring in `secret-key` beside the database at `path`.
    static func keyFileKeyring(beside path: String) throws -> SecretKeyring {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            return try SecretKeyring.loadOrCreate(
                keyFile: ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent("secret-key"))
        } catch {
            throw CatalogError.unavailable("\(error)")
        }
    }
}
