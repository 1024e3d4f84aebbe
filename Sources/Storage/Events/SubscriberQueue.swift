import Synchronization

/// The bounded queue between a publisher and one subscriber.
///
/// `offer` never waits: when `capacity` values are already waiting, the new
/// value is dropped and counted, and the count reaches the subscriber as one
/// ``Delivery/missed(_:)`` element at the place where the values went missing.
/// Missed markers do not take capacity; consecutive drops merge into one
/// marker, so the queue never holds more than `capacity` values plus markers
/// between them.
package final class SubscriberQueue<Value: Sendable>: Sendable {
    private struct State {
        var entries = RingBuffer<Delivery<Value>>()
        var bufferedValues = 0
        var waiter: CheckedContinuation<Delivery<Value>?, Never>?
        /// No more values will come; deliver what is buffered, then end.
        var finished = false
        /// The consumer is gone; end at once.
        var terminated = false
    }

    private let capacity: Int
    private let state: Mutex<State>
    private let onTerminate: @Sendable () -> Void

    /// - Parameters:
    ///   - initial: delivered first (a log replay); counts against `capacity`,
    ///     which grows to hold it.
    ///   - onTerminate: called once when the consumer goes away.
    package init(capacity: Int, initial: [Delivery<Value>] = [], onTerminate: @escaping @Sendable () -> Void) {
        var state = State()
        for entry in initial {
            state.entries.append(entry)
            if case .value = entry { state.bufferedValues += 1 }
        }
        self.capacity = max(1, capacity) + state.bufferedValues
        self.state = Mutex(state)
        self.onTerminate = onTerminate
    }

    /// Queues `value` or counts it as missed. Returns false when the consumer
    /// has gone, so the publisher can forget this queue.
    @discardableResult
    package func offer(_ value: Value) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Delivery<Value>?, Never>?) in
            if state.terminated || state.finished { return (false, nil) }
            if let waiter = state.waiter {
                // A waiting consumer has an empty queue: hand the value over.
                state.waiter = nil
                return (true, waiter)
            }
            if state.bufferedValues < capacity {
                state.entries.append(.value(value))
                state.bufferedValues += 1
            } else if case .missed(let count) = state.entries.last {
                state.entries.replaceLast(with: .missed(count + 1))
            } else {
                state.entries.append(.missed(1))
            }
            return (true, nil)
        }
        waiter?.resume(returning: .value(value))
        return accepted
    }

    /// Tells the consumer that `count` values went missing here (a bus that
    /// lost its connection cannot say which): merged into a marker already
    /// last in the queue, handed straight to a waiting consumer.
    package func offerMissed(_ count: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Delivery<Value>?, Never>? in
            if state.terminated || state.finished { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            if case .missed(let earlier) = state.entries.last {
                state.entries.replaceLast(with: .missed(earlier + count))
            } else {
                state.entries.append(.missed(count))
            }
            return nil
        }
        waiter?.resume(returning: .missed(count))
    }

    /// Ends the queue after what it holds has been delivered.
    package func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Delivery<Value>?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Ends the queue at once and tells the publisher (the consumer went away).
    package func terminate() {
        let (first, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Delivery<Value>?, Never>?) in
            let first = !state.terminated
            state.terminated = true
            state.entries.removeAll()
            state.bufferedValues = 0
            defer { state.waiter = nil }
            return (first, state.waiter)
        }
        waiter?.resume(returning: nil)
        if first { onTerminate() }
    }

    /// The next element, waiting for one; nil once finished and drained,
    /// terminated, or when the calling task is cancelled.
    package func next() async -> Delivery<Value>? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Delivery<Value>?, Never>) in
                let immediate: Delivery<Value>?? = state.withLock { state in
                    if state.terminated { return .some(nil) }
                    if let entry = state.entries.popFirst() {
                        if case .value = entry { state.bufferedValues -= 1 }
                        return .some(entry)
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    precondition(state.waiter == nil, "a bus subscription is being iterated from two tasks at once")
                    state.waiter = continuation
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            terminate()
        }
    }

    /// How many values wait to be delivered.
    package var bufferedCount: Int { state.withLock { $0.bufferedValues } }
}
