import Foundation
import NIOCore
import NIOPosix
import SlipwayTestSupport
import Testing

@testable import Storage

/// Credentials, presigned URLs, TLS and unreachable endpoints against the
/// real Ceph RADOS Gateway, which verifies signatures and expiry.
@Suite(
    .enabled(
        if: TestS3.shouldRun,
        "needs an S3-compatible store: scripts/test starts Ceph RADOS Gateway and sets S3_ENDPOINT and the AWS_* credentials"
    )
)
struct S3AccessTests {
    @Test func presignedGETIsFetchableWithoutCredentials() async throws {
        try await TestS3.withBucket { store in
            try await store.put("sites/s/b/app.js", body: .string("console.log(1)"))
            let presigned = try store.presignedGET(key: "sites/s/b/app.js", expiresIn: .seconds(300))
            #expect(presigned.expires > Date().addingTimeInterval(250))
            #expect(!presigned.description.contains("X-Amz-Signature"))
            let response = try await TestHTTP.get(presigned.url)
            #expect(response.status == 200)
            #expect(response.body == "console.log(1)")
        }
    }

    @Test func aTamperedPresignedURLIsRefused() async throws {
        try await TestS3.withBucket { store in
            try await store.put("a.txt", body: .string("secret content"))
            try await store.put("b.txt", body: .string("other content"))
            let url = try store.presignedGET(key: "a.txt", expiresIn: .seconds(300)).url
            let last = url.last!
            let tampered = String(url.dropLast()) + (last == "0" ? "1" : "0")
            #expect(try await TestHTTP.get(tampered).status == 403)
            let otherKey = url.replacingOccurrences(of: "/a.txt?", with: "/b.txt?")
            #expect(try await TestHTTP.get(otherKey).status == 403)
            let longer = url.replacingOccurrences(of: "X-Amz-Expires=300", with: "X-Amz-Expires=600")
            #expect(try await TestHTTP.get(longer).status == 403)
            #expect(try await TestHTTP.get(url).status == 200)
        }
    }

    @Test func anExpiredPresignedURLIsRefused() async throws {
        try await TestS3.withBucket { store in
            try await store.put("a.txt", body: .string("x"))
            // Signed ten minutes ago with a one-second lifetime (well inside
            // the store's 15-minute clock-skew allowance, so only expiry fails).
            var configuration = store.configuration
            configuration.retry = .none
            let past = Date().addingTimeInterval(-600)
            try await TestS3.withStore(configuration, clock: { past }) { earlier in
                let presigned = try earlier.presignedGET(key: "a.txt", expiresIn: .seconds(1))
                #expect(presigned.expires < Date())
                #expect(try await TestHTTP.get(presigned.url).status == 403)
                // The same past signing time with a lifetime that has not
                // run out is accepted: expiry alone made the difference.
                let stillValid = try earlier.presignedGET(key: "a.txt", expiresIn: .seconds(3600))
                #expect(try await TestHTTP.get(stillValid.url).status == 200)
            }
        }
    }

