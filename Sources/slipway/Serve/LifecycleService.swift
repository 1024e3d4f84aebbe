import ServiceLifecycle

/// Runs a part of Slipway that starts and stops explicitly (the proxy, the
/// build workers) as a swift-service-lifecycle service: start, wait for the
/// group's graceful shutdown (SIGTERM/SIGINT) or cancellation, then stop.
struct LifecycleService: Service, CustomStringConvertible {
    let description: String
    let start: @Sendable () async throws -> Void
    let stop: @Sendable () async -> Void

    func run() async throws {
        try await start()
        // Throws CancellationError when the group is cancelled rather than
        // shut down gracefully; either way the part is stopped.
        try? await gracefulShutdown()
        await stop()
    }
}
