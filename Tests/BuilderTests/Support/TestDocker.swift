import Foundation

/// The real Docker engine and build image the runner tests use, as
/// `scripts/test` provides them: the engine on `DOCKER_HOST` (default
/// `unix:///var/run/docker.sock`) and a local image with node in it named by
/// `SLIPWAY_TEST_BUILD_IMAGE` (built by `scripts/docker-test-image.sh`).
///
/// Without them the Docker suites are skipped on a developer machine (with a
/// reason in the test report) and fail in CI (`CI=true`).
enum TestDocker {
    struct MissingEngine: Error, CustomStringConvertible {
        var description: String
    }

    static let dockerHost =
        ProcessInfo.processInfo.environment["DOCKER_HOST"].flatMap { $0.isEmpty ? nil : $0 }
        ?? "unix:///var/run/docker.sock"

    static let image = ProcessInfo.processInfo.environment["SLIPWAY_TEST_BUILD_IMAGE"].flatMap { $0.isEmpty ? nil : $0 }

    static var socketPath: String {
        dockerHost.hasPrefix("unix://") ? String(dockerHost.dropFirst("unix://".count)) : dockerHost
    }

    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Whether the Docker suites run: when an image is named and the socket
    /// exists, and always in CI so that a missing engine fails there.
    static let shouldRun: Bool = {
        if isCI { return true }
        guard image != nil else { return false }
        return FileManager.default.fileExists(atPath: socketPath)
    }()

    /// The build image name.
    /// - Throws: `MissingEngine` (failing the test) when it is not set.
    static func requireImage() throws -> String {
        guard let image else {
            throw MissingEngine(
                description:
                    "SLIPWAY_TEST_BUILD_IMAGE is not set: run the tests through scripts/test (it starts dockerd and builds the image with scripts/docker-test-image.sh)"
            )
        }
        return image
    }

    static let skipReason =
        "needs a Docker engine and SLIPWAY_TEST_BUILD_IMAGE: run scripts/test, or scripts/docker-engine.sh start and export SLIPWAY_TEST_BUILD_IMAGE=$(scripts/docker-test-image.sh)"
}
