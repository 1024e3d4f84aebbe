import Foundation
public import Logging
import Metrics
public import Model
import NIOCore
import PostgresNIO
public import Storage
import Synchronization

/// The event bus of a fleet: catalog events and live build logs shared by
/// every process through PostgreSQL.
///
/// **Events.** The catalog records each event and `pg_notify`s it inside
/// the transaction that causes it (``EventOutbox``), so every process hears
/// it at commit, in commit order. Each bus keeps one connection of its own
/// that `LISTEN`s (never a pooled one) and fans what it hears out to its
/// subscribers' bounded queues. When that connection fails, the bus
/// reconnects with a growing, jittered delay, and after each reconnect every
/// subscriber gets a ``Delivery/missed(_:)``: what was committed while nobody
/// listened is gone, so they re-read the catalog. A heartbeat (a
/// notification the bus sends itself and must hear back in time) finds a
/// connection that looks open but no longer delivers.
///
/// **Logs.** Lines are buffered per build and written every
/// ``Options/logFlushInterval`` (or sooner, past ``Options/logFlushBytes``)
/// as one row of `build_log_chunk`, with one notification naming the build
/// on the logs channel — never a notification per line. A follower reads
/// the rows in order, on any process, waking on those notifications (and on
/// a slow poll, should one be lost); it ends once `build_log_end` holds the
/// build. The rows outlive a killed builder, so its lines survive too.
///
/// ``publish(_:)`` (catalog events from elsewhere than a catalog, tests'
/// markers) goes through the database as well, so it is ordered with the
/// catalog's events; a subscriber never receives what this bus published
/// before it subscribed. A subscription may still receive events that
/// another process committed shortly before ``subscribe()`` returned (their
/// notifications were on the way): they come in commit order, so a
/// subscriber that applies them after loading the catalog ends in the
/// catalog's current state.
public final class PostgresEventBus: EventBus {
    /// Bounds and timings.
    public struct Options: Sendable {
        /// Events a subscriber may fall behind before it misses some.
        public var subscriberBuffer = 1024
        /// Lines a log follower reads ahead of its consumer.
        public var logReadAhead = 4096
        /// Most lines of a log's replay (the lines before a follower subscribed).
        public var replayLines = 10_000
        /// Most bytes of line text in a log's replay.
        public var replayBytes = 2 << 20
        /// Longest log line kept whole.
        public var logLineBytes = 16 << 10
        /// How long lines wait before they are written.
        public var logFlushInterval: Duration = .milliseconds(250)
        /// Buffered bytes of one build's lines that are written at once.
        public var logFlushBytes = 64 << 10
        /// How often a follower looks for new lines when no notification came.
        public var logPollInterval: Duration = .seconds(1)
        /// How often the listening connection proves it still delivers.
        public var heartbeatInterval: Duration = .seconds(5)
        /// How long the heartbeat may take to come back.
        public var heartbeatTimeout: Duration = .seconds(5)
        /// The first and the longest wait between reconnection attempts.
        public var reconnectDelay: (first: Duration, longest: Duration) = (.milliseconds(100), .seconds(30))
        /// Connections for writing events and lines.
        public var writeConnections = 4
        /// How long events stay in `catalog_event` (a listener behind by
        /// more than this reloads the catalog instead).
        public var eventRetention: Duration = .seconds(3600)
        /// How long live log lines stay in the database; the log stored in
        /// the bucket at the end of a build is the complete record.
        public var logRetention: Duration = .seconds(24 * 3600)
        /// How often old events and lines are deleted (by one process of
        /// the fleet at a time).
        public var pruneInterval: Duration = .seconds(600)

        /// The keys that seal and open the secrets of site events in the
        /// table (`SLIPWAY_SECRET_KEY`, as the catalog's); nil keeps the
        /// events this bus publishes itself as they are.
        public var keyring: SecretKeyring?

        public init() {}
    }

