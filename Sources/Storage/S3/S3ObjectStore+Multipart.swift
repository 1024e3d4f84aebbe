import Logging
import NIOCore
import NIOHTTP1

/// Cuts a stream of chunks into parts of exactly `partSize` bytes (the last
/// one may be shorter), reading only as much as the next part needs.
struct MultipartPartReader {
    private var pending: ByteBuffer
    private var chunks: ObjectByteStream.AsyncIterator
    private var finished = false
    let partSize: Int

    init(pending: ByteBuffer, chunks: ObjectByteStream.AsyncIterator, partSize: Int) {
        self.pending = pending
        self.chunks = chunks
        self.partSize = partSize
    }

    /// The next part, or nil once the stream is exhausted.
    mutating func nextPart() async throws -> ByteBuffer? {
        while pending.readableBytes < partSize, !finished {
            if var chunk = try await chunks.next() {
                if pending.readableBytes == 0 {
                    pending = chunk
                } else {
                    pending.writeBuffer(&chunk)
                }
            } else {
                finished = true
            }
        }
        guard pending.readableBytes > 0 else { return nil }
        let part = pending.readSlice(length: min(partSize, pending.readableBytes))!
        // Let go of storage the remaining bytes no longer need.
        if pending.readableBytes == 0 { pending = ByteBuffer() }
        return part
    }
}

extension S3ObjectStore {
    /// A part S3 has stored: its number and its ETag as S3 sent it (quoted).
    struct CompletedPart: Sendable {
        var number: Int
        var etag: String
    }

    /// CreateMultipartUpload, UploadPart for each part as it fills (one
    /// upload in flight while the next part is read), CompleteMultipartUpload.
    /// Any failure, cancellation included, aborts the upload.
    func putMultipart(_ key: String, reader: MultipartPartReader, options: PutOptions) async throws -> ObjectInfo {
        let uploadID = try await createMultipartUpload(key, options: options)
        var logger = self.logger
        logger[metadataKey: "s3.key"] = "\(key)"
        logger[metadataKey: "s3.upload_id"] = "\(uploadID)"
        do {
            let (parts, size) = try await uploadParts(key, uploadID: uploadID, reader: reader)
            var etag = try await completeMultipartUpload(key, uploadID: uploadID, parts: parts)
            if etag.isEmpty {
                // Ceph RGW answers CompleteMultipartUpload with an empty
                // ETag; the object's HEAD has the real one.
                etag = try await head(key).etag
            }
            logger.debug(
                "S3 multipart upload complete", metadata: ["s3.parts": "\(parts.count)", "s3.size": "\(size)"])
            return ObjectInfo(
                key: key, size: size, etag: etag, contentType: options.contentType ?? Self.defaultContentType,
                cacheControl: options.cacheControl, contentEncoding: options.contentEncoding
            )
        } catch {
            // An unstructured task does not inherit cancellation, so the
            // abort is sent even when the upload failed because its task
            // was cancelled.
            let abort = Task { await self.abortMultipartUpload(key, uploadID: uploadID, logger: logger) }
            await abort.value
            throw error
        }
    }

    private func uploadParts(
        _ key: String, uploadID: String, reader: MultipartPartReader
    ) async throws -> (parts: [CompletedPart], size: Int64) {
        var reader = reader
        var parts: [CompletedPart] = []
        var size: Int64 = 0
        try await withThrowingTaskGroup(of: CompletedPart.self) { group in
            var inFlight = 0
            var number = 0
            while let part = try await reader.nextPart() {
                number += 1
                guard number <= S3Configuration.maximumPartCount else {
                    throw ObjectStoreError(
                        code: .tooLarge,
                        message:
                            "'\(key)' needs more than \(S3Configuration.maximumPartCount) parts of \(configuration.partSize) bytes: raise the part size"
                    )
                }
                size += Int64(part.readableBytes)
                if inFlight >= 1, let done = try await group.next() {
                    parts.append(done)
                    inFlight -= 1
                }
                let partNumber = number
                group.addTask {
                    try await self.uploadPart(key, uploadID: uploadID, number: partNumber, body: part)
                }
                inFlight += 1
            }
            for try await done in group { parts.append(done) }
        }
        return (parts.sorted { $0.number < $1.number }, size)
    }

    private func createMultipartUpload(_ key: String, options: PutOptions) async throws -> String {
        var request = S3Request(operation: "CreateMultipartUpload", method: .POST, key: key)
        request.query = [("uploads", "")]
        request.headers = Self.objectHeaders(options)
        let answer = try await sendAndCollect(request)
        let root = try S3XML.parse(answer.body, what: "CreateMultipartUpload")
        guard let uploadID = root.text(of: "UploadId"), !uploadID.isEmpty else {
            throw ObjectStoreError(
                code: .invalidResponse,
                message: "the store's answer to CreateMultipartUpload for '\(key)' has no UploadId"
            )
        }
        return uploadID
    }

    private func uploadPart(_ key: String, uploadID: String, number: Int, body: ByteBuffer) async throws
        -> CompletedPart
    {
        var request = S3Request(operation: "UploadPart", method: .PUT, key: key)
        request.query = [("partNumber", String(number)), ("uploadId", uploadID)]
        request.body = body
        let answer = try await sendAndCollect(request, limit: 64 << 10)
        guard let etag = answer.headers.first(name: "etag"), !etag.isEmpty else {
            throw ObjectStoreError(
                code: .invalidResponse,
                message: "the store's answer to UploadPart \(number) of '\(key)' has no ETag"
            )
        }
        return CompletedPart(number: number, etag: etag)
    }

    /// Returns the object's ETag (empty when the store sends none).
    private func completeMultipartUpload(_ key: String, uploadID: String, parts: [CompletedPart]) async throws -> String
    {
        var document =
            #"<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
        for part in parts {
            document += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(S3XML.escape(part.etag))</ETag></Part>"
        }
        document += "</CompleteMultipartUpload>"
        var request = S3Request(operation: "CompleteMultipartUpload", method: .POST, key: key)
        request.query = [("uploadId", uploadID)]
        request.headers = [("content-type", "application/xml")]
        request.body = ByteBuffer(string: document)

        var attempt = 1
        while true {
            let answer = try await sendAndCollect(request)
            let root = try S3XML.parse(answer.body, what: "CompleteMultipartUpload")
            guard root.name == "Error" else {
                return Self.unquoteETag(root.text(of: "ETag") ?? "")
            }
            // S3 may answer 200 and report the failure in the body; such an
            // error can be transient like a 5xx.
            let failure = S3ErrorResponse(status: 200, document: root)
            if failure.isRetryable, attempt < configuration.retry.maxAttempts {
                try await backOff(beforeRetry: attempt, reason: failure.code ?? "Error", logger: logger)
                attempt += 1
                continue
            }
            var context = errorContext(for: request)
            context.attempts = attempt
            throw failure.objectStoreError(context)
        }
    }

    private func abortMultipartUpload(_ key: String, uploadID: String, logger: Logger) async {
        var request = S3Request(operation: "AbortMultipartUpload", method: .DELETE, key: key)
        request.query = [("uploadId", uploadID)]
        do {
            _ = try await sendAndCollect(request, limit: 64 << 10)
            logger.debug("S3 multipart upload aborted")
        } catch {
            // The upload already failed; this only leaves invisible parts
            // behind, which a bucket lifecycle rule for incomplete uploads
            // removes.
            logger.warning("S3 multipart upload could not be aborted", metadata: ["s3.error": "\(error)"])
        }
    }
}
