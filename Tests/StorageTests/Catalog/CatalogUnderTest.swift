import Foundation
import Model
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
    func open(settings: QueueSettings, clock: ManualClock, bus: InProcessEventBus) throws -> any Catalog
    func destroy() throws
}

/// One catalog implementation the contract suite runs against.
struct CatalogUnderTest: Sendable, CustomTestStringConvertible {
    let name: String
    let makeStore: @Sendable () throws -> any CatalogStore

    var testDescription: String { name }

    /// SQLite in a fresh temporary data directory.
    static let sqlite = CatalogUnderTest(name: "SQLite") { try SQLiteStore() }

    /// Every implementation the contract suite covers.
    static let all: [CatalogUnderTest] = [.sqlite]

    /// Runs `body` with a fresh catalog, then closes every handle opened and
    /// destroys the store, whether `body` succeeded or not.
    func withFixture<T>(
        settings: QueueSettings = QueueSettings(),
        _ body: (CatalogFixture) async throws -> T
    ) async throws -> T {
        let fixture = try CatalogFixture(store: makeStore(), settings: settings)
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

    func open(settings: QueueSettings, clock: ManualClock, bus: InProcessEventBus) throws -> any Catalog {
        try SQLiteCatalog(dataDirectory: directory.path, settings: settings, clock: clock.source, bus: bus)
    }

    func destroy() throws {
        try FileManager.default.removeItem(at: directory)
    }
}

/// One test's catalog, clock and bus, plus helpers that drive builds.
final class CatalogFixture: Sendable {
    let store: any CatalogStore
    let settings: QueueSettings
    let clock = ManualClock()
    let bus = InProcessEventBus()
    let catalog: any Catalog
    private let opened: Mutex<[any Catalog]>

    init(store: any CatalogStore, settings: QueueSettings) throws {
        self.store = store
        self.settings = settings
        let catalog = try store.open(settings: settings, clock: clock, bus: bus)
        self.catalog = catalog
        self.opened = Mutex([catalog])
    }

    /// Another handle on the same database (another process, or a restart),
    /// sharing the clock and the bus; closed at tear-down.
    func openAnother() throws -> any Catalog {
        let catalog = try store.open(settings: settings, clock: clock, bus: bus)
        opened.withLock { $0.append(catalog) }
        return catalog
    }

    func tearDown() async throws {
        for catalog in opened.withLock({ $0 }) { try await catalog.close() }
        try store.destroy()
    }

    // MARK: Helpers

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
