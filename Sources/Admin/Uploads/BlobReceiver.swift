import Foundation
import Hummingbird
import Model
import NIOCore
import Storage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One blob of an upload, received whole and checked: its bytes and its
/// gzip variant in scratch files, removed with ``remove()``.
struct ReceivedBlob: Sendable {
    var path: String
    var size: Int64
    /// The gzip variant, when the file is compressible text and gzip saved enough.
    var gzip: (path: String, digest: StoredBlob)?

    func remove() {
        unlink(path)
        if let gzip { unlink(gzip.path) }
    }
}

/// Receives the bytes of one blob of an upload into scratch files, never
/// into the object store: a blob becomes visible only once every byte has
/// been checked against its name.
///
/// The body is hashed and (for compressible text) gzipped as it arrives,
/// through ``ManifestEntryBuilder``, the builder's own definition of a
/// published file. More bytes than announced end the request at once; at the
/// end the size and the SHA-256 must match, or nothing is kept.
struct BlobReceiver: Sendable {
    var scratchDirectory: String

    func receive(_ body: RequestBody, sha256: String, size expected: Int64, path: String) async throws
        -> ReceivedBlob
    {
        let builder: ManifestEntryBuilder
        do {
            builder = try ManifestEntryBuilder(path: path, expectedSize: expected)
        } catch {
            throw AdminError(
                status: .serviceUnavailable, code: "compression_unavailable",
                message: "the blob could not be compressed on this server (\(error)); retry")
        }
        let name = UUID().uuidString
        let identity = try ScratchFile(path: "\(scratchDirectory)/\(name)")
        let variant = builder.compresses ? try ScratchFile(path: "\(scratchDirectory)/\(name).gz") : nil
        var kept = false
        defer {
            identity.close()
            variant?.close()
            if !kept {
                unlink(identity.path)
                if let variant { unlink(variant.path) }
            }
        }
        var compressed: [UInt8] = []
        var received: Int64 = 0
        for try await buffer in body {
            received += Int64(buffer.readableBytes)
            if received > expected {
                throw AdminError(
                    status: .contentTooLarge, code: "blob_size_mismatch",
                    message:
                        "more than the \(expected) bytes announced for \(sha256) arrived; send exactly the file's bytes"
                )
            }
            try buffer.withUnsafeReadableBytes { raw in
                try identity.write(raw)
                compressed.removeAll(keepingCapacity: true)
                try builder.update(raw, variantOutput: &compressed)
                try compressed.withUnsafeBytes { try variant?.write($0) }
            }
        }
        guard received == expected else {
            throw AdminError(
                status: .unprocessableContent, code: "blob_size_mismatch",
                message:
                    "\(received) bytes arrived for \(sha256), not the \(expected) announced; send the whole file again")
        }
        compressed.removeAll(keepingCapacity: true)
        let entry = try builder.finish(variantOutput: &compressed)
        try compressed.withUnsafeBytes { try variant?.write($0) }
        guard entry.sha256 == sha256 else {
            throw AdminError(
                status: .unprocessableContent, code: "digest_mismatch",
                message:
                    "the bytes sent have SHA-256 \(entry.sha256 ?? "?"), not \(sha256) as announced; nothing was stored — hash the file again and send it"
            )
        }
        var gzip: (path: String, digest: StoredBlob)?
        if let variant, let kept = entry.variants["gzip"], let digest = kept.sha256 {
            gzip = (variant.path, StoredBlob(sha256: digest, size: kept.size))
        } else if let variant {
            unlink(variant.path)
        }
        kept = true
        return ReceivedBlob(path: identity.path, size: received, gzip: gzip)
    }
}

/// A file written from the start, closed by its owner.
private struct ScratchFile {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw AdminError(
                status: .serviceUnavailable, code: "scratch_unavailable",
                message:
                    "the server cannot write the upload's scratch file (\(String(cString: strerror(errno)))); check SLIPWAY_UPLOAD_DIR and retry"
            )
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = systemWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw AdminError(
                    status: .serviceUnavailable, code: "scratch_unavailable",
                    message:
                        "the server could not write the upload's scratch file (\(String(cString: strerror(errno)))); retry"
                )
            }
            offset += written
        }
    }

    func close() { _ = systemClose(fd) }
}

#if canImport(Glibc)
    private let systemWrite = Glibc.write
    private let systemClose = Glibc.close
#elseif canImport(Darwin)
    private let systemWrite = Darwin.write
    private let systemClose = Darwin.close
#endif
