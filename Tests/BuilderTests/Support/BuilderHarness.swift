import Foundation
import Logging
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Synchronization
import Testing

@testable import Builder

/// A whole build engine on real parts, in a temporary directory: a SQLite
/// catalog with an in-process bus, a store (the disk store unless one is
/// given), a body cache, a runner and a worker pool.
final class BuilderHarness: Sendable {
    enum RunnerChoice: Sendable {
        case docker
        case local
        /// A runner of the test's own (the configuration's runner kind is local).
        case custom(any BuildRunner)

        var isDocker: Bool {
            if case .docker = self { return true }
            return false
        }
    }

    let root: String
    let bus: InProcessEventBus
    let catalog: SQLiteCatalog
    let store: any ObjectStore
    let cache: BodyCache
    let configuration: BuilderConfiguration
    let runner: any BuildRunner
    let pool: BuildWorkerPool
    let reports = Locked<[BuildReport]>([])
    /// Every event the bus carried, in order.
    let events = Locked<[CatalogEvent]>([])
    private let eventTask: Task<Void, Never>

    static let logger: Logger = {
        var logger = Logger(label: "slipway.tests.builder")
        logger.logLevel = ProcessInfo.processInfo.environment["SLIPWAY_TEST_LOG"] == "debug" ? .debug : .error
        return logger
    }()

    /// Quick timings for tests: fast sweeps and backoff, and leases that a
    /// machine busy with the whole suite still renews in time (a test of
    /// an expiring lease takes one of its own, or waits for this one).
    static let queueSettings = QueueSettings(
        maxQueued: 100, maxAttempts: 3, leaseDuration: .seconds(20), backoffBase: .milliseconds(200),
        backoffCap: .seconds(2))

    /// - Parameters:
    ///   - root: the data directory (created); reuse one to "restart".
    ///   - store: the object store; a disk store under `root` when nil.
    ///   - catalog: an already open catalog; one on `root` when nil.
    ///   - clock: what the pool's waits sleep on.
    init(
        runner choice: RunnerChoice, root: String? = nil, store: (any ObjectStore)? = nil,
        queueSettings: QueueSettings = BuilderHarness.queueSettings, clock: any Clock<Duration> = ContinuousClock(),
        configure: (inout BuilderConfiguration) -> Void = { _ in }
    ) throws {
        let root = root ?? NSTemporaryDirectory() + "slipway-builder-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        self.root = root
        let bus = InProcessEventBus()
        self.bus = bus
        self.catalog = try SQLiteCatalog(dataDirectory: root + "/data", settings: queueSettings, bus: bus)
        self.store = try store ?? DiskObjectStore(root: root + "/store", durable: false)
        self.cache = BodyCache(capacityBytes: 16 << 20, maxEntryBytes: 1 << 20)

        var configuration = BuilderConfiguration(dataDirectory: root + "/data")
        configuration.runner = choice.isDocker ? .docker : .local
        configuration.image = TestDocker.image ?? "slipway-test-node:20"
        configuration.dockerHost = TestDocker.dockerHost
        configuration.allowLocalRepositories = true
        configuration.networkMode = "none"
        configuration.memoryBytes = 512 << 20
        configuration.cpus = 1
        configuration.timeout = .seconds(120)
        configuration.pollInterval = .milliseconds(200)
        configuration.sweepInterval = .milliseconds(500)
        configuration.leaseRenewInterval = .milliseconds(500)
        configuration.uploadBackoff = .milliseconds(20)
        // Shutting down releases running builds at once unless a test drains.
        configuration.drainTimeout = .zero
        // The test runner is not `slipway`: the supervisor is the built executable.
        configuration.supervisorExecutable = SlipwayProcess.executable.path
        configure(&configuration)
        self.configuration = configuration

        switch choice {
        case .docker: self.runner = try DockerRunner(configuration: configuration, logger: Self.logger)
        case .local: self.runner = LocalRunner(configuration: configuration)
        case .custom(let runner): self.runner = runner
        }
        let reports = self.reports
        self.pool = BuildWorkerPool(
            configuration: configuration, catalog: catalog, store: self.store, bus: bus, cache: cache, runner: runner,
            logger: Self.logger, observer: { report in reports.withLock { $0.append(report) } }, clock: clock)
        let events = self.events
        let subscription = bus.subscribe()
        self.eventTask = Task {
            for await delivery in subscription {
                if case .value(let event) = delivery { events.withLock { $0.append(event) } }
            }
        }
    }

    /// Runs `body` with a started harness and tears everything down after,
    /// whether `body` succeeded or not.
    static func with(
        runner: RunnerChoice, store: (any ObjectStore)? = nil, clock: any Clock<Duration> = ContinuousClock(),
        queueSettings: QueueSettings = BuilderHarness.queueSettings,
        configure: (inout BuilderConfiguration) -> Void = { _ in },
        _ body: (BuilderHarness) async throws -> Void
    ) async throws {
        if runner.isDocker { _ = try TestDocker.requireImage() }
        let harness = try BuilderHarness(
            runner: runner, store: store, queueSettings: queueSettings, clock: clock, configure: configure)
        try harness.pool.start()
        var failure: (any Error)?
        do {
            try await body(harness)
        } catch {
            failure = error
        }
        await harness.tearDown()
        if let failure { throw failure }
    }

