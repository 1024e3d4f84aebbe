import NIOCore
import NIOHTTP1

/// An S3 error answer: the HTTP status plus, when the response had a body,
/// the `<Error>` document's code and message.
///
/// ```xml
/// <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>
///   <Key>a.txt</Key><RequestId>…</RequestId></Error>
/// ```
///
/// `SignatureDoesNotMatch` documents also carry the string to sign and the
/// canonical request; only `Code`, `Message` and `RequestId` are kept, so
/// nothing the store echoes back ends up in an error message.
struct S3ErrorResponse: Sendable, Hashable {
    var status: Int
    /// S3's error code (`NoSuchKey`, `SlowDown`, …), when known.
    var code: String?
    /// S3's human message, shortened.
    var message: String?
    var requestID: String?
    /// The object's total size, from `Content-Range: bytes */size` on a 416.
    var objectSize: Int64?

    /// Reads an error from a status, its headers and (for all but HEAD) its body.
    init(status: Int, headers: HTTPHeaders, body: ByteBuffer?) {
        if let body, body.readableBytes > 0, let root = try? S3XML.parse(body, what: "error"), root.name == "Error" {
            self.init(status: status, document: root)
        } else {
            // HEAD answers and some proxies carry no document; a few stores
            // put the code in a header instead.
            self.init(
                status: status,
                code: headers.first(name: "x-amz-error-code") ?? headers.first(name: "x-minio-error-code"),
                message: headers.first(name: "x-amz-error-message").map { String($0.prefix(300)) },
                requestID: nil
            )
        }
        if let contentRange = headers.first(name: "content-range"), contentRange.hasPrefix("bytes */") {
            objectSize = Int64(contentRange.dropFirst("bytes */".count))
        }
        if requestID == nil { requestID = headers.first(name: "x-amz-request-id") }
    }

    private init(status: Int, code: String?, message: String?, requestID: String?) {
        self.status = status
        self.code = code
        self.message = message
        self.requestID = requestID
    }

    /// Reads an `<Error>` element (also found inside a 200 answer to
    /// CompleteMultipartUpload).
    init(status: Int, document: S3XMLElement) {
        self.status = status
        code = document.text(of: "Code").flatMap { $0.isEmpty ? nil : $0 }
        message = document.text(of: "Message").map { String($0.prefix(300)) }
        requestID = document.text(of: "RequestId")
    }

    /// Whether repeating the request may succeed: 5xx and throttling.
    var isRetryable: Bool {
        status >= 500 || code == "SlowDown" || code == "InternalError" || code == "RequestTimeout" || status == 429
    }

    /// The typed error for this answer.
    func objectStoreError(_ context: S3ErrorContext) -> ObjectStoreError {
        let detail = describeDetail()
        let effectiveCode = code ?? Self.defaultCode(status: status)
        if let key = context.key, effectiveCode == "NoSuchKey" || effectiveCode == "NotFound" {
            return ObjectStoreError.notFound(key)
        }
        switch effectiveCode {
        case "NoSuchBucket", "NotFound":
            return ObjectStoreError(
                code: .noSuchBucket,
                message:
                    "bucket '\(context.bucket)' does not exist at \(context.origin) (\(context.operation)): create it or check SLIPWAY_S3_BUCKET and SLIPWAY_S3_ENDPOINT",
                status: status
            )
        case "InvalidAccessKeyId":
            return ObjectStoreError(
                code: .invalidAccessKey,
                message:
                    "the store at \(context.origin) does not know access key id '\(context.accessKeyID)' (\(context.operation) \(context.target)): check SLIPWAY_S3_ACCESS_KEY_ID",
                status: status
            )
        case "SignatureDoesNotMatch":
            return ObjectStoreError(
                code: .signatureMismatch,
                message:
                    "the store rejected the request signature for \(context.operation) \(context.target): check SLIPWAY_S3_SECRET_ACCESS_KEY (it must belong to access key '\(context.accessKeyID)') and SLIPWAY_S3_REGION\(detail)",
                status: status
            )
        case "RequestTimeTooSkewed":
            return ObjectStoreError(
                code: .signatureMismatch,
                message:
                    "the store rejected \(context.operation) \(context.target) because this machine's clock is too far from the store's (more than 15 minutes): synchronise the clock (NTP)",
                status: status
            )
        case "AccessDenied", "AllAccessDisabled", "Forbidden":
            let hint =
                context.method == .HEAD
                ? " (a HEAD answer carries no reason: a wrong secret key, an unknown access key or a missing permission all look alike; check SLIPWAY_S3_ACCESS_KEY_ID and SLIPWAY_S3_SECRET_ACCESS_KEY)"
                : ": give access key '\(context.accessKeyID)' read and write permission on bucket '\(context.bucket)'"
            return ObjectStoreError(
                code: .accessDenied,
                message: "access denied for \(context.operation) \(context.target)\(hint)\(detail)",
                status: status
            )
        case "InvalidRange":
            if let range = context.range, let size = objectSize {
                return ObjectStoreError.invalidRange(range, size: size)
            }
            return ObjectStoreError(
                code: .invalidRange,
                message: "range \(context.range.map { "\($0)" } ?? "?") starts past the end of \(context.target)",
                status: status
            )
        case "SlowDown":
            return ObjectStoreError(
                code: .slowDown,
                message:
                    "the store asked to slow down (503 SlowDown) on \(context.operation) \(context.target)\(context.attemptsNote): lower upload concurrency or retry later",
                status: status
            )
        default:
            if status >= 500 || effectiveCode == "InternalError" {
                return ObjectStoreError(
                    code: .serverError,
                    message:
                        "the store at \(context.origin) failed \(context.operation) \(context.target) with \(status)\(code.map { " \($0)" } ?? "")\(context.attemptsNote): check the store's health\(detail)",
                    status: status
                )
            }
            return ObjectStoreError(
                code: .rejected,
                message:
                    "the store refused \(context.operation) \(context.target) with \(status)\(code.map { " \($0)" } ?? "")\(detail)",
                status: status
            )
        }
    }

    /// The code S3 would have sent in a body, for answers without one (HEAD).
    private static func defaultCode(status: Int) -> String {
        switch status {
        case 404: "NotFound"
        case 403: "AccessDenied"
        case 416: "InvalidRange"
        case 503: "SlowDown"
        default: ""
        }
    }

    private func describeDetail() -> String {
        var parts: [String] = []
        if let message, !message.isEmpty { parts.append("store says: \(message)") }
        if let requestID, !requestID.isEmpty { parts.append("request id \(requestID)") }
        return parts.isEmpty ? "" : " (\(parts.joined(separator: "; ")))"
    }
}

/// What a failed request was, for error messages.
struct S3ErrorContext: Sendable {
    /// S3 operation name, e.g. `GetObject`.
    var operation: String
    var method: HTTPMethod
    var bucket: String
    /// The caller's key (without the configured prefix), when the request was about one object.
    var key: String?
    var range: ByteRange?
    var origin: String
    var accessKeyID: String
    /// How many attempts were made, once retries are exhausted.
    var attempts: Int = 1

    /// `'key' in bucket 'b'` or `bucket 'b'`.
    var target: String {
        if let key { return "'\(key.prefix(300))' in bucket '\(bucket)'" }
        return "bucket '\(bucket)'"
    }

    var attemptsNote: String { attempts > 1 ? " after \(attempts) attempts" : "" }
}