    private struct Subscriber {
        let queue: SubscriberQueue<CatalogEvent>
        /// The last of this bus's own publications made before it subscribed.
        let ownPublicationsBefore: UInt64
    }

    private struct LogWaiters {
        var generation: UInt64 = 0
        var waiting: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private struct State {
        var nextID: UInt64 = 0
        var subscribers: [UInt64: Subscriber] = [:]
        var published: UInt64 = 0
        var logWaiters: [BuildID: LogWaiters] = [:]
        var listening = false
        var connectedOnce = false
        var heartbeat: (number: UInt64, heard: CheckedContinuation<Void, Never>?) = (0, nil)
        var heardHeartbeat: UInt64 = 0
    }

    fileprivate enum Command: Sendable {
        case publish(CatalogEvent, origin: String)
        case line(LogLine, BuildID)
        case close(BuildID)
        case flush
    }

    public let settings: PostgresSettings
    public let options: Options
    private let logger: Logger
    private let client: PostgresClient
    /// This bus among all buses on the channel: it tells its own publications apart.
    private let instance = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    private let state = Mutex(State())
    private let commands: AsyncStream<Command>.Continuation
    private let commandStream: AsyncStream<Command>
    /// What runs until ``shutdown()``: the write pool, the writer (which
    /// drains its queue at shutdown), and loops that simply stop.
    private struct Running {
        var pool: Task<Void, Never>?
        var writer: Task<Void, Never>?
        var loops: [Task<Void, Never>] = []
    }
    private let running = Mutex(Running())
    private let reconnects: Counter
    /// How long the listener's own heartbeat took to come back: how late
    /// notifications reach this process.
    private let lag: Timer
    /// Whether the listening connection is up (1) or reconnecting (0).
    private let listeningGauge: Gauge
    /// Times subscribers were told to reload because events may have been lost.
    private let missed: Counter

    private init(settings: PostgresSettings, options: Options, logger: Logger) throws {
        self.settings = settings
        self.options = options
        self.logger = logger
        self.client = PostgresClient(
            configuration: try settings.clientConfiguration(maximumConnections: options.writeConnections),
            backgroundLogger: logger)
        let (stream, continuation) = AsyncStream.makeStream(of: Command.self)
        self.commands = continuation
        self.commandStream = stream
        self.reconnects = Counter(label: "slipway_event_bus_reconnects_total")
        self.lag = Timer(label: "slipway_event_bus_lag_seconds")
        self.listeningGauge = Gauge(label: "slipway_event_bus_listening")
        self.missed = Counter(label: "slipway_event_bus_missed_total")
    }

