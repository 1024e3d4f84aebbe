import Foundation
import GRDB
import Model
import Postgres
import SlipwayTestSupport
import Synchronization
import Testing

@testable import Storage

/// A clock the tests move by hand, so leases and backoff never need sleeping.
final class ManualClock: Sendable {
    private let current: Mutex<Date>

    /// Starts on a whole millisecond, the catalog's resolution.
    init(start: Date = Date(timeIntervalSince1970: 1_750_000_000)) {
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(by duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    var source: CatalogClock { { [self] in now } }
}

/// Where one test's catalog lives: a fresh database that can be opened
/// more than once (a second process, a restart) and is destroyed afterwards.
protocol CatalogStore: Sendable {
    /// The bus that hears what this store's catalogs commit, started, and how to stop it.
    func makeBus() async throws -> StoreBus
    /// A catalog on the store's database; an embedded one publishes to `bus`.
    /// A nil `keyring` is the store's usual one.
    func open(settings: QueueSettings, clock: ManualClock, bus: any EventBus, keyring: SecretKeyring?) async throws
        -> any Catalog
    /// Everything the database holds, as text: what a stolen copy would show.
    func storedText() async throws -> String
    /// The keys a catalog opened with a nil keyring uses.
    func usualKeyring() throws -> SecretKeyring
    /// Runs one SQL statement on the database directly, as an older Slipway
    /// or an operator would (`UPDATE site …` for now).
    func execute(_ sql: String) async throws
    func destroy() async throws
}

extension CatalogStore {
    func open(settings: QueueSettings, clock: ManualClock, bus: any EventBus) async throws -> any Catalog {
        try await open(settings: settings, clock: clock, bus: bus, keyring: nil)
    }
}

/// A store's event bus and how to stop it.
struct StoreBus: Sendable {
    let bus: any EventBus
    let shutdown: @Sendable () async -> Void
}

/// One catalog implementation the contract suite runs against.
struct CatalogUnderTest: Sendable, CustomTestStringConvertible {
    let name: String
    let makeStore: @Sendable () async throws -> any CatalogStore

    var testDescription: String { name }

    /// SQLite in a fresh temporary data directory.
    static let sqlite = CatalogUnderTest(name: "SQLite") { try SQLiteStore() }

    /// PostgreSQL in a fresh schema of the test database (`TestPostgres`).
    static let postgres = CatalogUnderTest(name: "PostgreSQL") { try await PostgresStore() }

    /// Every implementation the contract suite covers: PostgreSQL when a
    /// test database is configured (and always in CI, where a missing one
    /// fails), see `TestPostgres.shouldRun`.
    static let all: [CatalogUnderTest] = TestPostgres.shouldRun ? [.sqlite, .postgres] : [.sqlite]

    /// Runs `body` with a fresh catalog, then closes every handle opened and
    /// destroys the store, whether `body` succeeded or not.
    func withFixture<T>(
        settings: QueueSettings = QueueSettings(),
        _ body: (CatalogFixture) async throws -> T
    ) async throws -> T {
        let fixture = try await CatalogFixture(store: makeStore(), settings: settings)
        do {
            let result = try await body(fixture)
            try await fixture.tearDown()
            return result
        } catch {
            try? await fixture.tearDown()
            throw error
        }
    }
}

struct SQLiteStore: CatalogStore {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("slipway-catalog-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func makeBus() async throws -> StoreBus {
        StoreBus(bus: InProcessEventBus(), shutdown: {})
    }

    func open(settings: QueueSettings, clock: ManualClock, bus: any EventBus, keyring: SecretKeyring?) async throws
        -> any Catalog
    {
        try SQLiteCatalog(
            dataDirectory: directory.path, settings: settings, clock: clock.source, bus: bus, keyring: keyring)
    }

    func execute(_ sql: String) async throws {
        let queue = try DatabaseQueue(path: directory.appendingPathComponent(SQLiteCatalog.fileName).path)
        try await queue.write { try $0.execute(sql: sql) }
        try queue.close()
    }

    func usualKeyring() throws -> SecretKeyring {
        try SecretKeyring.loadOrCreate(keyFile: directory.appendingPathComponent("secret-key").path)
    }

    /// The bytes of the database file and its write-ahead log.
    func storedText() async throws -> String {
        let base = directory.appendingPathComponent(SQLiteCatalog.fileName).path
        var bytes = Data()
        for file in [base, base + "-wal"] { bytes += FileManager.default.contents(atPath: file) ?? Data() }
        return String(decoding: bytes, as: UTF8.self)
    }

    func destroy() async throws {
        try FileManager.default.removeItem(at: directory)
    }
}

/// A schema of its own in the test database. Every handle is a separate
/// `PostgresCatalog` with its own connection pool, as separate processes
/// would have; events reach the fixture's bus through the database.
struct PostgresStore: CatalogStore {
    let database: PostgresSettings

    init() async throws {
        database = try await TestPostgres.makeSchema()
    }

    func makeBus() async throws -> StoreBus {
        var options = PostgresEventBus.Options()
        options.keyring = TestPostgres.keyring
        let bus = try await PostgresEventBus.start(settings: database, options: options, logger: TestPostgres.logger)
        return StoreBus(bus: bus, shutdown: { await bus.shutdown() })
    }

    func open(settings: QueueSettings, clock: ManualClock, bus: any EventBus, keyring: SecretKeyring?) async throws
        -> any Catalog
    {
        try await PostgresCatalog.open(
            settings: database, queue: settings, clock: clock.source, maximumConnections: 4,
            connectTimeout: .seconds(120), keyring: keyring ?? TestPostgres.keyring, logger: TestPostgres.logger)
    }

    func usualKeyring() throws -> SecretKeyring { TestPostgres.keyring }

    func execute(_ sql: String) async throws {
        // Statements name tables unqualified; here they live in the test's schema.
        let qualified = sql.replacingOccurrences(of: "UPDATE site ", with: "UPDATE \"\(database.schema)\".site ")
        _ = try await TestPostgres.strings(qualified, settings: database)
    }

    /// Every row of every table of the schema, as text.
    func storedText() async throws -> String {
        let tables = try await TestPostgres.strings(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = '\(database.schema)'",
            settings: database)
        var text = ""
        for table in tables {
            text += try await TestPostgres.strings(
                "SELECT t::text FROM \"\(database.schema)\".\"\(table)\" t", settings: database
            )
            .joined(separator: "\n")
        }
        return text
    }

    func destroy() async throws {
        try await TestPostgres.dropSchema(database)
    }
}

/// One test's catalog, clock and bus, plus helpers that drive builds.
final class CatalogFixture: Sendable {
    let store: any CatalogStore
    let settings: QueueSettings
    let clock = ManualClock()
    /// Hears every event the fixture's catalogs commit.
    let bus: any EventBus
    let catalog: any Catalog
    private let stopBus: @Sendable () async -> Void
    private let opened: Mutex<[any Catalog]>

    init(store: any CatalogStore, settings: QueueSettings) async throws {
        self.store = store
        self.settings = settings
        let bus: StoreBus
        do {
            bus = try await store.makeBus()
        } catch {
            try? await store.destroy()
            throw error
        }
        let catalog: any Catalog
        do {
            catalog = try await store.open(settings: settings, clock: clock, bus: bus.bus)
        } catch {
            await bus.shutdown()
            try? await store.destroy()
            throw error
        }
        self.bus = bus.bus
        self.stopBus = bus.shutdown
        self.catalog = catalog
        self.opened = Mutex([catalog])
    }

    /// Another handle on the same database (another process, or a restart),
    /// sharing the clock and the bus; closed at tear-down. A nil `keyring`
    /// is the store's usual one.
    func openAnother(keyring: SecretKeyring? = nil) async throws -> any Catalog {
        let catalog = try await store.open(settings: settings, clock: clock, bus: bus, keyring: keyring)
        opened.withLock { $0.append(catalog) }
        return catalog
    }

    func tearDown() async throws {
        for catalog in opened.withLock({ $0 }) { try await catalog.close() }
        await stopBus()
        try await store.destroy()
    }

    // MARK: Helpers

    /// A subscription to the fixture's bus that starts after every event
    /// committed so far. (A bus shared through a database hears a commit a
    /// little after it, so a plain `subscribe()` right after a commit may
    /// still receive that commit's events; a marker published now arrives
    /// after all of them.)
    func subscribe() async -> BusSubscription<CatalogEvent>.AsyncIterator {
        var iterator = bus.subscribe().makeAsyncIterator()
        let marker = CatalogEvent.siteDeleted(
            Site(
                id: SiteID.generate(), slug: "marker", repoURL: "https://example.com/marker.git", branch: "main",
                rootDir: nil, installCommand: nil, buildCommand: nil, outputDir: nil, spa: .auto, env: [],
                activeBuildID: nil, createdAt: clock.now, updatedAt: clock.now))
        bus.publish(marker)
        _ = await drain(&iterator, until: marker)
        return iterator
    }

    @discardableResult
    func makeSite(_ slug: String? = nil, repo: String = "https://github.com/acme/site.git") async throws -> Site {
        try await catalog.createSite(SiteDraft(slug: slug, repoURL: repo))
    }

    /// Creates a build of `site` and runs it to success; nothing else may be queued.
    @discardableResult
    func makeSuccessfulBuild(of site: Site, worker: String = "w-helper") async throws -> Build {
        let build = try await catalog.createBuild(siteID: site.id, BuildRequest())
        let claimed = try #require(try await catalog.claimNextBuild(workerID: worker))
        try #require(claimed.id == build.id)
        return try await catalog.finishBuild(
            buildID: build.id, workerID: worker, result: .success(fileCount: 3, bytes: 300))
    }

    /// Creates a build of `site` and runs it to a final failure.
    @discardableResult
    func makeFailedBuild(of site: Site, worker: String = "w-helper") async throws -> Build {
        let build = try await catalog.createBuild(siteID: site.id, BuildRequest())
        let claimed = try #require(try await catalog.claimNextBuild(workerID: worker))
        try #require(claimed.id == build.id)
        return try await catalog.finishBuild(
            buildID: build.id, workerID: worker,
            result: .failure(message: "npm run build exited with 1", retryable: false)
        )
    }
}

/// The catalog error `body` throws; records an issue when it throws
/// something else or nothing.
func catalogError(
    _ body: () async throws -> some Any, sourceLocation: SourceLocation = #_sourceLocation
) async -> CatalogError? {
    do {
        _ = try await body()
        Issue.record("expected a CatalogError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as CatalogError {
        return error
    } catch {
        Issue.record("expected a CatalogError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Collects what a subscription holds until `sentinel` arrives.
/// The sentinel must already have been published, so this never waits long.
func drain(
    _ iterator: inout BusSubscription<CatalogEvent>.AsyncIterator, until sentinel: CatalogEvent
) async -> [Delivery<CatalogEvent>] {
    var collected: [Delivery<CatalogEvent>] = []
    while let element = await iterator.next() {
        if case .value(let event) = element, event == sentinel { break }
        collected.append(element)
    }
    return collected
}
