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

    private struct LogChannel {
        var buffer: LogBuffer
        var subscribers: [UInt64: SubscriberQueue<LogLine>] = [:]
        var closed = false
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

    public func appendLog(_ line: LogLine, buildID: BuildID) {
        state.withLock { state in
            var channel = state.logs[buildID] ?? LogChannel(buffer: makeLogBuffer())
            guard !channel.closed else { return }
            let kept = channel.buffer.append(line)
            for (id, queue) in channel.subscribers where !queue.offer(kept) {
                channel.subscribers[id] = nil
            }
            state.logs[buildID] = channel
        }
    }

    public func closeLog(buildID: BuildID) {
        state.withLock { state in
            var channel = state.logs[buildID] ?? LogChannel(buffer: makeLogBuffer())
            guard !channel.closed else { return }
            channel.closed = true
            for queue in channel.subscribers.values { queue.finish() }
            channel.subscribers = [:]
            state.logs[buildID] = channel
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
            var channel = state.logs[buildID] ?? LogChannel(buffer: makeLogBuffer())
            let queue = SubscriberQueue<LogLine>(capacity: limits.logSubscriberBuffer, initial: channel.buffer.replay())
            {
                [weak self] in
                self?.removeLogSubscriber(id, buildID: buildID)
            }
            if channel.closed {
                queue.finish()
            } else {
                channel.subscribers[id] = queue
                state.logs[buildID] = channel
            }
            return queue
        }
        return BusSubscription(next: { await queue.next() }, onTermination: { queue.terminate() })
    }

    /// How many live log subscriptions the build has.
    public func logSubscriberCount(buildID: BuildID) -> Int {
        state.withLock { $0.logs[buildID]?.subscribers.count ?? 0 }
    }

    /// Whether the bus holds anything for the build's log.
    public func holdsLog(buildID: BuildID) -> Bool {
        state.withLock { $0.logs[buildID] != nil }
    }

    private func removeLogSubscriber(_ id: UInt64, buildID: BuildID) {
        state.withLock { state in
            guard var channel = state.logs[buildID] else { return }
            channel.subscribers[id] = nil
            // A subscription to a log that never got a line (a wrong id, a
            // build that has not started) leaves nothing behind.
            if !channel.closed && channel.subscribers.isEmpty && channel.buffer.count == 0
                && channel.buffer.droppedCount == 0
            {
                state.logs[buildID] = nil
            } else {
                state.logs[buildID] = channel
            }
        }
    }

    private func makeLogBuffer() -> LogBuffer {
        LogBuffer(maxLines: limits.logLines, maxBytes: limits.logBytes, maxLineBytes: limits.logLineBytes)
    }
}
