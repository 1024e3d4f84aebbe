public import Hummingbird
import HummingbirdCore
public import Logging
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
        try await makeApplication().run()
    }

    /// The Hummingbird application serving the API.
    public func makeApplication() -> some ApplicationProtocol {
        let onServerRunning = self.onServerRunning
        return Application(
            router: makeRouter(),
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
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        // Order matters: errors from authentication are shaped too, and
        // middleware only covers routes added after it.
        let api = AdminAPI(configuration: configuration, services: services, logger: logger)
        router.add(middleware: ErrorMiddleware(logger: logger))
        // The dashboard's static files need no token; the API behind them does.
        api.registerDashboard(on: router)
        router.add(middleware: BearerAuthMiddleware(token: BearerToken(configuration.token)))
        api.register(on: router)
        // Last: it only ever sees the requests no route matched.
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes.map { ("\($0.path)", $0.method) }))
        return router
    }
}
