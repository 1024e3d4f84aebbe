import Crypto
import Foundation
import NIOCore
import NIOHTTP1

extension S3ObjectStore {
    /// One page of ListObjectsV2 under `prefix`.
    ///
    /// `nextMarker` is the last key of a truncated page; passing it back as
    /// `after` continues with S3's `start-after`, so markers are plain keys
    /// and stay valid across processes. Keys are requested URL-encoded
    /// (`encoding-type=url`) so that any key survives the XML round trip.
    public func list(prefix: String, after: String?, limit: Int) async throws -> ObjectListPage {
        try validateObjectPrefix(prefix)
        var request = S3Request(operation: "ListObjectsV2", method: .GET, key: nil)
        request.query = [
            ("list-type", "2"), ("max-keys", String(min(max(limit, 1), 1000))), ("encoding-type", "url"),
        ]
        let fullPrefix = configuration.keyPrefix + prefix
        if !fullPrefix.isEmpty { request.query.append(("prefix", fullPrefix)) }
        if let after { request.query.append(("start-after", configuration.keyPrefix + after)) }

        let answer = try await sendAndCollect(request)
        let root = try S3XML.parse(answer.body, what: "ListObjectsV2")
        func invalid(_ reason: String) -> ObjectStoreError {
            ObjectStoreError(
                code: .invalidResponse,
                message:
                    "the store's ListObjectsV2 answer for prefix '\(prefix)' in bucket '\(configuration.bucket)' \(reason)"
            )
        }
        guard root.name == "ListBucketResult" else { throw invalid("is a <\(root.name)> document") }
        let urlEncoded = root.text(of: "EncodingType") == "url"
        var objects: [ObjectSummary] = []
        for entry in root.children(named: "Contents") {
            guard let rawKey = entry.text(of: "Key") else { throw invalid("has an entry without a Key") }
            guard let fullKey = urlEncoded ? Self.formDecode(rawKey) : rawKey else {
                throw invalid("has a key that is not valid URL encoding")
            }
            guard let key = stripKeyPrefix(fullKey) else { throw invalid("has a key outside the configured prefix") }
            objects.append(
                ObjectSummary(
                    key: key, size: entry.text(of: "Size").flatMap { Int64($0) } ?? 0,
                    etag: Self.unquoteETag(entry.text(of: "ETag") ?? ""),
                    lastModified: entry.text(of: "LastModified").flatMap(S3Dates.parseISO8601)
                )
            )
        }
        let truncated = root.text(of: "IsTruncated") == "true"
        return ObjectListPage(objects: objects, nextMarker: truncated ? objects.last?.key : nil)
    }

    /// Deletes `keys` with DeleteObjects, 1000 keys per request. Keys that do
    /// not exist are not an error.
    public func delete(_ keys: [String]) async throws {
        for key in keys { try validateObjectKey(key) }
        try await deleteInBatches(keys)
    }

    /// Lists every key under `prefix` and deletes them page by page.
    @discardableResult
    public func deletePrefix(_ prefix: String) async throws -> Int {
        try validateObjectPrefix(prefix)
        var deleted = 0
        var marker: String?
        repeat {
            let page = try await list(prefix: prefix, after: marker, limit: 1000)
            // Listed keys are deleted as listed, even ones this store would
            // not accept from a caller (written by another tool).
            try await deleteInBatches(page.objects.map(\.key))
            deleted += page.objects.count
            marker = page.nextMarker
        } while marker != nil
        return deleted
    }

    /// The most keys one DeleteObjects request may name.
    static let deleteBatchSize = 1000

    private func deleteInBatches(_ keys: [String]) async throws {
        var start = keys.startIndex
        while start < keys.endIndex {
            let end = min(start + Self.deleteBatchSize, keys.endIndex)
            try await deleteBatch(Array(keys[start..<end]))
            start = end
        }
    }

    /// One DeleteObjects request in quiet mode (only failures are reported),
    /// repeating it for keys that failed transiently.
    private func deleteBatch(_ keys: [String]) async throws {
        var remaining = keys
        var attempt = 1
        while !remaining.isEmpty {
            var document =
                #"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>"#
            for key in remaining {
                document += "<Object><Key>\(S3XML.escape(configuration.keyPrefix + key))</Key></Object>"
            }
            document += "</Delete>"
            let body = ByteBuffer(string: document)
            var request = S3Request(operation: "DeleteObjects", method: .POST, key: nil)
            request.query = [("delete", "")]
            // S3 requires an integrity header on DeleteObjects.
            request.headers = [("content-type", "application/xml"), ("content-md5", Self.base64MD5(body))]
            request.body = body

            let answer = try await sendAndCollect(request)
            let root = try S3XML.parse(answer.body, what: "DeleteObjects")
            if root.name == "Error" {
                throw S3ErrorResponse(status: 200, document: root).objectStoreError(errorContext(for: request))
            }
            var failures: [(key: String, failure: S3ErrorResponse)] = []
            for entry in root.children(named: "Error") {
                let failure = S3ErrorResponse(status: 200, document: entry)
                if failure.code == "NoSuchKey" { continue }
                failures.append((entry.text(of: "Key").map { stripKeyPrefix($0) ?? $0 } ?? "?", failure))
            }
            if failures.isEmpty { return }
            if failures.allSatisfy({ $0.failure.isRetryable }), attempt < configuration.retry.maxAttempts {
                try await backOff(beforeRetry: attempt, reason: "DeleteObjects per-key errors", logger: logger)
                attempt += 1
                remaining = failures.map(\.key)
                continue
            }
            let first = failures.first { !$0.failure.isRetryable } ?? failures[0]
            var context = errorContext(for: request)
            context.key = first.key
            context.attempts = attempt
            let cause = first.failure.objectStoreError(context)
            throw ObjectStoreError(
                code: cause.code,
                message:
                    "could not delete \(failures.count) of \(remaining.count) objects; first failure: \(cause.message)",
                status: cause.status
            )
        }
    }

    /// Base64 of the body's MD5, for `Content-MD5`.
    static func base64MD5(_ body: ByteBuffer) -> String {
        Data(body.withUnsafeReadableBytes { Insecure.MD5.hash(data: $0) }).base64EncodedString()
    }

    /// The caller's key for a key in the bucket, or nil when it lies outside
    /// the configured prefix. Compared byte for byte: keys that differ only
    /// in Unicode normalisation are different keys.
    func stripKeyPrefix(_ fullKey: String) -> String? {
        let prefix = configuration.keyPrefix.utf8
        guard fullKey.utf8.starts(with: prefix) else { return nil }
        return String(decoding: fullKey.utf8.dropFirst(prefix.count), as: UTF8.self)
    }

    /// Decodes `application/x-www-form-urlencoded` text (`%XX` and `+` for a
    /// space), as S3 encodes keys for `encoding-type=url`.
    static func formDecode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        func hexValue(_ byte: UInt8?) -> UInt8? {
            switch byte {
            case let b? where (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b): b - UInt8(ascii: "0")
            case let b? where (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b): b - UInt8(ascii: "a") + 10
            case let b? where (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(b): b - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = hexValue(iterator.next()), let low = hexValue(iterator.next()) else { return nil }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
