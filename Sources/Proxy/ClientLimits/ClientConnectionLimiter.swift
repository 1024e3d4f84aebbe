import NIOCore
import Synchronization

/// The per-client connection limit of the edge
/// (`SLIPWAY_MAX_CONNECTIONS_PER_CLIENT`): how many connections one address
/// may hold at once. The address is the connection's — the peer's, or the
/// one a trusted balancer's PROXY protocol header gave — never
/// `X-Forwarded-For`, which belongs to a request.
///
/// Shared by every event loop; split into stripes by the address's hash,
/// each under its own lock. Only addresses with a connection open are kept,
/// so the table never holds more entries than there are connections.
final class ClientConnectionLimiter: Sendable {
    static let stripeCount = 16

    private final class Lock: Sendable {
        let counts = Mutex<[String: Int]>([:])
    }

    /// Connections one address may hold at once.
    let limit: Int
    private let stripes: [Lock]

    init(limit: Int) {
        precondition(limit >= 1)
        self.limit = limit
        self.stripes = (0..<Self.stripeCount).map { _ in Lock() }
    }

    private func stripe(_ client: String) -> Lock {
        stripes[Int(UInt(bitPattern: client.hashValue) % UInt(Self.stripeCount))]
    }

    /// Takes a place for a connection from `client` on `channel`, given back
    /// exactly once when the channel closes, however it closes.
    /// - Returns: false when `client` holds ``limit`` connections already
    ///   (nothing is taken then).
    func admit(_ client: String, on channel: any Channel) -> Bool {
        let admitted = stripe(client).counts.withLock { counts in
            let held = counts[client, default: 0]
            guard held < limit else { return false }
            counts[client] = held + 1
            return true
        }
        if admitted {
            // `closeFuture` completes once, when the channel closes, even if
            // it closed already: the place is given back once.
            channel.closeFuture.whenComplete { [self] _ in release(client) }
        }
        return admitted
    }

    private func release(_ client: String) {
        stripe(client).counts.withLock { counts in
            guard let held = counts[client] else { return }
            counts[client] = held > 1 ? held - 1 : nil
        }
    }

    /// Connections `client` holds now.
    func connections(of client: String) -> Int {
        stripe(client).counts.withLock { $0[client] ?? 0 }
    }

    /// Addresses holding a connection now.
    var trackedClients: Int {
        stripes.reduce(0) { total, stripe in total + stripe.counts.withLock { $0.count } }
    }
}
