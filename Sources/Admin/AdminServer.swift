public import Hummingbird
import HummingbirdCore
public import Logging
import Model
import NIOCore
public import ServiceLifecycle

/// The admin HTTP API on its own listener (default `127.0.0.1:8081`).
///
/// A swift-service-lifecycle `Service`: run it in the executable's
/// `ServiceGroup`, or call ``run()`` directly; cancelling the task stops it.
public struct AdminServer: Service {
    public let configuration: AdminConfiguration
    public let services: AdminServices
    public let logger: Logger
    private let onServerRunning: @Sendable (_ port: Int) async -> Void

    /// - Parameter onServerRunning: called once the listener is bound, with
    ///   the port it is bound to (useful when `configuration.port` is 0).
    public init(
        configuration: AdminConfiguration,
        services: AdminServices,
        logger: Logger = Logger(label: "slipway.admin"),
        onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.services = services
        self.logger = logger
        self.onServerRunning = onServerRunning
    }

    /// Serves until the task is cancelled or graceful shutdown is triggered.
    public func run() async throws {
        let parts = makeParts()
        let application = makeApplication(parts)
        let maintenance = parts.maintenance
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The periodic audit work runs while the listener does, and ends
            // (writing what it still holds) when the listener stops.
            group.addTask { await maintenance.run() }
            do {
                try await application.run()
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    /// What the router and the maintenance share.
    struct Parts: Sendable {
        let recorder: AuditRecorder
        let maintenance: AdminMaintenance
    }

    func makeParts() -> Parts {
        let recorder = AuditRecorder(catalog: services.catalog, logger: logger)
        let maintenance = AdminMaintenance(
            catalog: services.catalog, recorder: recorder, retention: configuration.auditRetention,
            clock: services.clock, logger: logger)
        return Parts(recorder: recorder, maintenance: maintenance)
    }

    /// The Hummingbird application serving the API.
    public func makeApplication() -> some ApplicationProtocol {
        makeApplication(makeParts())
    }

    func makeApplication(_ parts: Parts) -> some ApplicationProtocol {
        let onServerRunning = self.onServerRunning
        return Application(
            router: makeRouter(parts),
            // Every request passes the intake (Host, framing) before the router sees it.
            server: .http1(
                configuration: HTTP1Channel.Configuration(additionalChannelHandlers: [RequestIntakeHandler()])),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "slipway-admin"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    /// Every route of the API behind the error and authentication middleware.
    func makeRouter(_ parts: Parts) -> Router<AdminRequestContext> {
        let router = Router(context: AdminRequestContext.self)
        // Order matters: errors from authentication are shaped too, and
        // middleware only covers routes added after it.
        let api = AdminAPI(configuration: configuration, services: services, logger: logger, recorder: parts.recorder)
        router.add(middleware: ErrorMiddleware(logger: logger))
        // The dashboard's static files need no token; the API behind them does.
        api.registerDashboard(on: router)
        router.add(
            middleware: BearerAuthMiddleware(
                authenticator: TokenAuthenticator(
                    bootstrap: BearerToken(configuration.token), catalog: services.catalog, clock: services.clock,
                    lastUseInterval: configuration.tokenUseInterval, logger: logger),
                limiter: AttemptLimiter(
                    maxFailures: configuration.maxFailedAttempts, window: configuration.failedAttemptWindow,
                    clock: services.clock),
                recorder: parts.recorder, trustedProxies: configuration.trustedProxies, catalog: services.catalog))
        api.register(on: router)
        // Last: it only ever sees the requests no route matched.
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes.map { ("\($0.path)", $0.method) }))
        return router
    }
}
