import NIOCore
import NIOHTTP1

extension S3ObjectStore {
    /// Stores `body` under `key`.
    ///
    /// The body is read into memory up to `multipartThreshold` bytes. If it
    /// ends by then it is sent in one PUT (and, being in memory, can be
    /// retried); otherwise it is sent as a multipart upload whose parts are
    /// uploaded as they fill, with at most about two parts in memory. A failed
    /// multipart upload is aborted, so no partial object ever becomes visible.
    @discardableResult
    public func put(_ key: String, body: ObjectBody, options: PutOptions) async throws -> ObjectInfo {
        try validateObjectKey(key)
        try Self.validate(options)
        let threshold = configuration.multipartThreshold
        if case .buffer(let buffer) = body.source, buffer.readableBytes <= threshold {
            return try await putSingle(key, body: buffer, options: options)
        }
        var chunks = body.chunks.makeAsyncIterator()
        var buffered = ByteBuffer()
        while buffered.readableBytes <= threshold {
            guard var chunk = try await chunks.next() else {
                return try await putSingle(key, body: buffered, options: options)
            }
            if buffered.readableBytes == 0 {
                // Take the first chunk as is: an in-memory body is never copied.
                buffered = chunk
            } else {
                buffered.writeBuffer(&chunk)
            }
        }
        return try await putMultipart(
            key, reader: MultipartPartReader(pending: buffered, chunks: chunks, partSize: configuration.partSize),
            options: options
        )
    }

    /// One PutObject request.
    func putSingle(_ key: String, body: ByteBuffer, options: PutOptions) async throws -> ObjectInfo {
        var request = S3Request(operation: "PutObject", method: .PUT, key: key)
        request.headers = Self.objectHeaders(options)
        request.body = body
        let answer = try await sendAndCollect(request, limit: 64 << 10)
        return ObjectInfo(
            key: key, size: Int64(body.readableBytes), etag: Self.unquoteETag(answer.headers.first(name: "etag") ?? ""),
            contentType: options.contentType ?? Self.defaultContentType, cacheControl: options.cacheControl,
            contentEncoding: options.contentEncoding
        )
    }

    /// `Content-Type` stored when the caller gives none.
    static let defaultContentType = "application/octet-stream"

    /// The headers stored with an object.
    static func objectHeaders(_ options: PutOptions) -> [SigV4Signer.Pair] {
        var headers: [SigV4Signer.Pair] = [("content-type", options.contentType ?? defaultContentType)]
        if let cacheControl = options.cacheControl { headers.append(("cache-control", cacheControl)) }
        if let contentEncoding = options.contentEncoding { headers.append(("content-encoding", contentEncoding)) }
        return headers
    }

    /// Refuses header values that cannot travel in HTTP/1.1 (control
    /// characters would split or corrupt the request).
    static func validate(_ options: PutOptions) throws {
        let fields: [(String, String?)] = [
            ("content type", options.contentType), ("cache-control", options.cacheControl),
            ("content-encoding", options.contentEncoding),
        ]
        for case (let name, let value?) in fields
        where value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) {
            throw ObjectStoreError(
                code: .invalidArgument,
                message:
                    "the \(name) '\(value.prefix(100).debugDescription)' contains control characters, which HTTP headers cannot carry"
            )
        }
    }
}
