import Crypto
public import Foundation
import Model

/// AWS Signature Version 4 for S3-compatible stores: header signing
/// (`Authorization`) and query-string presigning.
///
/// A pure value: the same inputs and the same clock reading always give the
/// same signature. The clock is injected so tests are deterministic and so a
/// URL can be presigned "in the past" to prove the store rejects it expired.
///
/// S3 rules that differ from other AWS services and that this signer follows
/// (and botocore's `S3SigV4Auth` with it):
/// - the canonical URI is the request path exactly as sent, each segment
///   URI-encoded once (`/` kept between segments), never normalised and never
///   encoded twice;
/// - query names and values are URI-encoded with `/` encoded too, then sorted;
/// - every byte other than `A-Z a-z 0-9 - . _ ~` is encoded as `%XX`, upper case.
///
/// The signing key is derived once per (date, region, service) and cached in a
/// small, lock-protected table shared by copies of the signer.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>
/// and <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>.
public struct SigV4Signer: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// A name/value pair of a query string or of the headers to sign.
    public typealias Pair = (name: String, value: String)

    /// The one algorithm this signer implements.
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// `x-amz-content-sha256` for a body that is not hashed (presigned URLs).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// The longest lifetime SigV4 allows for a presigned URL: 7 days.
    public static let maximumPresignedLifetime = 604_800

    /// Access key id placed in every credential scope.
    public let accessKeyID: String
    /// Signing region (`auto` for R2).
    public let region: String
    /// Signing service name (`s3`).
    public let service: String
    private let secretAccessKey: String
    private let clock: @Sendable () -> Date
    private let signingKeys: SigningKeyCache

    /// - Parameters:
    ///   - accessKeyID: access key id.
    ///   - secretAccessKey: secret access key; never exposed by this value.
    ///   - region: signing region.
    ///   - service: signing service, `s3` for object stores.
    ///   - clock: the current time; inject a fixed one in tests.
    public init(
        accessKeyID: String, secretAccessKey: String, region: String, service: String = "s3",
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
        self.clock = clock
        self.signingKeys = SigningKeyCache()
    }

    /// The current time of the injected clock.
    public var now: Date { clock() }

    /// How many derived signing keys are cached (for tests).
    var cachedSigningKeyCount: Int { signingKeys.count }

    /// The result of header signing: the headers the request must carry.
    public struct HeaderSignature: Sendable, Hashable {
        /// Value of the `Authorization` header.
        public var authorization: String
        /// Value of the `x-amz-date` header (`yyyyMMdd'T'HHmmss'Z'`).
        public var amzDate: String
        /// Value of the `x-amz-content-sha256` header.
        public var payloadHash: String
        /// The canonical request that was signed (for diagnostics and tests;
        /// it holds no secret).
        public var canonicalRequest: String
    }

    /// Signs a request for the `Authorization` header.
    ///
    /// The signed headers are `host`, `x-amz-content-sha256`, `x-amz-date` and
    /// every header in `headers`; the request must be sent with exactly those
    /// values (plus the returned `x-amz-date` and `x-amz-content-sha256`).
    /// - Parameters:
    ///   - method: HTTP method, e.g. `GET`.
    ///   - host: the `Host` header value (with `:port` when not the default).
    ///   - encodedPath: the request path as sent, already encoded with
    ///     `encodePath(_:)` (S3 never encodes it a second time).
    ///   - query: decoded query parameters; a parameter without value has `""`.
    ///   - headers: further headers to sign (names in any case).
    ///   - payloadHash: hex SHA-256 of the body, `emptyPayloadHash`, or `unsignedPayload`.
    ///   - date: signing time; the injected clock's time when nil.
    public func signHeaders(
        method: String, host: String, encodedPath: String, query: [Pair] = [], headers: [Pair] = [],
        payloadHash: String, date: Date? = nil
    ) -> HeaderSignature {
        let time = SigV4Time(date ?? clock())
        var allHeaders = headers.filter {
            let name = $0.name.lowercased()
            return name != "host" && name != "x-amz-date" && name != "x-amz-content-sha256"
        }
        allHeaders.append(("host", host))
        allHeaders.append(("x-amz-content-sha256", payloadHash))
        allHeaders.append(("x-amz-date", time.amzDate))
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(allHeaders)
        let canonicalRequest = [
            method.uppercased(), encodedPath, Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let scope = credentialScope(time)
        let signature = sign(canonicalRequest: canonicalRequest, time: time, scope: scope)
        // ", " between the parts, as botocore and the AWS CLI send it (S3
        // accepts the parts with or without the space).
        let authorization =
            "\(Self.algorithm) Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return HeaderSignature(
            authorization: authorization, amzDate: time.amzDate, payloadHash: payloadHash,
            canonicalRequest: canonicalRequest
        )
    }

    /// A presigned URL: anyone holding it may send `method` to it until it
    /// expires, without credentials. Only `host` is signed and the payload is
    /// `UNSIGNED-PAYLOAD`, as every S3 SDK does.
    /// - Parameters:
    ///   - method: HTTP method the URL allows, e.g. `GET`.
    ///   - scheme: `http` or `https`.
    ///   - host: the `Host` header value the client will send.
    ///   - encodedPath: the path, already encoded with `encodePath(_:)`.
    ///   - query: extra decoded query parameters to sign (e.g. `response-content-type`).
    ///   - expiresIn: lifetime in seconds, 1 to 604800 (7 days).
    ///   - date: signing time; the injected clock's time when nil.
    /// - Returns: the URL and the moment it stops working.
    /// - Throws: `ObjectStoreError` (`invalidArgument`) for a lifetime outside 1 s to 7 days.
    public func presignURL(
        method: String, scheme: String, host: String, encodedPath: String, query: [Pair] = [], expiresIn: Int,
        date: Date? = nil
    ) throws -> (url: String, expires: Date) {
        guard (1...Self.maximumPresignedLifetime).contains(expiresIn) else {
            throw ObjectStoreError(
                code: .invalidArgument,
                message:
                    "a presigned URL must live between 1 second and 7 days (\(Self.maximumPresignedLifetime) s), not \(expiresIn) s"
            )
        }
        let signingDate = date ?? clock()
        let time = SigV4Time(signingDate)
        let scope = credentialScope(time)
        var parameters = query
        parameters.append(("X-Amz-Algorithm", Self.algorithm))
        parameters.append(("X-Amz-Credential", "\(accessKeyID)/\(scope)"))
        parameters.append(("X-Amz-Date", time.amzDate))
        parameters.append(("X-Amz-Expires", String(expiresIn)))
        parameters.append(("X-Amz-SignedHeaders", "host"))
        let canonicalQuery = Self.canonicalQuery(parameters)
        let canonicalRequest = [
            method.uppercased(), encodedPath, canonicalQuery, "host:\(Self.trimAll(host))\n", "host",
            Self.unsignedPayload,
        ].joined(separator: "\n")
        let signature = sign(canonicalRequest: canonicalRequest, time: time, scope: scope)
        let url = "\(scheme)://\(host)\(encodedPath)?\(canonicalQuery)&X-Amz-Signature=\(signature)"
        return (url, signingDate.addingTimeInterval(TimeInterval(expiresIn)))
    }

    /// Access key, region and service; the secret shows as `<redacted>`.
    public var description: String {
        "SigV4Signer(accessKeyID: \(accessKeyID), region: \(region), service: \(service), secretAccessKey: <redacted>)"
    }

    /// Same as `description`: the secret never shows.
    public var debugDescription: String { description }

    /// The fields `dump` and debuggers show, with the secret redacted.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessKeyID": accessKeyID, "region": region, "service": service, "secretAccessKey": "<redacted>",
            ],
            displayStyle: .struct
        )
    }

    // MARK: - Signing

    private func credentialScope(_ time: SigV4Time) -> String {
        "\(time.dateStamp)/\(region)/\(service)/aws4_request"
    }

    private func sign(canonicalRequest: String, time: SigV4Time, scope: String) -> String {
        let stringToSign = [
            Self.algorithm, time.amzDate, scope, Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        let key = signingKey(dateStamp: time.dateStamp)
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    /// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`,
    /// derived once per day, region and service.
    private func signingKey(dateStamp: String) -> SymmetricKey {
        let cacheKey = "\(dateStamp)/\(region)/\(service)"
        if let key = signingKeys.key(for: cacheKey) { return key }
        func hmac(_ key: SymmetricKey, _ message: String) -> SymmetricKey {
            SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key)))
        }
        let secret = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        let key = hmac(hmac(hmac(hmac(secret, dateStamp), region), service), "aws4_request")
        signingKeys.store(key, for: cacheKey)
        return key
    }

    // MARK: - Canonical forms

    /// URI-encodes an object key for a request path: every byte except
    /// `A-Z a-z 0-9 - . _ ~` and `/` becomes `%XX`.
    public static func encodePath(_ key: String) -> String {
        uriEncode(key, encodeSlash: false)
    }

    /// S3's URI encoding: every UTF-8 byte except `A-Z a-z 0-9 - . _ ~`
    /// (and `/` unless `encodeSlash`) becomes `%XX` with upper-case hex digits.
    public static func uriEncode(_ string: String, encodeSlash: Bool) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(string.utf8.count * 3)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.append(byte)
            case UInt8(ascii: "/") where !encodeSlash:
                encoded.append(byte)
            default:
                encoded.append(UInt8(ascii: "%"))
                encoded.append(hexDigits[Int(byte >> 4)])
                encoded.append(hexDigits[Int(byte & 0x0f)])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// The canonical query string: names and values encoded (with `/`
    /// encoded), sorted by name then value, joined with `&`. It is also a
    /// valid query string to send.
    public static func canonicalQuery(_ parameters: [Pair]) -> String {
        parameters
            .map { (uriEncode($0.name, encodeSlash: true), uriEncode($0.value, encodeSlash: true)) }
            .sorted { lhs, rhs in
                // Byte order, as AWS specifies (Swift's String `<` would
                // compare by Unicode canonical equivalence instead).
                lhs.0 == rhs.0
                    ? lhs.1.utf8.lexicographicallyPrecedes(rhs.1.utf8)
                    : lhs.0.utf8.lexicographicallyPrecedes(rhs.0.utf8)
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Canonical headers (each `name:value\n`, names lower-cased and sorted,
    /// values trimmed with inner whitespace runs collapsed, repeated headers
    /// joined with `,`) and the `;`-joined signed header names.
    static func canonicalHeaders(_ headers: [Pair]) -> (canonical: String, signed: String) {
        var byName: [String: [String]] = [:]
        for (name, value) in headers {
            byName[name.lowercased(), default: []].append(trimAll(value))
        }
        let names = byName.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let canonical = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    /// Trims a header value and collapses runs of whitespace to one space.
    static func trimAll(_ value: String) -> String {
        value.split(whereSeparator: {
            $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}"
        })
        .joined(separator: " ")
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { Hex.encode(bytes) }
}
