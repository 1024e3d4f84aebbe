import Synchronization

/// A bounded queue from several producer tasks to one consumer, with
/// backpressure: ``send(_:)`` waits while the queue is full, so a slow
/// client slows the log replay instead of growing memory.
///
/// ``close()`` ends it: waiting senders return false, the consumer gets
/// nil once the queue is drained.
final class LogEventChannel<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var head = 0
        var receiver: CheckedContinuation<Element?, Never>?
        var senders: [CheckedContinuation<Void, Never>] = []
        var closed = false

        var count: Int { buffer.count - head }

        mutating func popFirst() -> Element? {
            guard head < buffer.count else { return nil }
            let element = buffer[head]
            head += 1
            if head > 64 && head * 2 > buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return element
        }
    }

    private enum SendStep {
        case delivered(CheckedContinuation<Element?, Never>?)
        case closed
        case full
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Queues `element`, waiting while the queue is full. Returns false when
    /// the channel was closed (the element is dropped).
    @discardableResult
    func send(_ element: Element) async -> Bool {
        while true {
            let step: SendStep = state.withLock { state in
                if state.closed { return .closed }
                if let receiver = state.receiver {
                    state.receiver = nil
                    return .delivered(receiver)
                }
                guard state.count < capacity else { return .full }
                state.buffer.append(element)
                return .delivered(nil)
            }
            switch step {
            case .closed:
                return false
            case .delivered(let receiver):
                receiver?.resume(returning: element)
                return true
            case .full:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state in
                        if state.closed || state.count < capacity { return true }
                        state.senders.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// Queues `element` unless the queue is full or closed; never waits.
    @discardableResult
    func trySend(_ element: Element) -> Bool {
        let (accepted, receiver): (Bool, CheckedContinuation<Element?, Never>?) = state.withLock { state in
            if state.closed { return (false, nil) }
            if let receiver = state.receiver {
                state.receiver = nil
                return (true, receiver)
            }
            guard state.count < capacity else { return (false, nil) }
            state.buffer.append(element)
            return (true, nil)
        }
        receiver?.resume(returning: element)
        return accepted
    }

    /// The next element, waiting for one; nil once closed and drained, or
    /// when the calling task is cancelled (which closes the channel).
    func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let (immediate, sender): (Element??, CheckedContinuation<Void, Never>?) = state.withLock { state in
                    if let element = state.popFirst() {
                        let sender = state.senders.isEmpty ? nil : state.senders.removeFirst()
                        return (.some(element), sender)
                    }
                    if state.closed || Task.isCancelled { return (.some(nil), nil) }
                    precondition(state.receiver == nil, "a log event channel has a single consumer")
                    state.receiver = continuation
                    return (.none, nil)
                }
                sender?.resume()
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            close()
        }
    }

    /// Ends the channel: waiting senders return, later sends are dropped,
    /// the consumer drains what is queued and then gets nil.
    func close() {
        let (receiver, senders) = state.withLock { state in
            state.closed = true
            let receiver = state.count == 0 ? state.receiver : nil
            if receiver != nil { state.receiver = nil }
            defer { state.senders = [] }
            return (receiver, state.senders)
        }
        receiver?.resume(returning: nil)
        for sender in senders { sender.resume() }
    }
}
