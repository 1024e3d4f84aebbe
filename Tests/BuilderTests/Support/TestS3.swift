import Foundation
import Logging
import Testing

@testable import Storage

/// The builder tests' copy of `StorageTests/Support/TestS3.swift` (test
/// targets cannot share sources): the real S3-compatible store the integration tests run against (Ceph
/// RADOS Gateway, started by `scripts/test`), read from exactly these
/// variables: `S3_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_REGION`, and for HTTPS `S3_ENDPOINT_TLS` and `S3_CA_BUNDLE`.
///
/// Without them the integration suites are skipped on a developer machine
/// (with a reason in the test report) and fail in CI (`CI=true`), where a
/// missing store is a broken pipeline, not a reason to pass.
enum TestS3 {
    struct Environment: Sendable {
        var endpoint: String
        var accessKeyID: String
        var secretAccessKey: String
        var region: String
        var tlsEndpoint: String?
        var caBundle: String?
    }

    struct MissingStore: Error, CustomStringConvertible {
        var description: String
    }

    static let environment: Environment? = {
        let variables = ProcessInfo.processInfo.environment
        guard let endpoint = variables["S3_ENDPOINT"], !endpoint.isEmpty,
            let accessKeyID = variables["AWS_ACCESS_KEY_ID"], !accessKeyID.isEmpty,
            let secretAccessKey = variables["AWS_SECRET_ACCESS_KEY"], !secretAccessKey.isEmpty
        else { return nil }
        return Environment(
            endpoint: endpoint, accessKeyID: accessKeyID, secretAccessKey: secretAccessKey,
            region: variables["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1",
            tlsEndpoint: variables["S3_ENDPOINT_TLS"].flatMap { $0.isEmpty ? nil : $0 },
            caBundle: variables["S3_CA_BUNDLE"].flatMap { $0.isEmpty ? nil : $0 }
        )
    }()

    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Whether the integration suites run: when a store is configured, and
    /// always in CI so that a missing store fails there.
    static let shouldRun = environment != nil || isCI

    /// The store's settings.
    /// - Throws: `MissingStore` (failing the test) when they are not set.
    static func requireEnvironment() throws -> Environment {
        guard let environment else {
            throw MissingStore(
                description: "S3_ENDPOINT is not set: run the tests through scripts/test (it starts Ceph RADOS Gateway and exports S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)"
            )
        }
        return environment
    }

    static let logger: Logger = {
        var logger = Logger(label: "slipway.tests.builder.s3")
        logger.logLevel = .error
        return logger
    }()

    /// A bucket name no other test (or earlier run) uses.
    static func uniqueBucketName() -> String {
        "slipway-test-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
    }

    /// A configuration for `bucket` on the test store.
    static func configuration(bucket: String, environment: Environment) -> S3Configuration {
        S3Configuration(
            endpoint: environment.endpoint, bucket: bucket, region: environment.region,
            accessKeyID: environment.accessKeyID, secretAccessKey: environment.secretAccessKey,
            retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(50), maxDelay: .milliseconds(500))
        )
    }

    /// Runs `body` with a store over a fresh bucket, then empties and deletes
    /// the bucket and shuts the store down, whether `body` succeeded or not.
    static func withBucket(
        configure: (inout S3Configuration) -> Void = { _ in },
        clock: @escaping @Sendable () -> Date = { Date() },
        _ body: (S3ObjectStore) async throws -> Void
    ) async throws {
        let environment = try requireEnvironment()
        var configuration = configuration(bucket: uniqueBucketName(), environment: environment)
        configure(&configuration)
        try await withStore(configuration, clock: clock) { store in
            try await store.createBucket()
            var failure: (any Error)?
            do {
                try await body(store)
            } catch {
                failure = error
            }
            // The bucket is removed even when the test failed; a cleanup error
            // is reported only when the test itself passed.
            do {
                try await store.deletePrefix("")
                try await store.deleteBucket()
            } catch {
                if failure == nil { failure = error }
            }
            if let failure { throw failure }
        }
    }

    /// Runs `body` with a store made from `configuration` and shuts it down afterwards.
    static func withStore<T>(
        _ configuration: S3Configuration, clock: @escaping @Sendable () -> Date = { Date() },
        _ body: (S3ObjectStore) async throws -> T
    ) async throws -> T {
        let store = try S3ObjectStore(configuration: configuration, logger: logger, clock: clock)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(store))
        } catch {
            result = .failure(error)
        }
        try await store.shutdown()
        return try result.get()
    }
}
