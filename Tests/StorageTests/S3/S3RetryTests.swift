import Foundation
import NIOCore
import NIOHTTP1
import SlipwayTestSupport
import Testing

@testable import Storage

/// Retries against an in-process fake store that fails on cue: transient
/// answers (503 SlowDown, 500) are retried with backoff, other 4xx never are.
@Suite struct S3RetryTests {
    static func configuration(endpoint: String, attempts: Int = 4) -> S3Configuration {
        S3Configuration(
            endpoint: endpoint, bucket: "retry-bucket", region: "us-east-1", accessKeyID: "TESTKEY",
            secretAccessKey: "test-secret-that-must-not-leak",
            retry: RetryPolicy(maxAttempts: attempts, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20)),
            timeouts: .init(connect: .seconds(2), response: .seconds(2), idleRead: .seconds(2))
        )
    }

    static func withFakeStore(
        replies: [ScriptedHTTPServer.Reply], fallback: ScriptedHTTPServer.Reply = .respond(status: .ok, body: "ok"),
        attempts: Int = 4, timeouts: S3Configuration.Timeouts? = nil,
        _ body: (S3ObjectStore, ScriptedHTTPServer) async throws -> Void
    ) async throws {
        let server = try await ScriptedHTTPServer.start(replies: replies, fallback: fallback)
        var configuration = configuration(endpoint: server.endpoint, attempts: attempts)
        if let timeouts { configuration.timeouts = timeouts }
        do {
            try await TestS3.withStore(configuration) { store in try await body(store, server) }
        } catch {
            try await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    @Test func slowDownTwiceThenSuccessIsRetried() async throws {
        try await Self.withFakeStore(
            replies: [
                .s3Error(.serviceUnavailable, code: "SlowDown"), .s3Error(.serviceUnavailable, code: "SlowDown"),
            ],
            fallback: .respond(
                status: .ok, headers: [("etag", "\"abc\""), ("content-type", "text/plain")], body: "hello")
        ) { store, server in
            let bytes = try await store.getBytes("site/index.html")
            #expect(String(buffer: bytes) == "hello")
            let requests = server.requests
            #expect(requests.count == 3)
            #expect(requests.allSatisfy { $0.method == .GET && $0.uri == "/retry-bucket/site/index.html" })
            // Every attempt is signed afresh.
            #expect(
                requests.allSatisfy { $0.headers.first(name: "authorization")?.hasPrefix("AWS4-HMAC-SHA256 ") == true })
        }
    }

    @Test func forbiddenIsNotRetried() async throws {
        try await Self.withFakeStore(
            replies: [.s3Error(.forbidden, code: "AccessDenied"), .s3Error(.forbidden, code: "AccessDenied")]
        ) { store, server in
            let error = await #expect(throws: ObjectStoreError.self) { try await store.head("a.txt") }
            #expect(error?.code == .accessDenied)
            #expect(server.requests.count == 1)
            let getError = await #expect(throws: ObjectStoreError.self) { try await store.get("a.txt") }
            #expect(getError?.code == .accessDenied)
            #expect(server.requests.count == 2)
        }
    }

    @Test func otherClientErrorsAreNotRetried() async throws {
        try await Self.withFakeStore(
            replies: [.s3Error(.badRequest, code: "InvalidArgument"), .s3Error(.notFound, code: "NoSuchKey")]
        ) { store, server in
            let rejected = await #expect(throws: ObjectStoreError.self) {
                try await store.put("a.txt", body: .string("x"))
            }
            #expect(rejected?.code == .rejected)
            #expect(rejected?.message.contains("InvalidArgument") == true)
            let missing = await #expect(throws: ObjectStoreError.self) { try await store.get("a.txt") }
            #expect(missing?.code == .notFound)
            #expect(server.requests.count == 2)
        }
    }

    @Test func serverErrorsAreRetriedUntilAttemptsRunOut() async throws {
        try await Self.withFakeStore(
            replies: [], fallback: .s3Error(.internalServerError, code: "InternalError"), attempts: 3
        ) {
            store, server in
            let error = await #expect(throws: ObjectStoreError.self) { try await store.get("a.txt") }
            #expect(error?.code == .serverError)
            #expect(error?.status == 500)
            #expect(error?.message.contains("after 3 attempts") == true)
            #expect(server.requests.count == 3)
        }
    }

    @Test func exhaustedSlowDownIsReportedAsSlowDown() async throws {
        try await Self.withFakeStore(
            replies: [], fallback: .s3Error(.serviceUnavailable, code: "SlowDown"), attempts: 2
        ) {
            store, server in
            let error = await #expect(throws: ObjectStoreError.self) { try await store.head("a.txt") }
            // HEAD has no body: a 503 is taken for SlowDown by its status.
            #expect(error?.code == .slowDown)
            #expect(error?.isTransient == true)
            #expect(server.requests.count == 2)
        }
    }

    @Test func aRetriedPutSendsTheSameBodyAgain() async throws {
        try await Self.withFakeStore(
            replies: [.s3Error(.serviceUnavailable, code: "SlowDown")],
            fallback: .respond(status: .ok, headers: [("etag", "\"e1\"")])
        ) { store, server in
            let info = try await store.put(
                "a.txt", body: .string("payload"), options: PutOptions(contentType: "text/plain"))
            #expect(info.etag == "e1")
            let requests = server.requests
            #expect(requests.count == 2)
            #expect(requests.map { String(decoding: $0.body, as: UTF8.self) } == ["payload", "payload"])
            #expect(requests.allSatisfy { $0.headers.first(name: "content-type") == "text/plain" })
        }
    }

    @Test func aStalledStoreTimesOutAndIsRetried() async throws {
        try await Self.withFakeStore(
            replies: [.stall], fallback: .respond(status: .ok, headers: [("content-length", "2")], body: "ok"),
            // Long enough that the answering retry never times out on a busy machine.
            timeouts: .init(connect: .seconds(5), response: .seconds(2), idleRead: .seconds(5))
        ) { store, server in
            let info = try await store.head("a.txt")
            #expect(info.size == 2)
            #expect(server.requests.count == 2)
        }
    }

    @Test func aStoreThatNeverAnswersFailsWithTimeout() async throws {
        try await Self.withFakeStore(
            replies: [], fallback: .stall, attempts: 2,
            timeouts: .init(connect: .seconds(2), response: .milliseconds(200), idleRead: .seconds(2))
        ) { store, server in
            let error = await #expect(throws: ObjectStoreError.self) { try await store.get("a.txt") }
            #expect(error?.code == .timeout)
            // The server may record the last request a moment after the client gave up on it.
            for _ in 0..<100 where server.requests.count < 2 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(server.requests.count == 2)
        }
    }

    @Test func aBodyCutShortIsATypedErrorNotATruncatedObject() async throws {
        try await Self.withFakeStore(replies: [.partial(declaredLength: 100, body: "only ten b", then: .close)]) {
            store, _ in
            let download = try await store.get("a.txt")
            #expect(download.contentLength == 100)
            let error = await #expect(throws: ObjectStoreError.self) { try await download.body.collect(upTo: 1000) }
            #expect(error?.code == .unreachable)
            #expect(error?.message.contains("closed") == true, "\(error?.message ?? "")")
        }
    }

    @Test func aBodyThatStallsIsAbortedAtTheIdleTimeout() async throws {
        try await Self.withFakeStore(
            replies: [.partial(declaredLength: 100, body: "some bytes", then: .stall)],
            // The headers come at once: a generous response timeout never
            // fires first on a busy machine, so the idle timeout is what stops the body.
            timeouts: .init(connect: .seconds(10), response: .seconds(10), idleRead: .seconds(1))
        ) { store, server in
            let download = try await store.get("a.txt")
            let error = await #expect(throws: ObjectStoreError.self) { try await download.body.collect(upTo: 1000) }
            #expect(error?.code == .timeout)
            #expect(server.requests.count == 1)
        }
    }

    @Test func errorMessagesNeverContainTheSecretOrASignature() async throws {
        try await Self.withFakeStore(
            replies: [.s3Error(.forbidden, code: "SignatureDoesNotMatch")], attempts: 1
        ) { store, server in
            let error = await #expect(throws: ObjectStoreError.self) { try await store.get("a.txt") }
            #expect(error?.code == .signatureMismatch)
            let signature = server.requests[0].headers.first(name: "authorization")?.split(separator: "=").last.map(
                String.init)
            let text = "\(error.map { "\($0)" } ?? "")"
            #expect(!text.contains("test-secret-that-must-not-leak"))
            #expect(signature.map { !text.contains($0) } == true)
            #expect(text.contains("SLIPWAY_S3_SECRET_ACCESS_KEY"))
        }
    }
}
