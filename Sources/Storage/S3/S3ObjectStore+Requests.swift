import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// One S3 API call, before signing.
struct S3Request: Sendable {
    /// S3 operation name for logs and messages, e.g. `PutObject`.
    var operation: String
    var method: HTTPMethod
    /// The caller's key (without the configured prefix); nil for requests
    /// on the bucket itself.
    var key: String?
    /// Decoded query parameters.
    var query: [SigV4Signer.Pair] = []
    /// Headers to send and sign, besides `host`, `x-amz-date` and `x-amz-content-sha256`.
    var headers: [SigV4Signer.Pair] = []
    /// The whole body, in memory, so the request can be repeated.
    var body: ByteBuffer?
    /// The byte range asked for (for error messages).
    var range: ByteRange?

    init(operation: String, method: HTTPMethod, key: String?) {
        self.operation = operation
        self.method = method
        self.key = key
    }
}

extension S3ObjectStore {
    /// Sends `request`, retrying transient failures, and returns the first
    /// 2xx answer with its body unread.
    /// - Throws: `ObjectStoreError` for every other outcome; `CancellationError`
    ///   when the task is cancelled.
    func send(_ request: S3Request) async throws -> HTTPClientResponse {
        // Every body is in memory, so its real hash is signed (S3 then
        // verifies the payload; UNSIGNED-PAYLOAD is only for presigned URLs).
        let payloadHash =
            request.body.map { body in SigV4Signer.hex(body.withUnsafeReadableBytes { SHA256.hash(data: $0) }) }
            ?? SigV4Signer.emptyPayloadHash
        let target = endpoint.target(
            bucket: configuration.bucket, key: request.key.map { configuration.keyPrefix + $0 },
            addressing: configuration.addressing
        )
        let url = target.url(canonicalQuery: SigV4Signer.canonicalQuery(request.query))
        let responseTimeout = TimeAmount(
            configuration.timeouts.responseDeadline(bodyBytes: request.body?.readableBytes ?? 0)
        )
        var context = errorContext(for: request)
        var logger = self.logger
        logger[metadataKey: "s3.op"] = "\(request.operation)"
        if let key = request.key { logger[metadataKey: "s3.key"] = "\(key)" }

        var attempt = 1
        while true {
            context.attempts = attempt
            logger[metadataKey: "s3.attempt"] = "\(attempt)"
            let response: HTTPClientResponse
            do {
                var http = HTTPClientRequest(url: url)
                http.method = request.method
                let signature = signer.signHeaders(
                    method: request.method.rawValue, host: target.host, encodedPath: target.encodedPath,
                    query: request.query, headers: request.headers, payloadHash: payloadHash
                )
                http.headers.add(name: "host", value: target.host)
                for (name, value) in request.headers { http.headers.add(name: name, value: value) }
                http.headers.add(name: "x-amz-date", value: signature.amzDate)
                http.headers.add(name: "x-amz-content-sha256", value: payloadHash)
                http.headers.add(name: "authorization", value: signature.authorization)
                if let body = request.body {
                    http.body = .bytes(body)
                } else if request.method == .PUT || request.method == .POST {
                    http.body = .bytes(ByteBuffer())
                }
                response = try await client.execute(http, deadline: .now() + responseTimeout)
            } catch {
                guard
                    let classified = S3TransportError.classify(
                        error, context: context, timeouts: configuration.timeouts)
                else { throw CancellationError() }
                if classified.isRetryable, attempt < configuration.retry.maxAttempts {
                    try await backOff(beforeRetry: attempt, reason: classified.error.code.rawValue, logger: logger)
                    attempt += 1
                    continue
                }
                logger.debug("S3 request failed", metadata: ["s3.error": "\(classified.error.code)"])
                throw classified.error
            }

            let status = Int(response.status.code)
            if (200..<300).contains(status) {
                logger.debug("S3 request done", metadata: ["s3.status": "\(status)"])
                return response
            }
            // Error documents are small; a huge one is not worth reading.
            let errorBody = request.method == .HEAD ? nil : try? await response.body.collect(upTo: 64 << 10)
            let failure = S3ErrorResponse(status: status, headers: response.headers, body: errorBody)
            if failure.isRetryable, attempt < configuration.retry.maxAttempts {
                try await backOff(
                    beforeRetry: attempt, reason: failure.code ?? "HTTP \(status)",
                    logger: logger
                )
                attempt += 1
                continue
            }
            let error = failure.objectStoreError(context)
            logger.debug(
                "S3 request failed",
                metadata: ["s3.status": "\(status)", "s3.error": "\(error.code)", "s3.code": "\(failure.code ?? "")"]
            )
            throw error
        }
    }

    /// Sends `request` and reads its whole (small) answer, such as an XML
    /// document or the empty body of a PUT; reading it to the end keeps the
    /// connection reusable.
    func sendAndCollect(_ request: S3Request, limit: Int = 32 << 20) async throws -> (
        headers: HTTPHeaders, body: ByteBuffer
    ) {
        let response = try await send(request)
        do {
            return (response.headers, try await response.body.collect(upTo: limit))
        } catch {
            let context = errorContext(for: request)
            if let classified = S3TransportError.classify(error, context: context, timeouts: configuration.timeouts) {
                throw classified.error
            }
            throw CancellationError()
        }
    }

    /// Waits before retry number `retry` (full jitter), logging why.
    func backOff(beforeRetry retry: Int, reason: String, logger: Logger) async throws {
        let delay = configuration.retry.delay(beforeRetry: retry)
        logger.warning(
            "S3 request failed, retrying",
            metadata: [
                "s3.reason": "\(reason)",
                "s3.delay_ms":
                    "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)",
            ]
        )
        try await Task.sleep(for: delay)
    }

    func errorContext(for request: S3Request) -> S3ErrorContext {
        S3ErrorContext(
            operation: request.operation, method: request.method, bucket: configuration.bucket, key: request.key,
            range: request.range, origin: endpoint.origin, accessKeyID: configuration.accessKeyID
        )
    }
}

/// A response body that reports transfer failures as `ObjectStoreError`s.
/// Reading it pulls from the connection: nothing is buffered ahead.
struct S3ResponseBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let base: HTTPClientResponse.Body
    let mapError: @Sendable (any Error) -> ObjectStoreError?

    init(_ base: HTTPClientResponse.Body, mapError: @escaping @Sendable (any Error) -> ObjectStoreError?) {
        self.base = base
        self.mapError = mapError
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        let mapError: @Sendable (any Error) -> ObjectStoreError?

        mutating func next() async throws -> ByteBuffer? {
            do {
                return try await base.next()
            } catch {
                guard let mapped = mapError(error) else { throw CancellationError() }
                throw mapped
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), mapError: mapError)
    }
}