    /// Starts the pool, the writer and the flush ticker.
    private func launch() {
        let client = client
        let writer = Writer(settings: settings, options: options, client: client, logger: logger)
        let stream = commandStream
        let continuation = commands
        let flushEvery = options.logFlushInterval
        running.withLock {
            $0.pool = Task { await client.run() }
            let wake: @Sendable (BuildID) -> Void = { [weak self] buildID in self?.wakeLog(buildID) }
            $0.writer = Task { await writer.run(stream, wake: wake) }
            $0.loops.append(
                Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: flushEvery)
                        continuation.yield(.flush)
                    }
                })
            let pruneEvery = options.pruneInterval
            $0.loops.append(
                Task { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: pruneEvery)
                        guard let self, !Task.isCancelled else { return }
                        do {
                            _ = try await self.prune()
                        } catch {
                            self.logger.warning(
                                "could not delete old events and log lines",
                                metadata: ["error": "\(String(describing: error).prefix(300))"])
                        }
                    }
                })
        }
    }

    /// Deletes events older than ``Options/eventRetention`` and live log
    /// lines older than ``Options/logRetention``, unless another process of
    /// the fleet is doing it right now.
    /// - Parameter now: milliseconds since 1970; the database's clock when nil.
    /// - Returns: the events and log rows deleted; nil when another process held the prune.
    @discardableResult
    public func prune(now: Int64? = nil) async throws -> (events: Int, logRows: Int)? {
        let eventAge = options.eventRetention.components.seconds * 1000
        let logAge = options.logRetention.components.seconds * 1000
        let logger = logger
        return try await client.withTransaction(logger: logger) { connection in
            let locked = try await connection.query(
                "SELECT pg_try_advisory_xact_lock(hashtext('slipway.prune.' || current_schema()))", logger: logger)
            var held = false
            for try await value in locked.decode(Bool.self) { held = value }
            guard held else { return nil }
            var current = now ?? 0
            if now == nil {
                let rows = try await connection.query(
                    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint", logger: logger)
                for try await value in rows.decode(Int64.self) { current = value }
            }
            func deleted(_ query: PostgresQuery) async throws -> Int {
                let rows = try await connection.query(query, logger: logger)
                var count = 0
                for try await _ in rows { count += 1 }
                return count
            }
            let events = try await deleted(
                "DELETE FROM catalog_event WHERE at < \(current - eventAge) RETURNING seq")
            var logRows = try await deleted(
                "DELETE FROM build_log_chunk WHERE at < \(current - logAge) RETURNING seq")
            logRows += try await deleted(
                "DELETE FROM build_log_end WHERE at < \(current - logAge) RETURNING at")
            return (events, logRows)
        }
    }

    /// Starts a bus; it returns once the bus listens, so that a subscription
    /// made next receives every event committed from then on.
    /// - Throws: when the database cannot be reached at all.
    public static func start(
        settings: PostgresSettings, options: Options = Options(), logger: Logger
    ) async throws -> PostgresEventBus {
        let bus = try PostgresEventBus(settings: settings, options: options, logger: logger)
        bus.launch()
        let ready = AsyncStream.makeStream(of: Result<Void, any Error>.self)
        bus.running.withLock {
            $0.loops.append(Task { [weak bus] in await bus?.listenLoop(ready: ready.continuation) })
        }
        for await result in ready.stream {
            if case .failure(let error) = result {
                await bus.shutdown()
                throw error
            }
            break
        }
        return bus
    }

    /// Stops listening and writing; lines not yet written are written first.
    public func shutdown() async {
        commands.yield(.flush)
        commands.finish()
        let stopping = running.withLock { running in
            defer { running = Running() }
            return running
        }
        for loop in stopping.loops { loop.cancel() }
        // The writer drains what is queued through the pool, which stops last.
        await stopping.writer?.value
        stopping.pool?.cancel()
        for loop in stopping.loops { await loop.value }
        await stopping.pool?.value
        let subscribers = state.withLock { state in
            defer { state.subscribers = [:] }
            return state.subscribers.values.map(\.queue)
        }
        for queue in subscribers { queue.finish() }
    }

    /// Whether the bus listens right now (for readiness checks).
    public var isListening: Bool { state.withLock { $0.listening } }

    // MARK: Events

    public func publish(_ event: CatalogEvent) {
        let number = state.withLock { state in
            state.published += 1
            return state.published
        }
        commands.yield(.publish(event, origin: "\(instance):\(number)"))
    }

    public func subscribe() -> BusSubscription<CatalogEvent> {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        let queue = SubscriberQueue<CatalogEvent>(capacity: options.subscriberBuffer) { [weak self] in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        state.withLock { $0.subscribers[id] = Subscriber(queue: queue, ownPublicationsBefore: $0.published) }
        return BusSubscription(next: { await queue.next() }, onTermination: { queue.terminate() })
    }

    /// Hands `event` to every subscriber, except this bus's own publications
    /// to the subscribers that came after them.
    private func deliver(_ event: CatalogEvent, origin: Substring?) {
        var ownNumber: UInt64?
        if let origin, let colon = origin.firstIndex(of: ":"), origin[..<colon] == instance {
            ownNumber = UInt64(origin[origin.index(after: colon)...])
        }
        state.withLock { state in
            for (id, subscriber) in state.subscribers {
                if let ownNumber, ownNumber <= subscriber.ownPublicationsBefore { continue }
                if !subscriber.queue.offer(event) { state.subscribers[id] = nil }
            }
        }
    }

    private func deliverMissed() {
        missed.increment()
        let queues = state.withLock { $0.subscribers.values.map(\.queue) }
        for queue in queues { queue.offerMissed(1) }
    }

    // MARK: Listening

    private func listenLoop(ready: AsyncStream<Result<Void, any Error>>.Continuation) async {
        var delay = options.reconnectDelay.first
        var connectionID = 0
        while !Task.isCancelled {
            connectionID += 1
            var connected = false
            do {
                // postgres-nio gives up connecting after its own connect timeout (10 s).
                let connection = try await PostgresConnection.connect(
                    configuration: try settings.connectionConfiguration(), id: connectionID, logger: logger)
                connected = true
                do {
                    try await listen(on: connection, ready: ready)
                } catch {
                    // Closed before it goes: PostgresNIO insists.
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if !state.withLock({ $0.connectedOnce }) {
                    // The first connection: the caller learns why.
                    ready.yield(.failure(error))
                    ready.finish()
                    return
                }
                if Task.isCancelled { break }
                logger.warning(
                    "the event listener lost its connection; reconnecting",
                    metadata: ["error": "\(String(describing: error).prefix(300))", "retryIn": "\(delay)"])
            }
            state.withLock { $0.listening = false }
            listeningGauge.record(0)
            if Task.isCancelled { break }
            reconnects.increment()
            let jitter = Double.random(in: 0.8...1.2)
            try? await Task.sleep(for: delay * jitter)
            delay = min(delay * 2, options.reconnectDelay.longest)
            if connected { delay = options.reconnectDelay.first }
        }
        state.withLock { $0.listening = false }
    }

    /// Listens on the events, logs and heartbeat channels until the
    /// connection fails or the heartbeat goes unanswered; then closes it.
    private func listen(
        on connection: PostgresConnection, ready: AsyncStream<Result<Void, any Error>>.Continuation
    ) async throws {
        let heartbeatChannel = "slipway_heartbeat_\(instance)"
        let listeners = Mutex(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            let started = AsyncStream.makeStream(of: Void.self)
            group.addTask {
                do {
                    try await connection.listen(on: self.settings.eventsChannel) { notifications in
                        started.continuation.yield()
                        for try await notification in notifications {
                            try await self.received(event: notification.payload, on: connection)
                        }
                    }
                    throw ListenerEnded()
                } catch {
                    started.continuation.finish()
                    throw error
                }
            }
            group.addTask {
                do {
                    try await connection.listen(on: self.settings.logsChannel) { notifications in
                        started.continuation.yield()
                        for try await notification in notifications {
                            self.wakeLog(BuildID(unchecked: notification.payload))
                        }
                    }
                    throw ListenerEnded()
                } catch {
                    started.continuation.finish()
                    throw error
                }
            }
            group.addTask {
                do {
                    try await connection.listen(on: heartbeatChannel) { notifications in
                        started.continuation.yield()
                        for try await notification in notifications {
                            self.heardHeartbeat(UInt64(notification.payload) ?? 0)
                        }
                    }
                    throw ListenerEnded()
                } catch {
                    started.continuation.finish()
                    throw error
                }
            }
            // LISTEN must be confirmed in time: a request lost on a dying
            // connection would otherwise wait forever.
            let deadline = Task { [continuation = started.continuation, limit = options.heartbeatTimeout * 2] in
                try? await Task.sleep(for: limit)
                continuation.finish()
            }
            for await _ in started.stream {
                let count = listeners.withLock { count in
                    count += 1
                    return count
                }
                if count == 3 { break }
            }
            deadline.cancel()
            guard listeners.withLock({ $0 }) == 3 else {
                group.cancelAll()
                throw ListenerEnded()
            }
            let reconnected = state.withLock { state in
                defer {
                    state.listening = true
                    state.connectedOnce = true
                }
                return state.connectedOnce
            }
            listeningGauge.record(1)
            if reconnected {
                logger.info("the event listener is listening again; subscribers reload")
                deliverMissed()
                wakeAllLogs()
            } else {
                ready.yield(.success(()))
                ready.finish()
            }
            group.addTask { try await self.heartbeat(on: connection, channel: heartbeatChannel) }
            // The first to end (a failed connection, a missed heartbeat) ends the rest.
            try await group.next()
            group.cancelAll()
        }
    }

    private struct ListenerEnded: Error, CustomStringConvertible {
        var description: String { "the connection stopped delivering notifications" }
    }

    private struct HeartbeatMissed: Error, CustomStringConvertible {
        let after: Duration
        var description: String { "no heartbeat came back within \(after)" }
    }

    private func received(event payload: String, on connection: PostgresConnection) async throws {
        guard let (seq, origin, inline) = EventOutbox.parse(payload: payload) else {
            logger.warning(
                "an unreadable event notification was ignored", metadata: ["payload": "\(payload.prefix(40))"])
            return
        }
        if let inline {
            deliver(inline, origin: origin)
            return
        }
        // Read on the listening connection itself: the next notification
        // waits for this one, which keeps the order.
        let rows = try await connection.query("SELECT payload FROM catalog_event WHERE seq = \(seq)", logger: logger)
        var stored: String?
        for try await json in rows.decode(String.self) { stored = json }
        let opening = options.keyring.map(SealedFields.init)
        if let stored, let event = (try? StoredEvent.decode(stored))?.event(opening: opening) {
            deliver(event, origin: origin)
        } else {
            // Pruned before it was read, or of a kind this version does not know.
            deliverMissed()
        }
    }

    /// Sends itself a notification every ``Options/heartbeatInterval`` and
    /// throws when one does not come back within ``Options/heartbeatTimeout``,
    /// counted from before it is sent: a connection the server closed can
    /// leave the sending query itself unanswered.
    private func heartbeat(on connection: PostgresConnection, channel: String) async throws {
        while true {
            try await Task.sleep(for: options.heartbeatInterval)
            let number = state.withLock { state in
                state.heartbeat.number += 1
                return state.heartbeat.number
            }
            let sent = ContinuousClock.now
            // A race without a task group: a group would wait for a query
            // that may never be answered.
            let outcome = FirstOutcome()
            let roundTrip = Task { [logger] in
                do {
                    try await connection.query("SELECT pg_notify(\(channel), \(String(number)))", logger: logger)
                    await self.waitForHeartbeat(number)
                    outcome.finish(.success(!Task.isCancelled))
                } catch {
                    outcome.finish(.failure(error))
                }
            }
            let timer = Task { [timeout = options.heartbeatTimeout] in
                try? await Task.sleep(for: timeout)
                outcome.finish(.success(false))
            }
            let heard = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { outcome.install($0) }
            } onCancel: {
                outcome.finish(.failure(CancellationError()))
            }
            // The loser stops: a waiting heartbeat is let go, a pending query cancelled.
            roundTrip.cancel()
            timer.cancel()
            try Task.checkCancellation()
            guard heard else { throw HeartbeatMissed(after: options.heartbeatTimeout) }
            let (seconds, attoseconds) = (ContinuousClock.now - sent).components
            lag.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
    }

    private func heardHeartbeat(_ number: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.heardHeartbeat = max(state.heardHeartbeat, number)
            guard number >= state.heartbeat.number else { return nil }
            defer { state.heartbeat.heard = nil }
            return state.heartbeat.heard
        }
        waiter?.resume()
    }

    private func waitForHeartbeat(_ number: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.heardHeartbeat >= number || Task.isCancelled { return true }
                    state.heartbeat.heard = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.heartbeat.heard = nil }
                return state.heartbeat.heard
            }
            waiter?.resume()
        }
    }

    // MARK: Logs

    public func appendLog(_ line: LogLine, buildID: BuildID) {
        commands.yield(.line(LogBuffer.cut(line, toBytes: options.logLineBytes), buildID))
    }

    public func closeLog(buildID: BuildID) {
        commands.yield(.close(buildID))
    }

    public func subscribeLog(buildID: BuildID) -> BusSubscription<LogLine> {
        let follower = LogFollower(bus: self, buildID: buildID)
        return BusSubscription(next: { await follower.next() }, onTermination: {})
    }

    /// The build's log generation, which every wake-up moves on; read it
    /// before looking for lines, then wait for a later one.
    private func logGeneration(_ buildID: BuildID) -> UInt64 {
        state.withLock { state in
            if let waiters = state.logWaiters[buildID] { return waiters.generation }
            // Forget builds nobody waits on before the table grows large.
            if state.logWaiters.count >= 1024 {
                state.logWaiters = state.logWaiters.filter { !$0.value.waiting.isEmpty }
            }
            state.logWaiters[buildID] = LogWaiters()
            return 0
        }
    }

    /// Something happened to the build's log: new lines, or its end.
    private func wakeLog(_ buildID: BuildID) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard var waiters = state.logWaiters[buildID] else { return [] }
            waiters.generation += 1
            let waiting = Array(waiters.waiting.values)
            waiters.waiting = [:]
            state.logWaiters[buildID] = waiters
            return waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    private func wakeAllLogs() {
        let builds = state.withLock { Array($0.logWaiters.keys) }
        for build in builds { wakeLog(build) }
    }

    /// Waits until the build's log changes after `generation`, `timeout`
    /// passes, or the task is cancelled.
    private func waitForLog(_ buildID: BuildID, after generation: UInt64, timeout: Duration) async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let now = self.state.withLock { state -> Bool in
                            var waiters = state.logWaiters[buildID] ?? LogWaiters()
                            if waiters.generation > generation || Task.isCancelled { return true }
                            waiters.waiting[id] = continuation
                            state.logWaiters[buildID] = waiters
                            return false
                        }
                        if now { continuation.resume() }
                    }
                } onCancel: {
                    let waiter = self.state.withLock { $0.logWaiters[buildID]?.waiting.removeValue(forKey: id) }
                    waiter?.resume()
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Reads one build's log rows in order for one subscription.
    private final class LogFollower: Sendable {
        private struct Progress {
            var buffered: [Delivery<LogLine>] = []
            var lastSeq: Int64?
            var ended = false
        }

        private let bus: PostgresEventBus
        private let buildID: BuildID
        private let progress = Mutex(Progress())

        init(bus: PostgresEventBus, buildID: BuildID) {
            self.bus = bus
            self.buildID = buildID
        }

        func next() async -> Delivery<LogLine>? {
            while true {
                let (element, ended) = progress.withLock { progress -> (Delivery<LogLine>?, Bool) in
                    progress.buffered.isEmpty ? (nil, progress.ended) : (progress.buffered.removeFirst(), false)
                }
                if let element { return element }
                if ended || Task.isCancelled { return nil }
                let generation = bus.logGeneration(buildID)
                do {
                    if try await read() { continue }
                } catch {
                    if Task.isCancelled { return nil }
                    bus.logger.warning(
                        "could not read a build's log; trying again",
                        metadata: ["build": "\(buildID)", "error": "\(String(describing: error).prefix(300))"])
                }
                await bus.waitForLog(buildID, after: generation, timeout: bus.options.logPollInterval)
            }
        }

        /// Reads what is new; true when it found lines or the end.
        private func read() async throws -> Bool {
            let id = buildID.rawValue
            let logger = bus.logger
            return try await bus.client.withConnection { connection in
                // The end first: once it is there, every row before it is too.
                let endRows = try await connection.query(
                    "SELECT 1 FROM build_log_end WHERE build_id = \(id)", logger: logger)
                var ended = false
                for try await _ in endRows.decode(Int.self) { ended = true }
                let lastSeq = self.progress.withLock { $0.lastSeq }
                var deliveries: [Delivery<LogLine>] = []
                var newest: Int64?
                if let lastSeq {
                    let rows = try await connection.query(
                        """
                        SELECT seq, lines FROM build_log_chunk WHERE build_id = \(id) AND seq > \(lastSeq)
                        ORDER BY seq LIMIT \(max(1, self.bus.options.logReadAhead / 64))
                        """, logger: logger)
                    for try await (seq, json) in rows.decode((Int64, String).self) {
                        deliveries += try LogChunk.decode(json).map { .value($0) }
                        newest = seq
                    }
                    if newest != nil { ended = false } // more may follow; look again
                } else {
                    (deliveries, newest) = try await self.replay(on: connection)
                    if newest == nil { newest = 0 }
                }
                let found = !deliveries.isEmpty || ended
                self.progress.withLock { progress in
                    progress.buffered += deliveries
                    if let newest { progress.lastSeq = newest }
                    if ended { progress.ended = true }
                }
                return found
            }
        }

        /// The log so far, within the replay bounds: its newest lines, after
        /// a `missed` marker counting the older ones.
        private func replay(on connection: PostgresConnection) async throws -> ([Delivery<LogLine>], Int64?) {
            let id = buildID.rawValue
            let options = bus.options
            let sizes = try await connection.query(
                "SELECT seq, line_count, bytes FROM build_log_chunk WHERE build_id = \(id) ORDER BY seq DESC",
                logger: bus.logger)
            var lines = 0
            var bytes = 0
            var first: Int64?
            var newest: Int64?
            var older = 0
            for try await (seq, count, size) in sizes.decode((Int64, Int, Int).self) {
                if newest == nil { newest = seq }
                if first == nil || (lines < options.replayLines && bytes < options.replayBytes) {
                    first = seq
                    lines += count
                    bytes += size
                } else {
                    older += count
                }
            }
            guard let first, let newest else { return ([], nil) }
            let rows = try await connection.query(
                """
                SELECT lines FROM build_log_chunk WHERE build_id = \(id) AND seq >= \(first) AND seq <= \(newest)
                ORDER BY seq
                """, logger: bus.logger)
            var kept: [LogLine] = []
            for try await json in rows.decode(String.self) { kept += try LogChunk.decode(json) }
            var keptBytes = kept.reduce(0) { $0 + $1.text.utf8.count }
            var dropFront = 0
            while kept.count - dropFront > options.replayLines || keptBytes > options.replayBytes {
                keptBytes -= kept[dropFront].text.utf8.count
                dropFront += 1
            }
            let missed = older + dropFront
            var deliveries: [Delivery<LogLine>] = missed > 0 ? [.missed(missed)] : []
            deliveries += kept[dropFront...].map { .value($0) }
            return (deliveries, newest)
        }
    }
}

