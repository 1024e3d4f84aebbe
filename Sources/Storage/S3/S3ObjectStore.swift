import AsyncHTTPClient
public import Foundation
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// An `ObjectStore` over one bucket of an S3-compatible store: Cloudflare R2,
/// AWS S3, MinIO, Ceph RADOS Gateway.
///
/// - Requests are signed with AWS Signature V4 and sent through the store's
///   own `HTTPClient` (redirects off, no response decompression, pooled
///   connections). Call `shutdown()` once the store is no longer used.
/// - `get` streams: the returned body pulls bytes from the connection as the
///   caller reads it, so memory stays flat for any object size.
/// - `put` reads its body into memory up to `multipartThreshold`; a body that
///   ends before is sent in one PUT, a larger one as a multipart upload of
///   `partSize` parts, holding at most about two parts in memory.
/// - Transient failures (connection errors, timeouts, 5xx, `SlowDown`) are
///   retried per `S3Configuration.retry` with capped exponential backoff and
///   full jitter; other 4xx answers never are. Every request body is in
///   memory when sent, so retrying one is always safe.
/// - Errors are `ObjectStoreError`s whose messages say what failed and which
///   setting to check, and never contain the secret key or a signature.
public final class S3ObjectStore: ObjectStore, CustomStringConvertible {
    /// The configuration the store was made with (its description hides the secret).
    public let configuration: S3Configuration
    let endpoint: S3Endpoint
    let signer: SigV4Signer
    let client: HTTPClient
    let logger: Logger
    private let isShutDown = NIOLockedValueBox(false)

