public import Model
import Synchronization

/// The event bus of a single Slipway process: fan-out to in-memory queues.
///
/// Publishing takes one lock, appends to each subscriber's bounded queue and
/// returns; it never waits for a subscriber. Every subscriber sees events in
/// the same order. Live logs keep their recent lines in a ``LogBuffer`` per
/// build, so a late subscriber can replay them; a closed log stays
/// replayable until ``Limits/retainedClosedLogs`` newer logs have closed.
public final class InProcessEventBus: EventBus {
    /// Memory bounds of the bus.
    public struct Limits: Sendable, Hashable {
        /// Events an event subscriber may fall behind before it misses some.
        public var subscriberBuffer: Int
        /// New log lines a log subscriber may fall behind (on top of its replay).
        public var logSubscriberBuffer: Int
        /// Lines kept per build log for replay.
        public var logLines: Int
        /// Bytes of text kept per build log for replay.
        public var logBytes: Int
        /// Longest log line kept whole.
        public var logLineBytes: Int
        /// Closed logs kept for replay, most recently closed first.
        public var retainedClosedLogs: Int

        public init(
            subscriberBuffer: Int = 1024,
            logSubscriberBuffer: Int = 4096,
            logLines: Int = 10_000,
            logBytes: Int = 2 << 20,
            logLineBytes: Int = 16 << 10,
            retainedClosedLogs: Int = 32
        ) {
            self.subscriberBuffer = subscriberBuffer
            self.logSubscriberBuffer = logSubscriberBuffer
            self.logLines = logLines
            self.logBytes = logBytes
            self.logLineBytes = logLineBytes
            self.retainedClosedLogs = retainedClosedLogs
        }
    }

    /// One build's live log. A class on purpose: the bus changes it where it
    /// lies in `State.logs`. Were it a value, taking it out of the dictionary
    /// to append a line would leave two references to the buffer's storage,
    /// and the append would copy every kept line (10,000 of them) — per line.
    private final class LogChannel {
        var buffer: LogBuffer
        var subscribers: [UInt64: SubscriberQueue<LogLine>] = [:]
        var closed = false

        init(buffer: LogBuffer) { self.buffer = buffer }
    }

    private struct State {
        var nextID: UInt64 = 0
        var subscribers: [UInt64: SubscriberQueue<CatalogEvent>] = [:]
        var logs: [BuildID: LogChannel] = [:]
        /// Closed logs, oldest close first.
        var closedLogs = RingBuffer<BuildID>()
    }

    public let limits: Limits
    private let state = Mutex(State())

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    // MARK: Events

    public func publish(_ event: CatalogEvent) {
        state.withLock { state in
            // Offering inside the bus lock gives every subscriber the same
            // order; an offer only appends or hands over, it never waits.
            for (id, queue) in state.subscribers where !queue.offer(event) {
                state.subscribers[id] = nil
            }
        }
    }

    public func subscribe() -> BusSubscription<CatalogEvent> {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        let queue = SubscriberQueue<CatalogEvent>(capacity: limits.subscriberBuffer) { [weak self] in
            self?.removeSubscriber(id)
        }
        state.withLock { $0.subscribers[id] = queue }
        return BusSubscription(next: { await queue.next() }, onTermination: { queue.terminate() })
    }

    /// How many event subscriptions are live.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    private func removeSubscriber(_ id: UInt64) {
        state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
    }

    // MARK: Logs

    /// O(1) in the length of the log, under the lock: the line (already cut
    /// to ``Limits/logLineBytes`` outside it) goes into the build's buffer in
    /// place, then to each follower's queue.
    public func appendLog(_ line: LogLine, buildID: BuildID) {
        let cut = LogBuffer.cut(line, toBytes: limits.logLineBytes)
        state.withLock { state in
            let channel = channel(buildID, in: &state)
            guard !channel.closed else { return }
            let kept = channel.buffer.append(cut)
            for (id, queue) in channel.subscribers where !queue.offer(kept) {
                channel.subscribers[id] = nil
            }
        }
    }

    public func closeLog(buildID: BuildID) {
        state.withLock { state in
            let channel = channel(buildID, in: &state)
            guard !channel.closed else { return }
            channel.closed = true
            for queue in channel.subscribers.values { queue.finish() }
            channel.subscribers = [:]
            state.closedLogs.append(buildID)
            while state.closedLogs.count > max(0, limits.retainedClosedLogs), let oldest = state.closedLogs.popFirst() {
                state.logs[oldest] = nil
            }
        }
    }

    public func subscribeLog(buildID: BuildID) -> BusSubscription<LogLine> {
        let queue: SubscriberQueue<LogLine> = state.withLock { state in
            state.nextID += 1
            let id = state.nextID
            let channel = channel(buildID, in: &state)
            let queue = SubscriberQueue<LogLine>(capacity: limits.logSubscriberBuffer, initial: channel.buffer.replay())
            {
                [weak self] in
                self?.removeLogSubscriber(id, buildID: buildID)
            }
            if channel.closed {
                queue.finish()
            } else {
                channel.subscribers[id] = queue
            }
            return queue
        }
        return BusSubscription(next: { await queue.next() }, onTermination: { queue.terminate() })
    }

    /// How many live log subscriptions the build has.
    public func logSubscriberCount(buildID: BuildID) -> Int {
        state.withLock { $0.logs[buildID]?.subscribers.count ?? 0 }
    }

    /// How the storage of the build's kept lines fared: how many times it
    /// was copied, and its identity now (see ``LogBuffer/storageCopies``).
    func logStorage(buildID: BuildID) -> (copies: Int, identity: ObjectIdentifier)? {
        state.withLock { state in
            state.logs[buildID].map { ($0.buffer.storageCopies, $0.buffer.storageIdentity) }
        }
    }

    /// Whether the bus holds anything for the build's log.
    public func holdsLog(buildID: BuildID) -> Bool {
        state.withLock { $0.logs[buildID] != nil }
    }

    private func removeLogSubscriber(_ id: UInt64, buildID: BuildID) {
        state.withLock { state in
            guard let channel = state.logs[buildID] else { return }
            channel.subscribers[id] = nil
            // A subscription to a log that never got a line (a wrong id, a
            // build that has not started) leaves nothing behind.
            if !channel.closed && channel.subscribers.isEmpty && channel.buffer.count == 0
                && channel.buffer.droppedCount == 0
            {
                state.logs[buildID] = nil
            }
        }
    }

    /// The build's channel, made (and kept) when it has none yet.
    private func channel(_ buildID: BuildID, in state: inout State) -> LogChannel {
        if let channel = state.logs[buildID] { return channel }
        let channel = LogChannel(
            buffer: LogBuffer(maxLines: limits.logLines, maxBytes: limits.logBytes, maxLineBytes: limits.logLineBytes))
        state.logs[buildID] = channel
        return channel
    }
}