    @Test func aPresignedLifetimeOverSevenDaysIsRefused() async throws {
        try await TestS3.withBucket { store in
            for lifetime: Duration in [.seconds(604_801), .zero, .milliseconds(500)] {
                let error = #expect(throws: ObjectStoreError.self) {
                    try store.presignedGET(key: "a", expiresIn: lifetime)
                }
                #expect(error?.code == .invalidArgument)
            }
            #expect(throws: Never.self) { try store.presignedGET(key: "a", expiresIn: .seconds(604_800)) }
        }
    }

    @Test func aWrongSecretIsASignatureMismatchThatDoesNotLeakIt() async throws {
        let wrongSecret = "wrong-secret-\(UUID().uuidString)"
        try await TestS3.withBucket { store in
            try await store.put("a.txt", body: .string("x"))
            var configuration = store.configuration
            configuration.secretAccessKey = wrongSecret
            try await TestS3.withStore(configuration) { wrong in
                for operation in ["get", "put", "list"] {
                    let error = await #expect(throws: ObjectStoreError.self, "\(operation)") {
                        switch operation {
                        case "get": _ = try await wrong.get("a.txt")
                        case "put": try await wrong.put("b.txt", body: .string("y"))
                        default: _ = try await wrong.list(prefix: "", after: nil, limit: 1)
                        }
                    }
                    #expect(error?.code == .signatureMismatch, "\(operation)")
                    #expect(error?.isTransient == false)
                    let text = error.map { "\($0)" } ?? ""
                    #expect(!text.contains(wrongSecret))
                    #expect(!text.contains(store.configuration.secretAccessKey))
                    #expect(text.contains("SLIPWAY_S3_SECRET_ACCESS_KEY"))
                }
            }
        }
    }

    @Test func anUnknownAccessKeyIsReportedAsSuch() async throws {
        try await TestS3.withBucket { store in
            var configuration = store.configuration
            configuration.accessKeyID = "UNKNOWNKEY\(Int.random(in: 1000...9999))"
            try await TestS3.withStore(configuration) { unknown in
                let error = await #expect(throws: ObjectStoreError.self) { try await unknown.get("a.txt") }
                #expect(error?.code == .invalidAccessKey)
                #expect(error?.message.contains(configuration.accessKeyID) == true)
                #expect(error?.message.contains("SLIPWAY_S3_ACCESS_KEY_ID") == true)
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aClosedPortIsUnreachableAfterTheConfiguredRetries() async throws {
        let environment = try TestS3.requireEnvironment()
        let port = try await Self.closedPort()
        var configuration = TestS3.configuration(bucket: "unreachable", environment: environment)
        configuration.endpoint = "http://127.0.0.1:\(port)"
        configuration.retry = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50))
        try await TestS3.withStore(configuration) { store in
            let error = await #expect(throws: ObjectStoreError.self) { try await store.get("a.txt") }
            #expect(error?.code == .unreachable)
            #expect(error?.isTransient == true)
            #expect(error?.message.contains("127.0.0.1:\(port)") == true)
            #expect(error?.message.contains("after 3 attempts") == true)
            #expect(error?.message.contains("SLIPWAY_S3_ENDPOINT") == true)
        }
    }

    @Test func theHTTPSEndpointWorksWithTheCABundle() async throws {
        let environment = try TestS3.requireEnvironment()
        let tlsEndpoint = try #require(
            environment.tlsEndpoint, "S3_ENDPOINT_TLS is not set: run the tests through scripts/test")
        let caBundle = try #require(environment.caBundle, "S3_CA_BUNDLE is not set: run the tests through scripts/test")
        try await TestS3.withBucket(configure: {
            $0.endpoint = tlsEndpoint
            $0.caCertificateFile = caBundle
        }) { store in
            try await store.put("tls.txt", body: .string("over tls"), options: PutOptions(contentType: "text/plain"))
            #expect(String(buffer: try await store.getBytes("tls.txt")) == "over tls")
            #expect(try await store.listAll(prefix: "").map(\.key) == ["tls.txt"])
            #expect(try store.presignedGET(key: "tls.txt", expiresIn: .seconds(60)).url.hasPrefix(tlsEndpoint + "/"))

            // Without the CA the certificate is refused, at once and without retries.
            var untrusted = store.configuration
            untrusted.caCertificateFile = nil
            try await TestS3.withStore(untrusted) { store in
                let error = await #expect(throws: ObjectStoreError.self) { try await store.head("tls.txt") }
                #expect(error?.code == .unreachable)
                #expect(error?.message.contains("SLIPWAY_S3_CA_FILE") == true)
                #expect(error?.message.contains("attempts") == false)
            }
        }
    }

    /// A port on 127.0.0.1 that nothing listens on: bound, then released.
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        return port
    }
}
