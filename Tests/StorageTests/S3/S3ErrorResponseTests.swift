import NIOCore
import NIOHTTP1
import Testing

@testable import Storage

@Suite struct S3ErrorResponseTests {
    static let context = S3ErrorContext(
        operation: "GetObject", method: .GET, bucket: "sites", key: "a/b.txt", range: ByteRange(first: 10),
        origin: "https://store.example", accessKeyID: "AKID"
    )

    static func error(_ status: Int, code: String?, method: HTTPMethod = .GET, headers: HTTPHeaders = [:])
        -> ObjectStoreError
    {
        var context = Self.context
        context.method = method
        let body = code.map {
            ByteBuffer(
                string:
                    "<?xml version=\"1.0\"?><Error><Code>\($0)</Code><Message>m</Message><RequestId>r1</RequestId></Error>"
            )
        }
        return S3ErrorResponse(status: status, headers: headers, body: body).objectStoreError(context)
    }

    @Test func s3ErrorCodesMapToTypedErrors() {
        #expect(Self.error(404, code: "NoSuchKey").code == .notFound)
        #expect(Self.error(404, code: "NoSuchBucket").code == .noSuchBucket)
        #expect(Self.error(403, code: "AccessDenied").code == .accessDenied)
        #expect(Self.error(403, code: "InvalidAccessKeyId").code == .invalidAccessKey)
        #expect(Self.error(403, code: "SignatureDoesNotMatch").code == .signatureMismatch)
        #expect(Self.error(403, code: "RequestTimeTooSkewed").code == .signatureMismatch)
        #expect(Self.error(503, code: "SlowDown").code == .slowDown)
        #expect(Self.error(500, code: "InternalError").code == .serverError)
        #expect(Self.error(502, code: nil).code == .serverError)
        #expect(Self.error(400, code: "InvalidArgument").code == .rejected)
        #expect(Self.error(409, code: "BucketNotEmpty").code == .rejected)
        #expect(Self.error(416, code: "InvalidRange").code == .invalidRange)
    }

    @Test func headAnswersWithoutBodyAreMappedByStatus() {
        #expect(Self.error(404, code: nil, method: .HEAD).code == .notFound)
        let denied = Self.error(403, code: nil, method: .HEAD)
        #expect(denied.code == .accessDenied)
        #expect(denied.message.contains("SLIPWAY_S3_SECRET_ACCESS_KEY"))
        #expect(Self.error(503, code: nil, method: .HEAD).code == .slowDown)
        #expect(Self.error(500, code: nil, method: .HEAD).code == .serverError)
        #expect(Self.error(416, code: nil, headers: ["content-range": "bytes */5"]).message.contains("5-byte object"))
    }

    @Test func messagesNameTheSettingToCheck() {
        #expect(Self.error(403, code: "InvalidAccessKeyId").message.contains("SLIPWAY_S3_ACCESS_KEY_ID"))
        #expect(Self.error(403, code: "SignatureDoesNotMatch").message.contains("SLIPWAY_S3_SECRET_ACCESS_KEY"))
        #expect(Self.error(403, code: "RequestTimeTooSkewed").message.contains("clock"))
        #expect(Self.error(404, code: "NoSuchBucket").message.contains("SLIPWAY_S3_BUCKET"))
        #expect(Self.error(404, code: "NoSuchKey").message.contains("a/b.txt"))
    }

    @Test func echoedSigningDetailsNeverReachTheMessage() {
        let body = ByteBuffer(
            string: """
                <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message>
                <StringToSign>AWS4-HMAC-SHA256 20240101T000000Z scope deadbeef</StringToSign>
                <SignatureProvided>0123456789abcdef</SignatureProvided><CanonicalRequest>GET /a</CanonicalRequest></Error>
                """)
        let error = S3ErrorResponse(status: 403, headers: [:], body: body).objectStoreError(Self.context)
        #expect(error.code == .signatureMismatch)
        #expect(!error.message.contains("0123456789abcdef"))
        #expect(!error.message.contains("deadbeef"))
    }

    @Test func retryableAnswersAreServerErrorsAndThrottling() {
        func retryable(_ status: Int, _ code: String?) -> Bool {
            S3ErrorResponse(
                status: status, headers: [:], body: code.map { ByteBuffer(string: "<Error><Code>\($0)</Code></Error>") }
            ).isRetryable
        }
        #expect(retryable(500, "InternalError"))
        #expect(retryable(503, "SlowDown"))
        #expect(retryable(503, nil))
        #expect(retryable(200, "InternalError"))
        #expect(!retryable(403, "AccessDenied"))
        #expect(!retryable(404, "NoSuchKey"))
        #expect(!retryable(400, "InvalidArgument"))
    }

    @Test func responseHeadersAreParsed() {
        #expect(S3ObjectStore.parseContentRange("bytes 0-9/100")?.range == 0...9)
        #expect(S3ObjectStore.parseContentRange("bytes 0-9/100")?.size == 100)
        #expect(S3ObjectStore.parseContentRange("bytes 5-4/100") == nil)
        #expect(S3ObjectStore.parseContentRange("bytes 0-100/100") == nil)
        #expect(S3ObjectStore.parseContentRange("bytes */100") == nil)
        #expect(S3ObjectStore.unquoteETag("\"abc-2\"") == "abc-2")
        #expect(S3ObjectStore.unquoteETag("W/\"abc\"") == "abc")
        #expect(S3ObjectStore.unquoteETag("abc") == "abc")
        #expect(S3ObjectStore.formDecode("a+b%2Bc%20%C3%A9") == "a b+c é")
        #expect(S3ObjectStore.formDecode("bad%2") == nil)
        #expect(S3ObjectStore.formDecode("%FF") == nil)
        #expect(S3XML.escape("a&b<c>\"d'") == "a&amp;b&lt;c&gt;&quot;d&apos;")
    }
}
