public import Logging

/// Chooses the ``BuildRunner`` a configuration asks for. The caller owns
/// the runner: call its `shutdown()` after the pool's.
public enum RunnerSelection {
    /// - `docker`: the Docker runner, whether or not the engine answers now
    ///   (builds fail and are retried while it is down).
    /// - `local`: the local runner, with a loud warning.
    /// - `auto`: Docker when the engine answers `/_ping`, else — only when
    ///   `allowsLocalFallback` (a laptop-shaped setup) — the local runner
    ///   with a loud warning at start (and in every build's log); otherwise
    ///   it throws `engine_unavailable`: builds never run unsandboxed
    ///   without being asked to.
    public static func makeRunner(
        configuration: BuilderConfiguration, allowsLocalFallback: Bool = true,
        logger: Logger = Logger(label: "slipway.builder")
    ) async throws(BuildError) -> any BuildRunner {
        switch configuration.runner {
        case .docker:
            return try DockerRunner(configuration: configuration, logger: logger)
        case .local:
            for warning in LocalRunner.warnings { logger.warning("\(warning)") }
            return LocalRunner(configuration: configuration)
        case .auto:
            if let docker = try? DockerRunner(configuration: configuration, logger: logger) {
                if await docker.isEngineReachable() {
                    logger.info(
                        "builds run in Docker containers (engine at \(configuration.dockerHost), image \(configuration.image))"
                    )
                    return docker
                }
                await docker.shutdown()
            }
            guard allowsLocalFallback else {
                throw BuildError(
                    code: .engineUnavailable,
                    message:
                        "no Docker engine answers at \(configuration.dockerHost), and builds run outside containers only on a single machine with the admin API on loopback; start the Docker engine (or point DOCKER_HOST at one), or set SLIPWAY_BUILD_RUNNER=local to run builds unsandboxed on purpose"
                )
            }
            logger.warning("no Docker engine answers at \(configuration.dockerHost). \(LocalRunner.warning)")
            for warning in LocalRunner.warnings.dropFirst() { logger.warning("\(warning)") }
            return LocalRunner(configuration: configuration)
        }
    }
}
