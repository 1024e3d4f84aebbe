import Foundation
import Storage
import Testing

/// The real S3-compatible store the proxy's integration tests run against
/// (Ceph RADOS Gateway, started by `scripts/test`), read from exactly the
/// variables the storage tests use: `S3_ENDPOINT`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and for HTTPS `S3_ENDPOINT_TLS` and
/// `S3_CA_BUNDLE`.
///
/// Without them the suites are skipped on a developer machine (the reason
/// shows in the test report) and fail in CI (`CI=true`), where a missing
/// store is a broken pipeline, not a reason to pass.
enum TestS3 {
    struct Environment: Sendable {
        var endpoint: String
        var accessKeyID: String
        var secretAccessKey: String
        var region: String
        var tlsEndpoint: String?
        var caBundle: String?
    }

    static let environment: Environment? = {
        let variables = ProcessInfo.processInfo.environment
        func value(_ name: String) -> String? { variables[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let endpoint = value("S3_ENDPOINT"), let accessKeyID = value("AWS_ACCESS_KEY_ID"),
            let secretAccessKey = value("AWS_SECRET_ACCESS_KEY")
        else { return nil }
        return Environment(
            endpoint: endpoint, accessKeyID: accessKeyID, secretAccessKey: secretAccessKey,
            region: value("AWS_REGION") ?? "us-east-1", tlsEndpoint: value("S3_ENDPOINT_TLS"), caBundle: value("S3_CA_BUNDLE"))
    }()

    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Whether the integration suites run: when a store is configured, and
    /// always in CI so that a missing store fails there.
    static let shouldRun = environment != nil || isCI

    static let skipReason: Comment =
        "S3_ENDPOINT is not set: run scripts/test (it starts Ceph RADOS Gateway) to include the proxy's S3 tests"

    /// - Throws: (failing the test) when the store's settings are missing.
    static func requireEnvironment() throws -> Environment {
        guard let environment else {
            throw TestFailure(
                "S3_ENDPOINT is not set: run the tests through scripts/test (it starts Ceph RADOS Gateway and exports S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)"
            )
        }
        return environment
    }

    /// Runs `body` with a store over a fresh bucket of the test store (over
    /// HTTPS with its CA when `tls`), then empties and deletes the bucket and
    /// shuts the store down, whether `body` succeeded or not.
    static func withBucket(tls: Bool = false, _ body: (S3ObjectStore, Environment) async throws -> Void) async throws {
        let environment = try requireEnvironment()
        var configuration = S3Configuration(
            endpoint: environment.endpoint, bucket: "slipway-proxy-" + UUID().uuidString.lowercased().prefix(18).replacingOccurrences(of: "-", with: ""),
            region: environment.region, accessKeyID: environment.accessKeyID, secretAccessKey: environment.secretAccessKey,
            addressing: .path, retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(50), maxDelay: .milliseconds(500)))
        if tls {
            guard let endpoint = environment.tlsEndpoint, let ca = environment.caBundle else {
                throw TestFailure("S3_ENDPOINT_TLS and S3_CA_BUNDLE are not set: scripts/test exports them when the gateway serves HTTPS")
            }
            configuration.endpoint = endpoint
            configuration.caCertificateFile = ca
        }
        let store = try S3ObjectStore(configuration: configuration, logger: TestProxy.quietLogger)
        var failure: (any Error)?
        do {
            try await store.createBucket()
            do {
                try await body(store, environment)
            } catch {
                failure = error
            }
            do {
                try await store.deletePrefix("")
                try await store.deleteBucket()
            } catch {
                if failure == nil { failure = error }
            }
        } catch {
            failure = error
        }
        try? await store.shutdown()
        if let failure { throw failure }
    }
}
