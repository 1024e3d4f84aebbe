import NIOCore
import Synchronization

/// The connections the server holds: it enforces the connection limit and
/// lets a shutdown ask every connection to finish (`ChannelShouldQuiesceEvent`)
/// and close what is left at the deadline.
final class ConnectionTracker: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var accepting = true
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    /// Registers a newly accepted connection.
    /// - Returns: false when the server is at its limit or shutting down;
    ///   the caller closes the connection.
    func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLock { state in
            guard state.accepting, state.channels.count < limit else { return false }
            state.channels[id] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in
                _ = state.withLock { $0.channels.removeValue(forKey: id) }
            }
        }
        return admitted
    }

    /// Connections held now.
    var count: Int { state.withLock { $0.channels.count } }

    /// Refuses every new connection from now on and returns those held.
    func stopAccepting() -> [any Channel] {
        state.withLock { state in
            state.accepting = false
            return Array(state.channels.values)
        }
    }

    /// The connections still held.
    var channels: [any Channel] { state.withLock { Array($0.channels.values) } }
}
