/// Why an object-store operation failed.
///
/// Messages name the key, bucket or endpoint involved and what to do; they
/// never contain credentials, signatures or whole presigned URLs, so they are
/// safe to log and to return from the admin API.
public struct ObjectStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. `rawValue` is short and stable: use it as a metrics label.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No object under the key (S3 `NoSuchKey`, 404).
        public static let notFound = Code(rawValue: "not_found")
        /// The bucket does not exist (S3 `NoSuchBucket`).
        public static let noSuchBucket = Code(rawValue: "no_such_bucket")
        /// The credentials are valid but not allowed to do this (S3 `AccessDenied`).
        public static let accessDenied = Code(rawValue: "access_denied")
        /// The access key is unknown (S3 `InvalidAccessKeyId`).
        public static let invalidAccessKey = Code(rawValue: "invalid_access_key")
        /// The request's signature did not verify: usually a wrong secret key
        /// or a clock far off (S3 `SignatureDoesNotMatch`, `RequestTimeTooSkewed`).
        public static let signatureMismatch = Code(rawValue: "signature_mismatch")
        /// A range that starts past the end of the object (416).
        public static let invalidRange = Code(rawValue: "invalid_range")
        /// The key is not acceptable: empty, absolute, or with `.`/`..`/empty segments.
        public static let invalidKey = Code(rawValue: "invalid_key")
        /// The store does not hand out presigned URLs (the disk store).
        public static let presignUnsupported = Code(rawValue: "presign_unsupported")
        /// The store is asking clients to slow down (S3 `SlowDown`, 503).
        public static let slowDown = Code(rawValue: "slow_down")
        /// The store answered 5xx.
        public static let serverError = Code(rawValue: "server_error")
        /// The store could not be reached (connection refused, DNS, TLS).
        public static let unreachable = Code(rawValue: "unreachable")
        /// The store did not answer in time.
        public static let timeout = Code(rawValue: "timeout")
        /// A body was larger than the caller allowed.
        public static let tooLarge = Code(rawValue: "too_large")
        /// Any other refusal from the store (an unexpected 4xx).
        public static let rejected = Code(rawValue: "rejected")
        /// A local file-system failure (disk store).
        public static let io = Code(rawValue: "io")
        /// The store's answer could not be understood.
        public static let invalidResponse = Code(rawValue: "invalid_response")
        /// The store's own configuration is unusable (endpoint, bucket name,
        /// part sizes, CA file): fix the named setting and restart.
        public static let invalidConfiguration = Code(rawValue: "invalid_configuration")
        /// A caller passed a value outside what the operation accepts (e.g. a
        /// presigned URL lifetime over 7 days).
        public static let invalidArgument = Code(rawValue: "invalid_argument")
    }

    public let code: Code
    /// A sentence for people: what failed and what to do.
    public let message: String
    /// The HTTP status the store answered with, when it answered.
    public let status: Int?

    public init(code: Code, message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Whether repeating the same request later may succeed: connection
    /// failures, timeouts, 5xx and SlowDown. Other 4xx never are.
    public var isTransient: Bool {
        switch code {
        case .unreachable, .timeout, .serverError, .slowDown: true
        default: false
        }
    }

    public static func notFound(_ key: String) -> ObjectStoreError {
        ObjectStoreError(code: .notFound, message: "no object at '\(key)'", status: 404)
    }

    public static func invalidKey(_ key: String, _ reason: String) -> ObjectStoreError {
        ObjectStoreError(
            code: .invalidKey,
            message:
                "object key '\(key.prefix(200))' is not allowed: \(reason); keys are relative '/'-separated paths without empty, '.' or '..' segments"
        )
    }

    public static func invalidRange(_ range: ByteRange, size: Int64) -> ObjectStoreError {
        ObjectStoreError(
            code: .invalidRange, message: "range \(range) starts past the end of a \(size)-byte object", status: 416)
    }

    public static func tooLarge(limit: Int) -> ObjectStoreError {
        ObjectStoreError(
            code: .tooLarge, message: "object is larger than the \(limit)-byte limit for reading it into memory")
    }

    public static func io(_ message: String) -> ObjectStoreError {
        ObjectStoreError(code: .io, message: message)
    }

    public static func presignUnsupported(_ store: String) -> ObjectStoreError {
        ObjectStoreError(
            code: .presignUnsupported,
            message:
                "the \(store) store does not issue presigned URLs; read its objects with get() or serve its files directly"
        )
    }
}

/// Checks that `key` is a relative, normalised object key.
///
/// Every store applies this before touching the key, so that no caller can
/// address something outside the bucket prefix or the disk store's root.
public func validateObjectKey(_ key: String) throws {
    if key.isEmpty { throw ObjectStoreError.invalidKey(key, "it is empty") }
    if key.utf8.count > 1024 { throw ObjectStoreError.invalidKey(key, "it is longer than 1024 bytes") }
    if key.hasPrefix("/") { throw ObjectStoreError.invalidKey(key, "it starts with '/'") }
    for scalar in key.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7f || scalar == "\\" {
        throw ObjectStoreError.invalidKey(key, "it contains a control character or a backslash")
    }
    for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
        if segment.isEmpty { throw ObjectStoreError.invalidKey(key, "it has an empty segment") }
        if segment == "." || segment == ".." { throw ObjectStoreError.invalidKey(key, "it has a '\(segment)' segment") }
    }
}

/// Checks a listing or deletion prefix: empty, or a valid key prefix.
func validateObjectPrefix(_ prefix: String) throws {
    guard !prefix.isEmpty else { return }
    // A prefix may end with "/" (a "directory"); validate the rest as a key.
    let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    try validateObjectKey(trimmed)
}
