import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore
public import ServiceLifecycle

/// The operations listener of a process without the admin role (a proxy or a
/// builder of a fleet): `GET /healthz` (the process runs), `GET /readyz` (the
/// catalog and the object store answer and every ``ReadinessCheck`` passes;
/// 503 naming what does not) and `GET /metrics` (Prometheus text), for load
/// balancers and scrapers. It takes no token: bind it to an internal address
/// (default `127.0.0.1:8082`). A process with the admin role answers the same
/// paths on the admin listener instead.
public struct OperationsServer: Service {
    public let host: String
    public let port: Int
    public let services: AdminServices
    public let logger: Logger

    public init(host: String, port: Int, services: AdminServices, logger: Logger = Logger(label: "slipway.operations"))
    {
        self.host = host
        self.port = port
        self.services = services
        self.logger = logger
    }

    public func run() async throws {
        let router = Router(context: AdminRequestContext.self)
        router.add(middleware: ErrorMiddleware(logger: logger))
        let api = AdminAPI(
            configuration: AdminConfiguration(host: host, port: port, token: ""), services: services, logger: logger)
        api.registerOperations(on: router)
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes.map { ("\($0.path)", $0.method) }))
        let application = Application(
            router: router,
            server: .http1(
                configuration: HTTP1Channel.Configuration(additionalChannelHandlers: [RequestIntakeHandler()])),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "slipway"),
            logger: logger)
        try await application.run()
    }
}
