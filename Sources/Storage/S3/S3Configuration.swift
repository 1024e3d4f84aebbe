/// Everything `S3ObjectStore` needs to reach one bucket of an S3-compatible
/// store: Cloudflare R2, AWS S3, MinIO or Ceph RADOS Gateway.
///
/// The value is plain data; `S3ObjectStore.init` validates it and refuses an
/// unusable one (bad endpoint, bucket name, part sizes, CA file) with an
/// `ObjectStoreError` of code `invalidConfiguration`.
///
/// Its `description`, `debugDescription` and reflection never show the secret
/// access key, so the value is safe to log.
public struct S3Configuration: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// How the bucket appears in request URLs.
    public enum Addressing: String, Sendable, Hashable {
        /// `https://endpoint/bucket/key`: works everywhere (MinIO and Ceph
        /// usually need it; R2 accepts it).
        case path
        /// `https://bucket.endpoint/key`: AWS's default. Needs DNS for
        /// `bucket.endpoint`.
        case virtualHosted
    }

    /// Request time limits.
    public struct Timeouts: Sendable, Hashable {
        /// Time to open a TCP (and TLS) connection.
        public var connect: Duration
        /// Time from sending a request without a body until the response
        /// head arrives. A response body is then governed by `idleRead`.
        public var response: Duration
        /// Longest silence while reading a response body or writing a request
        /// body before the transfer is abandoned.
        public var idleRead: Duration
        /// Slowest upload rate tolerated, in bytes per second. A request with
        /// a body may take `response + bodySize / minimumUploadRate` to be
        /// answered, so a large part on a slow link is not cut off.
        public var minimumUploadRate: Int

        /// - Parameters:
        ///   - connect: TCP/TLS connect limit (default 5 s).
        ///   - response: limit until a response head for bodiless requests (default 30 s).
        ///   - idleRead: longest pause inside a body (default 30 s).
        ///   - minimumUploadRate: slowest tolerated upload rate (default 256 KiB/s).
        public init(
            connect: Duration = .seconds(5), response: Duration = .seconds(30), idleRead: Duration = .seconds(30),
            minimumUploadRate: Int = 256 << 10
        ) {
            self.connect = connect
            self.response = response
            self.idleRead = idleRead
            self.minimumUploadRate = minimumUploadRate
        }

        /// How long to wait for the response head of a request carrying
        /// `bodyBytes` bytes.
        func responseDeadline(bodyBytes: Int) -> Duration {
            guard bodyBytes > 0, minimumUploadRate > 0 else { return response }
            let uploadMilliseconds = Int64(bodyBytes) * 1000 / Int64(minimumUploadRate)
            return response + .milliseconds(uploadMilliseconds)
        }
    }

    /// Base URL of the store, `http://` or `https://`, without a path:
    /// `https://<account>.r2.cloudflarestorage.com`, `https://s3.us-east-1.amazonaws.com`,
    /// `http://127.0.0.1:7480`.
    public var endpoint: String
    /// The bucket holding every object of this store.
    public var bucket: String
    /// Signing region: `auto` for R2, the bucket's region for AWS, usually
    /// `us-east-1` for MinIO and Ceph.
    public var region: String
    /// Access key id (not secret; shown in logs).
    public var accessKeyID: String
    /// Secret access key. Never logged, never part of an error message.
    public var secretAccessKey: String
    /// Path-style or virtual-hosted URLs.
    public var addressing: Addressing
    /// Prepended to every key, so that several installations can share one
    /// bucket (`""` for none; otherwise it must end with `/`). Listings strip it.
    public var keyPrefix: String
    /// Bodies larger than this are uploaded in parts (multipart upload);
    /// smaller ones in one PUT. At least `partSize`.
    public var multipartThreshold: Int
    /// Size of each part of a multipart upload (the last one may be
    /// smaller). S3 requires at least 5 MiB.
    public var partSize: Int
    /// How failed requests are retried.
    public var retry: RetryPolicy
    /// Request time limits.
    public var timeouts: Timeouts
    /// A PEM file with extra CA certificates to trust for `https` endpoints
    /// (a self-signed Ceph or MinIO certificate), on top of the system's.
    public var caCertificateFile: String?
    /// At most this many pooled connections per host.
    public var maximumConnections: Int

    /// The smallest part S3 accepts (except for the last part).
    public static let minimumPartSize = 5 << 20
    /// The most parts one multipart upload may have.
    public static let maximumPartCount = 10_000

    /// - Parameters:
    ///   - endpoint: base URL, `http://` or `https://`.
    ///   - bucket: bucket name.
    ///   - region: signing region (`auto` for R2).
    ///   - accessKeyID: access key id.
    ///   - secretAccessKey: secret access key.
    ///   - addressing: path-style (default) or virtual-hosted URLs.
    ///   - keyPrefix: prefix inside the bucket, `""` or ending with `/`.
    ///   - multipartThreshold: size above which uploads use parts (16 MiB).
    ///   - partSize: size of each part (8 MiB).
    ///   - retry: retry policy.
    ///   - timeouts: request time limits.
    ///   - caCertificateFile: extra trusted CA certificates (PEM).
    ///   - maximumConnections: pooled connections per host (default 32).
    public init(
        endpoint: String, bucket: String, region: String = "auto", accessKeyID: String, secretAccessKey: String,
        addressing: Addressing = .path, keyPrefix: String = "", multipartThreshold: Int = 16 << 20,
        partSize: Int = 8 << 20, retry: RetryPolicy = RetryPolicy(), timeouts: Timeouts = Timeouts(),
        caCertificateFile: String? = nil, maximumConnections: Int = 32
    ) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.addressing = addressing
        self.keyPrefix = keyPrefix
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
        self.retry = retry
        self.timeouts = timeouts
        self.caCertificateFile = caCertificateFile
        self.maximumConnections = maximumConnections
    }

    /// Every setting except the secret access key, which shows as `<redacted>`.
    public var description: String {
        "S3Configuration(endpoint: \(endpoint), bucket: \(bucket), region: \(region), accessKeyID: \(accessKeyID), "
            + "secretAccessKey: <redacted>, addressing: \(addressing.rawValue), keyPrefix: '\(keyPrefix)', "
            + "multipartThreshold: \(multipartThreshold), partSize: \(partSize), retry: \(retry), "
            + "caCertificateFile: \(caCertificateFile ?? "none"))"
    }

    /// Same as `description`: the secret never shows.
    public var debugDescription: String { description }

    /// The fields `dump` and debuggers show, with the secret redacted.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "endpoint": endpoint, "bucket": bucket, "region": region, "accessKeyID": accessKeyID,
                "secretAccessKey": "<redacted>", "addressing": addressing, "keyPrefix": keyPrefix,
                "multipartThreshold": multipartThreshold, "partSize": partSize, "retry": retry, "timeouts": timeouts,
                "caCertificateFile": caCertificateFile as Any, "maximumConnections": maximumConnections,
            ],
            displayStyle: .struct
        )
    }
}