/// Log lines as stored in one `build_log_chunk` row: a JSON array.
enum LogChunk {
    static func encode(_ lines: [LogLine]) throws -> String {
        String(decoding: try OutboxJSON.encoder.encode(lines), as: UTF8.self)
    }

    static func decode(_ json: String) throws -> [LogLine] {
        try OutboxJSON.decoder.decode([LogLine].self, from: Data(json.utf8))
    }
}

/// Writes what a bus publishes and the lines it is given, in the order given,
/// in as few transactions as that order allows.
private struct Writer: Sendable {
    let settings: PostgresSettings
    let options: PostgresEventBus.Options
    let client: PostgresClient
    let logger: Logger

    private struct Pending {
        var lines: [LogLine] = []
        var bytes = 0
    }

    func run(_ commands: AsyncStream<PostgresEventBus.Command>, wake: @escaping @Sendable (BuildID) -> Void) async {
        var pending: [BuildID: Pending] = [:]
        var order: [BuildID] = []
        var closed = Set<BuildID>()
        var closedOrder: [BuildID] = []
        for await command in commands {
            switch command {
            case .publish(let event, let origin):
                // Lines given before the event are written before it.
                await flush(&pending, &order, ending: [], wake: wake)
                await write("publish an event") { connection, now in
                    try await EventOutbox.record(
                        event, on: connection, channel: settings.eventsChannel, now: now, logger: logger,
                        origin: origin, sealed: options.keyring.map(SealedFields.init))
                }
            case .line(let line, let buildID):
                guard !closed.contains(buildID) else { continue }
                if pending[buildID] == nil { order.append(buildID) }
                pending[buildID, default: Pending()].lines.append(line)
                pending[buildID, default: Pending()].bytes += line.text.utf8.count
                if pending[buildID, default: Pending()].bytes >= options.logFlushBytes {
                    await flush(&pending, &order, ending: [], wake: wake)
                }
            case .close(let buildID):
                guard closed.insert(buildID).inserted else { continue }
                closedOrder.append(buildID)
                if closedOrder.count > 4096 { closed.remove(closedOrder.removeFirst()) }
                if pending[buildID] == nil { order.append(buildID) }
                await flush(&pending, &order, ending: [buildID], wake: wake)
            case .flush:
                await flush(&pending, &order, ending: [], wake: wake)
            }
        }
        await flush(&pending, &order, ending: [], wake: wake)
    }