    /// Creates a store and its HTTP client.
    /// - Parameters:
    ///   - configuration: endpoint, bucket, credentials and tuning.
    ///   - logger: receives one debug line per request and a warning per retry
    ///     (structured metadata; never credentials).
    ///   - clock: the time used for signing; inject a fixed one in tests.
    ///   - eventLoopGroup: where connections live; NIO's shared group when nil.
    /// - Throws: `ObjectStoreError` (`invalidConfiguration`) when the
    ///   configuration is unusable or the CA file cannot be read.
    public init(
        configuration: S3Configuration, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() },
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) throws {
        self.endpoint = try configuration.validated()
        self.configuration = configuration
        self.signer = SigV4Signer(
            accessKeyID: configuration.accessKeyID, secretAccessKey: configuration.secretAccessKey,
            region: configuration.region, service: "s3", clock: clock
        )
        var logger = logger
        logger[metadataKey: "s3.bucket"] = "\(configuration.bucket)"
        self.logger = logger

        var http = HTTPClient.Configuration()
        http.redirectConfiguration = .disallow
        http.decompression = .disabled
        // HTTP/1.1 everywhere: Ceph and MinIO speak nothing else, and one
        // transfer per connection keeps backpressure per download simple.
        http.httpVersion = .http1Only
        http.timeout = HTTPClient.Configuration.Timeout(
            connect: TimeAmount(configuration.timeouts.connect), read: TimeAmount(configuration.timeouts.idleRead),
            write: TimeAmount(configuration.timeouts.idleRead)
        )
        var pool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maximumConnections
        )
        // Fail a request as soon as its connection cannot be made; this
        // store's own retry policy decides whether and when to try again,
        // so an unreachable store is reported within a bounded time.
        pool.retryConnectionEstablishment = false
        http.connectionPool = pool
        if endpoint.isTLS {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let caFile = configuration.caCertificateFile {
                do {
                    let certificates = try NIOSSLCertificate.fromPEMFile(caFile)
                    guard !certificates.isEmpty else { throw NIOSSLError.failedToLoadCertificate }
                    tls.additionalTrustRoots = [.certificates(certificates)]
                } catch {
                    throw ObjectStoreError(
                        code: .invalidConfiguration,
                        message:
                            "cannot read CA certificates from '\(caFile)' (\(error)): point SLIPWAY_S3_CA_FILE at a PEM file"
                    )
                }
            }
            http.tlsConfiguration = tls
        }
        self.client = HTTPClient(
            eventLoopGroup: eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton, configuration: http,
            backgroundActivityLogger: logger
        )
    }

    /// Closes the store's connections. Call it once, when nothing uses the
    /// store any more; later calls do nothing.
    public func shutdown() async throws {
        let first = isShutDown.withLockedValue { done in
            defer { done = true }
            return !done
        }
        if first { try await client.shutdown() }
    }

    /// Endpoint, bucket and key prefix, for logs.
    public var description: String {
        "S3ObjectStore(\(endpoint.origin), bucket: \(configuration.bucket), prefix: '\(configuration.keyPrefix)')"
    }

    // MARK: - ObjectStore

    /// Streams the object under `key`, or the byte range `range` of it, with
    /// a GetObject request (`Range: bytes=first-last`).
    ///
    /// The returned body wraps the HTTP response body: nothing is read until
    /// the caller iterates it, each chunk is pulled from the connection as it
    /// is asked for (a slow reader slows the store down instead of filling
    /// memory), and dropping it unread closes the connection. Failures while
    /// streaming surface as `ObjectStoreError`s (`timeout` after the idle
    /// timeout, `unreachable` for a dropped connection). Only the request up
    /// to the response head is retried.
    ///
    /// `range` of the result is the bytes the body really carries (a range
    /// reaching past the end is clamped by the store), `info.size` the whole
    /// object's size.
    /// - Throws: `ObjectStoreError.notFound`, `.invalidRange` (the range
    ///   starts at or past the end), or any other `ObjectStoreError`.
    public func get(_ key: String, range: ByteRange?) async throws -> ObjectDownload {
        try validateObjectKey(key)
        var request = S3Request(operation: "GetObject", method: .GET, key: key)
        request.range = range
        if let range { request.headers.append(("range", range.headerValue)) }
        let response = try await send(request)
        let headers = response.headers
        guard let info = objectInfo(key: key, headers: headers, status: Int(response.status.code)) else {
            throw ObjectStoreError(
                code: .invalidResponse,
                message:
                    "the store's answer to GetObject \(errorContext(for: request).target) has no usable Content-Length or Content-Range"
            )
        }
        let bytes: Range<Int64>
        if response.status == .partialContent {
            guard let contentRange = Self.parseContentRange(headers.first(name: "content-range")) else {
                throw ObjectStoreError(
                    code: .invalidResponse,
                    message:
                        "the store answered GetObject \(errorContext(for: request).target) with 206 but no valid Content-Range"
                )
            }
            bytes = contentRange.range.lowerBound..<(contentRange.range.upperBound + 1)
        } else {
            // 200: the whole object (a range covering it, or a store that ignores Range).
            bytes = 0..<info.size
        }
        let context = errorContext(for: request)
        let timeouts = configuration.timeouts
        let body = S3ResponseBody(response.body) { error in
            S3TransportError.classify(error, context: context, timeouts: timeouts)?.error
        }
        return ObjectDownload(info: info, range: bytes, body: ObjectByteStream(body))
    }

    /// Size, ETag (without quotes), content type, cache-control,
    /// content-encoding and last-modified time of the object under `key`
    /// (HeadObject). A HEAD answer has no body, so failures are typed by
    /// status alone: 404 is `notFound`, 403 `accessDenied`.
    public func head(_ key: String) async throws -> ObjectInfo {
        try validateObjectKey(key)
        let request = S3Request(operation: "HeadObject", method: .HEAD, key: key)
        let response = try await send(request)
        guard let info = objectInfo(key: key, headers: response.headers, status: Int(response.status.code)) else {
            throw ObjectStoreError(
                code: .invalidResponse,
                message: "the store's answer to HeadObject \(errorContext(for: request).target) has no Content-Length"
            )
        }
        return info
    }

    /// A SigV4 presigned GET URL for `key`, valid for `expiresIn` (1 second to
    /// 7 days, whole seconds) from the store's clock. Signed offline: no
    /// request is made, and any HTTP client can fetch the URL (a `Range`
    /// header may be added; only `host` is signed).
    /// - Throws: `ObjectStoreError.invalidKey`, or `.invalidArgument` for a
    ///   lifetime outside 1 s to 7 days.
    public func presignedGET(key: String, expiresIn: Duration) throws -> PresignedURL {
        try validateObjectKey(key)
        let seconds = expiresIn.components.seconds
        guard seconds >= 1, seconds <= Int64(SigV4Signer.maximumPresignedLifetime) else {
            throw ObjectStoreError(
                code: .invalidArgument,
                message: "a presigned URL must live between 1 second and 7 days, not \(expiresIn)"
            )
        }
        let target = endpoint.target(
            bucket: configuration.bucket, key: configuration.keyPrefix + key, addressing: configuration.addressing
        )
        let signed = try signer.presignURL(
            method: "GET", scheme: target.scheme, host: target.host, encodedPath: target.encodedPath,
            expiresIn: Int(seconds)
        )
        return PresignedURL(url: signed.url, expires: signed.expires)
    }

    // MARK: - Response parsing

    /// Metadata from a GET or HEAD answer; nil without a usable size.
    func objectInfo(key: String, headers: HTTPHeaders, status: Int) -> ObjectInfo? {
        let size: Int64
        if status == 206 {
            guard let contentRange = Self.parseContentRange(headers.first(name: "content-range")) else { return nil }
            size = contentRange.size
        } else {
            guard let length = headers.first(name: "content-length").flatMap({ Int64($0) }), length >= 0 else {
                return nil
            }
            size = length
        }
        return ObjectInfo(
            key: key, size: size, etag: Self.unquoteETag(headers.first(name: "etag") ?? ""),
            contentType: headers.first(name: "content-type"), cacheControl: headers.first(name: "cache-control"),
            contentEncoding: headers.first(name: "content-encoding"),
            lastModified: headers.first(name: "last-modified").flatMap(S3Dates.parseHTTPDate)
        )
    }

    /// `bytes first-last/size` -> (first...last, size).
    static func parseContentRange(_ value: String?) -> (range: ClosedRange<Int64>, size: Int64)? {
        guard let value, value.hasPrefix("bytes ") else { return nil }
        let spec = value.dropFirst("bytes ".count)
        let halves = spec.split(separator: "/", maxSplits: 1)
        guard halves.count == 2, let size = Int64(halves[1]) else { return nil }
        let bounds = halves[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first <= last, last < size
        else { return nil }
        return (first...last, size)
    }

    /// An ETag without its quotes (and without a weak validator's `W/`).
    static func unquoteETag(_ value: String) -> String {
        var tag = Substring(value)
        if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
        if tag.count >= 2, tag.hasPrefix("\""), tag.hasSuffix("\"") { tag = tag.dropFirst().dropLast() }
        return String(tag)
    }
}