extension S3Configuration {
    /// Checks every field and resolves the endpoint.
    /// - Throws: `ObjectStoreError` with code `invalidConfiguration`, naming
    ///   the field and the setting to fix.
    func validated() throws -> S3Endpoint {
        func invalid(_ message: String) -> ObjectStoreError {
            ObjectStoreError(code: .invalidConfiguration, message: message)
        }
        let endpoint = try S3Endpoint(parsing: endpoint)
        guard Self.isValidBucketName(bucket) else {
            throw invalid(
                "bucket name '\(bucket.prefix(80))' is not valid: use 3-63 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (SLIPWAY_S3_BUCKET)"
            )
        }
        if addressing == .virtualHosted && endpoint.isIPAddress {
            throw invalid(
                "virtual-hosted addressing needs a DNS name, but the endpoint \(endpoint.origin) is an IP address: use path-style addressing"
            )
        }
        guard !region.isEmpty, region.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "/") }) else {
            throw invalid(
                "region '\(region.prefix(40))' is not valid: use 'auto' for R2 or the bucket's region (SLIPWAY_S3_REGION)"
            )
        }
        guard !accessKeyID.isEmpty, accessKeyID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "/") })
        else {
            throw invalid(
                "the access key id is empty or contains spaces, '/' or non-ASCII characters (SLIPWAY_S3_ACCESS_KEY_ID)")
        }
        guard !secretAccessKey.isEmpty else {
            throw invalid("the secret access key is empty (SLIPWAY_S3_SECRET_ACCESS_KEY)")
        }
        if !keyPrefix.isEmpty {
            guard keyPrefix.hasSuffix("/") else {
                throw invalid("key prefix '\(keyPrefix.prefix(80))' must end with '/'")
            }
            do {
                try validateObjectKey(String(keyPrefix.dropLast()))
            } catch let error as ObjectStoreError {
                throw invalid("key prefix is not valid: \(error.message)")
            }
        }
        guard partSize >= Self.minimumPartSize else {
            throw invalid("part size \(partSize) is below S3's minimum of \(Self.minimumPartSize) bytes")
        }
        guard partSize <= 5 << 30 else {
            throw invalid("part size \(partSize) is above S3's maximum of 5 GiB")
        }
        guard multipartThreshold >= partSize, multipartThreshold <= 5 << 30 else {
            throw invalid(
                "multipart threshold \(multipartThreshold) must be at least the part size (\(partSize)) and at most 5 GiB"
            )
        }
        guard retry.maxAttempts >= 1, retry.baseDelay >= .zero, retry.maxDelay >= retry.baseDelay else {
            throw invalid(
                "retry policy \(retry) is not valid: at least one attempt, and 0 <= base delay <= maximum delay")
        }
        guard timeouts.connect > .zero, timeouts.response > .zero, timeouts.idleRead > .zero else {
            throw invalid("timeouts must be positive")
        }
        guard maximumConnections >= 1 else {
            throw invalid("maximumConnections must be at least 1")
        }
        return endpoint
    }

    /// S3's bucket naming rules (the DNS-compatible subset every provider accepts).
    static func isValidBucketName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard isLowerAlphanumeric(bytes.first!), isLowerAlphanumeric(bytes.last!) else { return false }
        guard bytes.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }) else {
            return false
        }
        return !name.contains("..")
    }
}