    /// Stops the pool and the runner, closes the catalog and (unless another
    /// harness still uses it) removes the directory.
    func tearDown(removingDirectory: Bool = true) async {
        await pool.shutdown()
        await runner.shutdown()
        eventTask.cancel()
        try? await catalog.close()
        if removingDirectory { try? FileManager.default.removeItem(atPath: root) }
    }

    // MARK: Sites and builds

    /// A git repository of fixture `name` inside the harness directory.
    func repository(_ name: String, branch: String = "main") async throws -> String {
        try await FixtureRepository.make(
            name, at: root + "/repos/\(name)-\(UUID().uuidString.prefix(8))", branch: branch)
    }

    /// A site building `repository`.
    func site(
        repository: String, branch: String = "main", rootDir: String? = nil, outputDir: String? = nil,
        install: String? = nil, build: String? = nil, env: [BuildVariable] = [], repoToken: String? = nil
    ) async throws -> Site {
        try await catalog.createSite(
            SiteDraft(
                repoURL: repository, branch: branch, rootDir: rootDir, installCommand: install, buildCommand: build,
                outputDir: outputDir, env: env, repoToken: repoToken))
    }

    /// Queues a build of `site` and waits until it is over: final in the
    /// catalog and its worker done with it (log stored, report made).
    func buildAndWait(_ site: Site, timeout: Duration = .seconds(180)) async throws -> Build {
        let build = try await catalog.createBuild(siteID: site.id, BuildRequest(trigger: "test"))
        let final = try await waitUntilFinal(build.id, timeout: timeout)
        try await waitForReport(build.id)
        return final
    }

    /// Waits until the worker reported the end of the build's last attempt.
    func waitForReport(_ id: BuildID, timeout: Duration = .seconds(60)) async throws {
        let ends: Set<BuildReport.Outcome> = [.succeeded, .failed, .canceled]
        do {
            try await eventually(timeout: timeout, "the worker to finish with build \(id)") {
                reports(for: id).last.map { ends.contains($0.outcome) } ?? false
            }
        } catch {
            let seen = reports(for: id).map { "\($0.outcome.rawValue) (\($0.error?.description ?? "no error"))" }
            throw TestFailure(
                "\(error); the worker reported: \(seen.isEmpty ? "nothing" : seen.joined(separator: ", "))")
        }
    }

    /// Polls the catalog until the build's status is final.
    func waitUntilFinal(_ id: BuildID, timeout: Duration = .seconds(180)) async throws -> Build {
        try await waitFor(id, timeout: timeout) { $0.status.isFinal }
    }

    /// Polls the catalog until `condition` holds for the build.
    func waitFor(_ id: BuildID, timeout: Duration = .seconds(180), _ condition: (Build) -> Bool) async throws -> Build {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let build = try await catalog.build(id: id)
            if condition(build) { return build }
            if clock.now > deadline {
                throw TestFailure(
                    "build \(id) did not get there within \(timeout): it is \(build.status) (\(build.error ?? "no error"))"
                )
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits until `condition` holds, polling.
    func eventually(timeout: Duration = .seconds(60), _ what: String, _ condition: () async throws -> Bool) async throws
    {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while try await !condition() {
            if clock.now > deadline { throw TestFailure("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The persisted log of a build, from the store.
    /// The build's stored log. The worker stores it after it reported the
    /// attempt's end (`AttemptEndStateMachine`: the report, then the log),
    /// so a busy machine may need a moment between the two.
    func storedLog(_ build: Build) async throws -> String {
        var log: String?
        try await eventually(timeout: .seconds(30), "the stored log of \(build.id)") {
            guard let bytes = try? await store.getBytes(build.logKey, limit: 64 << 20) else { return false }
            log = String(buffer: bytes)
            return true
        }
        return log ?? ""
    }

    /// Waits until the build's live log has a line containing `text`.
    func waitForLogLine(_ id: BuildID, containing text: String, timeout: Duration = .seconds(120)) async throws {
        let bus = self.bus
        _ = try await withTimeout(
            timeout, error: TestFailure("no log line with '\(text)' within \(timeout)")
        ) {
            for await delivery in bus.subscribeLog(buildID: id) {
                if case .value(let line) = delivery, line.text.contains(text) { return true }
            }
            throw TestFailure("the log of \(id) ended without a line containing '\(text)'")
        }
    }

    /// What the bus still holds of a closed build log (it waits for more on an open one).
    func liveLog(_ id: BuildID) async -> [LogLine] {
        var lines: [LogLine] = []
        for await delivery in bus.subscribeLog(buildID: id) {
            if case .value(let line) = delivery { lines.append(line) }
        }
        return lines
    }

    /// The manifest stored for a build.
    func manifest(_ build: Build) async throws -> BuildManifest {
        try BuildManifest.decode(Data(try await store.getBytes(build.manifestKey).readableBytesView))
    }

    /// Activation events of `build` seen on the bus so far.
    func activations(of build: BuildID) -> [Activation] {
        events.withLock { events in
            events.compactMap { event -> Activation? in
                if case .activated(let activation) = event, activation.buildID == build { return activation }
                return nil
            }
        }
    }

    /// The report of the last attempt of `build`.
    func reports(for build: BuildID) -> [BuildReport] {
        reports.withLock { $0.filter { $0.buildID == build } }
    }
}

/// A value behind a lock, shareable between tasks and closures.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T { try mutex.withLock { try body(&$0) } }
}

extension ByteBuffer {
    /// The readable bytes as an array.
    var bytes: [UInt8] { Array(readableBytesView) }
}