    /// Writes every build's buffered lines (and the end of `ending`) in one
    /// transaction, with one notification per build.
    private func flush(
        _ pending: inout [BuildID: Pending], _ order: inout [BuildID], ending: Set<BuildID>,
        wake: @Sendable (BuildID) -> Void
    ) async {
        guard !order.isEmpty else { return }
        let batch = order.map { ($0, pending[$0] ?? Pending()) }
        pending = [:]
        order = []
        let written = await write("write build log lines") { connection, now in
            for (buildID, lines) in batch {
                let id = buildID.rawValue
                if !lines.lines.isEmpty {
                    let json = try LogChunk.encode(lines.lines)
                    try await connection.query(
                        """
                        INSERT INTO build_log_chunk (build_id, at, line_count, bytes, lines)
                        VALUES (\(id), \(now), \(lines.lines.count), \(lines.bytes), \(json))
                        """, logger: logger)
                }
                if ending.contains(buildID) {
                    try await connection.query(
                        "INSERT INTO build_log_end (build_id, at) VALUES (\(id), \(now)) ON CONFLICT DO NOTHING",
                        logger: logger)
                }
                try await connection.query("SELECT pg_notify(\(settings.logsChannel), \(id))", logger: logger)
            }
        }
        if written {
            for (buildID, _) in batch { wake(buildID) }
        }
    }

    /// Runs `body` in a transaction, trying three times; false when it never
    /// went through (what it carried is then lost, and logged).
    @discardableResult
    private func write(
        _ what: String, _ body: @escaping @Sendable (PostgresConnection, Int64) async throws -> Void
    ) async -> Bool {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await client.withTransaction(logger: logger) { connection in
                    let rows = try await connection.query(
                        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint", logger: logger)
                    var now: Int64 = 0
                    for try await value in rows.decode(Int64.self) { now = value }
                    try await body(connection, now)
                }
                return true
            } catch {
                if attempt >= 3 || Task.isCancelled {
                    logger.error(
                        "the event bus could not \(what); it is lost",
                        metadata: ["error": "\(String(describing: error).prefix(300))"])
                    return false
                }
                try? await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
    }
}
