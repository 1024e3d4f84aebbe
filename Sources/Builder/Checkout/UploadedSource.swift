import Crypto
import Foundation
import Model
import NIOCore
import Storage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The files of a source upload (`slipway deploy --source`), written into
/// the build's workspace where a clone would be: every file from its blob,
/// each checked against its SHA-256 again as it is written, regular files
/// only (the upload's paths were checked when it was announced, and are
/// again here), mode 0755 for the files uploaded as executable and 0644
/// for the rest, as git checks files out.
struct UploadedSource: Sendable {
    var store: any ObjectStore
    var catalog: any Catalog
    var concurrency: Int

    /// What the build records in place of a commit.
    static let commit = CheckedOutCommit(sha: "", subject: "uploaded source")

    func materialize(_ upload: Upload, into directory: String, log: BuildLog) async throws -> CheckedOutCommit {
        let files: [UploadFile]
        do {
            files = try await catalog.uploadFiles(id: upload.id)
        } catch let error as CatalogError where error.code == .uploadNotFound {
            throw BuildError.projectInvalid(
                "the uploaded source of this build is gone (an upload is kept for SLIPWAY_UPLOAD_TTL after it starts); deploy it again with slipway deploy --source"
            )
        } catch let error as CatalogError {
            throw BuildError.catalogFailed(
                "reading the uploaded source's files failed: \(error.message)", transient: error.code == .unavailable)
        }
        try Self.makeDirectory(directory)
        var total: Int64 = 0
        for file in files {
            if let problem = UploadRules.problem(path: file.path, kind: .source) {
                throw BuildError.projectInvalid("the uploaded source is refused: \(problem)")
            }
            total += file.size
        }
        let store = self.store
        try await forEachConcurrently(files, width: concurrency) { file in
            try await Self.write(file, into: directory, from: store)
        }
        log.system("unpacked the uploaded source: \(files.count) files (\(ByteCount.format(total)))")
        return Self.commit
    }

    /// Downloads one file's blob to its place, hashing it on the way.
    private static func write(_ file: UploadFile, into directory: String, from store: any ObjectStore) async throws {
        let target = directory + "/" + file.path
        let parent = (target as NSString).deletingLastPathComponent
        try makeDirectory(parent)
        let download: ObjectDownload
        do {
            download = try await store.get(ContentAddress.key(sha256: file.sha256), range: nil)
        } catch {
            throw BuildError.storeFailed(
                "reading \(file.path) of the uploaded source from the object store failed: \(error)", transient: true)
        }
        // O_EXCL and O_NOFOLLOW: a path is written once, never through a link.
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, file.executable ? 0o755 : 0o644)
        guard fd >= 0 else {
            throw BuildError.workspaceFailed("cannot create \(file.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var hasher = SHA256()
        var size: Int64 = 0
        for try await buffer in download.body {
            try buffer.withUnsafeReadableBytes { raw in
                hasher.update(bufferPointer: raw)
                var offset = 0
                while offset < raw.count {
                    let written = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw BuildError.workspaceFailed(
                            "cannot write \(file.path): \(String(cString: strerror(errno)))")
                    }
                    offset += written
                }
            }
            size += Int64(buffer.readableBytes)
        }
        guard size == file.size, Hex.encode(hasher.finalize()) == file.sha256 else {
            throw BuildError.storeFailed(
                "\(file.path) of the uploaded source does not have the bytes it was uploaded with; deploy it again",
                transient: false)
        }
    }

    private static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw BuildError.workspaceFailed("cannot create \(path): \(error.localizedDescription)")
        }
    }
}

#if canImport(Glibc)
    private let posixWrite = Glibc.write
#elseif canImport(Darwin)
    private let posixWrite = Darwin.write
#endif
