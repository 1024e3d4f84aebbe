public import Foundation
public import Logging
public import Storage
public import Testing

/// The real S3-compatible store the integration tests run against (Ceph
/// RADOS Gateway, started by `scripts/test`), read from exactly these
/// variables: `S3_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_REGION`, and for HTTPS `S3_ENDPOINT_TLS` and `S3_CA_BUNDLE`.
///
/// Without them the integration suites are skipped on a developer machine
/// (with a reason in the test report) and fail in CI (`CI=true`), where a
/// missing store is a broken pipeline, not a reason to pass.
///
/// Shared by every test target that talks to the store.
public enum TestS3 {
    public struct Environment: Sendable {
        public var endpoint: String
        public var accessKeyID: String
        public var secretAccessKey: String
        public var region: String
        public var tlsEndpoint: String?
        public var caBundle: String?
    }

    public struct MissingStore: Error, CustomStringConvertible {
        public var description: String
    }

    public static let environment: Environment? = {
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

    public static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Whether the integration suites run: when a store is configured, and
    /// always in CI so that a missing store fails there.
    public static let shouldRun = environment != nil || isCI

    /// The store's settings.
    /// - Throws: `MissingStore` (failing the test) when they are not set.
    public static let skipReason: Comment =
        "S3_ENDPOINT is not set: run scripts/test (it starts Ceph RADOS Gateway) to include the S3 tests"

    public static func requireEnvironment() throws -> Environment {
        guard let environment else {
            throw MissingStore(
                description:
                    "S3_ENDPOINT is not set: run the tests through scripts/test (it starts Ceph RADOS Gateway and exports S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)"
            )
        }
        return environment
    }

    public static let logger: Logger = {
        var logger = Logger(label: "slipway.tests.s3")
        logger.logLevel = .error
        return logger
    }()

    /// A bucket name no other test (or earlier run) uses.
    public static func uniqueBucketName() -> String {
        "slipway-test-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
    }

    /// A configuration for `bucket` on the test store.
    public static func configuration(bucket: String, environment: Environment) -> S3Configuration {
        S3Configuration(
            endpoint: environment.endpoint, bucket: bucket, region: environment.region,
            accessKeyID: environment.accessKeyID, secretAccessKey: environment.secretAccessKey,
            retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(50), maxDelay: .milliseconds(500))
        )
    }

    /// Runs `body` with a store over a fresh bucket, then empties and deletes
    /// the bucket and shuts the store down, whether `body` succeeded or not.
    public static func withBucket(
        configure: (inout S3Configuration) -> Void = { _ in },
        clock: @escaping @Sendable () -> Date = { Date() },
        _ body: (S3ObjectStore) async throws -> Void
    ) async throws {
        try await withBucket(tls: false, configure: configure, clock: clock) { store, _ in try await body(store) }
    }

    /// Like ``withBucket(configure:clock:_:)``, over HTTPS with the gateway's
    /// CA when `tls`, handing `body` the store's settings too.
    public static func withBucket(
        tls: Bool,
        configure: (inout S3Configuration) -> Void = { _ in },
        clock: @escaping @Sendable () -> Date = { Date() },
        _ body: (S3ObjectStore, Environment) async throws -> Void
    ) async throws {
        let environment = try requireEnvironment()
        var configuration = configuration(bucket: uniqueBucketName(), environment: environment)
        if tls {
            guard let endpoint = environment.tlsEndpoint, let ca = environment.caBundle else {
                throw MissingStore(
                    description:
                        "S3_ENDPOINT_TLS and S3_CA_BUNDLE are not set: scripts/test exports them when the gateway serves HTTPS"
                )
            }
            configuration.endpoint = endpoint
            configuration.caCertificateFile = ca
        }
        configure(&configuration)
        try await withStore(configuration, clock: clock) { store in
            try await store.createBucket()
            var failure: (any Error)?
            do {
                try await body(store, environment)
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
    public static func withStore<T>(
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

/// The real object stores a test runs against: the disk store, and the Ceph
/// gateway wherever S3 tests run.
public enum TestStoreKind: String, CustomTestStringConvertible, Sendable {
    case disk, ceph

    public var testDescription: String { rawValue }

    public static var all: [TestStoreKind] { TestS3.shouldRun ? [.disk, .ceph] : [.disk] }

    /// Runs `body` with a store of this kind: a disk store in `directory`,
    /// or a new bucket of the gateway (emptied and removed afterwards).
    public func withStore(in directory: String, _ body: (any ObjectStore) async throws -> Void) async throws {
        switch self {
        case .disk: try await body(try DiskObjectStore(root: directory + "/store", durable: false))
        case .ceph: try await TestS3.withBucket { bucket in try await body(bucket) }
        }
    }
}
