public import Hummingbird
public import Model
public import NIOCore
import Synchronization

/// The request context of the admin API: Hummingbird's core context, the
/// connection's peer address, and what authentication found.
public struct AdminRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The address of the connection's peer (a load balancer, when one is in front).
    public let remoteAddress: SocketAddress?
    /// The token the request was authenticated with; nil on open routes.
    public var principal: Principal?
    /// What the handler adds to the request's audit entry.
    public let audit = AuditNote()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// Who a request acts as: a stored API token, or the bootstrap admin token.
public struct Principal: Sendable, Hashable {
    public let tokenID: String
    public let name: String
    public let scope: APITokenScope

    public init(tokenID: String, name: String, scope: APITokenScope) {
        self.tokenID = tokenID
        self.name = name
        self.scope = scope
    }

    init(_ token: APIToken) {
        self.init(tokenID: token.id, name: token.name, scope: token.scope)
    }
}

/// Lets a handler name the target of its audit entry when the path does not
/// hold it (the slug of a created deployment, the id of a created token).
/// The context is a value handed down the middleware chain, so the handler
/// writes into this shared box for the audit middleware above it to read.
public final class AuditNote: Sendable {
    private let value = Mutex<String?>(nil)

    public var target: String? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
