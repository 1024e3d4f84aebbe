import Crypto
import Foundation
public import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The embedded object store: objects are plain files under a root
/// directory, so a single machine needs no bucket at all.
///
/// Layout under `root`:
/// - `objects/<key>`: exactly the object's bytes (the proxy can `sendfile` them);
/// - `meta/<key>.json`: content type, cache-control, content-encoding and
///   ETag (MD5 of the bytes, as S3 reports for single-part uploads) of the
///   current and the previous version of the object, each tagged with the
///   inode of the file it describes;
/// - `tmp/`: uploads in progress, cleared at start.
///
/// A put writes the bytes to `tmp/`, syncs them, records the new version's
/// metadata next to the current one's, then renames the file into place: a
/// reader sees the old object or the whole new one, never a part. A reader
/// picks the metadata entry whose inode is the file it opened, so it never
/// pairs one version's bytes with another's ETag, and never waits for a
/// writer: the new entry is stored before the new file becomes visible.
/// Puts of one key are serialised within the process.
public final class DiskObjectStore: ObjectStore {
    /// The store's root directory.
    public let root: String
    private let objectsRoot: String
    private let metaRoot: String
    private let tmpRoot: String
    private let durable: Bool
    private let logger: Logger
    private let keyLocks = (0..<64).map { _ in NIOLock() }

    /// Opens (creating if needed) a store under `root`.
    /// - Parameter durable: `fsync` each object before it becomes visible, so a
    ///   published build survives a power loss. Leave on in production.
    public init(root: String, durable: Bool = true, logger: Logger = Logger(label: "slipway.storage.disk")) throws {
        let root = (root as NSString).standardizingPath
        self.root = root
        self.objectsRoot = root + "/objects"
        self.metaRoot = root + "/meta"
        self.tmpRoot = root + "/tmp"
        self.durable = durable
        self.logger = logger
        let fileManager = FileManager.default
        do {
            for directory in [objectsRoot, metaRoot, tmpRoot] {
                try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            // Uploads that were in progress when the process stopped never became visible.
            for leftover in try fileManager.contentsOfDirectory(atPath: tmpRoot) {
                try? fileManager.removeItem(atPath: tmpRoot + "/" + leftover)
            }
        } catch {
            throw ObjectStoreError.io(
                "cannot prepare the disk store at \(root): \(error.localizedDescription); check that the data directory is writable"
            )
        }
    }

    /// Its objects are plain files: a server may send them with `sendfile`.
    public var localFiles: (any LocalObjectFiles)? { self }

    // MARK: - ObjectStore

    @discardableResult
    public func put(_ key: String, body: ObjectBody, options: PutOptions) async throws -> ObjectInfo {
        try checkKey(key)
        let tmpPath = tmpRoot + "/" + UUID().uuidString
        let fd = try await blocking { () throws -> CInt in
            let fd = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw ObjectStoreError.io("cannot create \(tmpPath): \(errnoDescription())") }
            return fd
        }
        let descriptor = OwnedDescriptor(fd)
        do {
            var md5 = Insecure.MD5()
            var size: Int64 = 0
            for try await chunk in body.chunks {
                chunk.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
                size += Int64(chunk.readableBytes)
                try await blocking { try descriptor.writeAll(chunk, path: tmpPath) }
            }
            let etag = md5.finalize().map { String(format: "%02x", $0) }.joined()
            let durable = self.durable
            let inode = try await blocking { () throws -> UInt64 in
                if durable && fsync(descriptor.fd) != 0 {
                    throw ObjectStoreError.io("cannot sync \(tmpPath): \(errnoDescription())")
                }
                var info = stat()
                guard fstat(descriptor.fd, &info) == 0 else {
                    throw ObjectStoreError.io("cannot stat \(tmpPath): \(errnoDescription())")
                }
                descriptor.close()
                return UInt64(info.st_ino)
            }
            let version = DiskObjectVersion(
                etag: etag, size: size, inode: inode, contentType: options.contentType,
                cacheControl: options.cacheControl, contentEncoding: options.contentEncoding)
            let objectPath = objectsRoot + "/" + key
            let metaPath = metaRoot + "/" + key + ".json"
            let lock = keyLocks[Int(UInt(bitPattern: key.hashValue) % UInt(keyLocks.count))]
            try await blocking { [tmpRoot] in
                try lock.withLock {
                    // Keep the entry of the file readers may still hold open.
                    var current = stat()
                    let currentInode = stat(objectPath, &current) == 0 ? UInt64(current.st_ino) : nil
                    let kept =
                        DiskObjectMetadata.read(from: metaPath)?.versions.filter { $0.inode == currentInode } ?? []
                    let metadata = DiskObjectMetadata(versions: kept.suffix(1) + [version])
                    try writeAtomically(metadata.encoded(), to: metaPath, tmpDirectory: tmpRoot)
                    try renameIntoPlace(tmpPath, objectPath)
                }
            }
            return ObjectInfo(
                key: key, size: size, etag: etag, contentType: options.contentType ?? defaultContentType,
                cacheControl: options.cacheControl, contentEncoding: options.contentEncoding, lastModified: Date())
        } catch {
            descriptor.close()
            unlink(tmpPath)
            throw error
        }
    }

    public func get(_ key: String, range: ByteRange?) async throws -> ObjectDownload {
        try checkKey(key)
        let (fd, info) = try await blocking { [self] in try openObject(key) }
        var bytes: Range<Int64> = 0..<info.size
        if let range {
            guard let clamped = range.clamped(toSize: info.size) else {
                _ = closeFile(fd)
                throw ObjectStoreError.invalidRange(range, size: info.size)
            }
            bytes = clamped
        }
        let reader = FileChunkReader(
            descriptor: fd, path: objectsRoot + "/" + key, offset: bytes.lowerBound, length: Int64(bytes.count),
            chunkSize: 256 << 10)
        return ObjectDownload(info: info, range: bytes, body: ObjectByteStream(reader: reader))
    }

    public func head(_ key: String) async throws -> ObjectInfo {
        try checkKey(key)
        return try await blocking { [self] in
            let (fd, info) = try openObject(key)
            _ = closeFile(fd)
            return info
        }
    }

    public func delete(_ keys: [String]) async throws {
        for key in keys { try checkKey(key) }
        try await blocking { [self] in
            for key in keys { try removeObject(key) }
        }
    }

    @discardableResult
    public func deletePrefix(_ prefix: String) async throws -> Int {
        try validateObjectPrefix(prefix)
        let keys: [String] = try await blocking { [self] in try self.keys(under: prefix) }
        try await blocking { [self] in
            for key in keys { try removeObject(key) }
        }
        return keys.count
    }

    public func list(prefix: String, after: String?, limit: Int) async throws -> ObjectListPage {
        try validateObjectPrefix(prefix)
        let limit = max(1, min(limit, 1000))
        return try await blocking { [self] in
            var keys = try keys(under: prefix)
            if let after { keys.removeAll { !after.utf8.lexicographicallyPrecedes($0.utf8) } }
            let page = keys.prefix(limit)
            let objects = page.compactMap { key -> ObjectSummary? in
                guard let (fd, info) = try? openObject(key) else { return nil } // deleted meanwhile
                _ = closeFile(fd)
                return ObjectSummary(key: key, size: info.size, etag: info.etag, lastModified: info.lastModified)
            }
            return ObjectListPage(objects: objects, nextMarker: keys.count > limit ? page.last : nil)
        }
    }

    public func presignedGET(key: String, expiresIn: Duration) throws -> PresignedURL {
        throw ObjectStoreError.presignUnsupported("disk")
    }

    // MARK: - Files

    private let defaultContentType = "application/octet-stream"

    private func checkKey(_ key: String) throws {
        try validateObjectKey(key)
        for segment in key.split(separator: "/") where segment.utf8.count > 250 {
            throw ObjectStoreError.invalidKey(key, "a segment is longer than 250 bytes")
        }
    }

    /// Opens the object's file and finds the metadata of exactly that file.
    /// When a newer put replaced the file and dropped its entry meanwhile, the
    /// file is opened again: the new entry is always stored before its file
    /// appears, so this settles at once and never waits for a writer.
    private func openObject(_ key: String) throws -> (CInt, ObjectInfo) {
        let path = objectsRoot + "/" + key
        for attempt in 0..<4 {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT || errno == ENOTDIR || errno == EISDIR { throw ObjectStoreError.notFound(key) }
                throw ObjectStoreError.io("cannot open \(path): \(errnoDescription())")
            }
            var info = stat()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                _ = closeFile(fd)
                throw ObjectStoreError.notFound(key)
            }
            let inode = UInt64(info.st_ino)
            let size = Int64(info.st_size)
            let modified = Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec))
            let versions = DiskObjectMetadata.read(from: metaRoot + "/" + key + ".json")?.versions ?? []
            if let meta = versions.last(where: { $0.inode == inode }) {
                return (
                    fd,
                    ObjectInfo(
                        key: key, size: size, etag: meta.etag, contentType: meta.contentType ?? defaultContentType,
                        cacheControl: meta.cacheControl, contentEncoding: meta.contentEncoding, lastModified: modified)
                )
            }
            if attempt == 3 {
                // Only a put interrupted between its two renames leaves a file
                // without an entry: serve its bytes with what the file itself tells.
                logger.warning("object metadata does not match its file", metadata: ["key": "\(key)"])
                return (
                    fd,
                    ObjectInfo(
                        key: key, size: size, etag: "\(inode)-\(size)-\(info.st_mtim.tv_sec)",
                        contentType: defaultContentType, lastModified: modified)
                )
            }
            _ = closeFile(fd)
        }
        preconditionFailure("unreachable: the last attempt returns")
    }

    private func removeObject(_ key: String) throws {
        for path in [objectsRoot + "/" + key, metaRoot + "/" + key + ".json"] {
            if unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR {
                throw ObjectStoreError.io("cannot delete \(path): \(errnoDescription())")
            }
        }
        pruneEmptyDirectories(above: key)
    }

    /// Removes directories left empty by a delete, up to (not including) the roots.
    private func pruneEmptyDirectories(above key: String) {
        var segments = key.split(separator: "/").dropLast()
        while !segments.isEmpty {
            let relative = segments.joined(separator: "/")
            let removedObjects = rmdir(objectsRoot + "/" + relative) == 0
            let removedMeta = rmdir(metaRoot + "/" + relative) == 0
            if !removedObjects && !removedMeta { break }
            segments = segments.dropLast()
        }
    }

    /// Every key under `prefix`, sorted as S3 sorts them (by UTF-8 bytes).
    private func keys(under prefix: String) throws -> [String] {
        let directory = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        let start = directory.isEmpty ? objectsRoot : objectsRoot + "/" + directory
        var keys: [String] = []
        try walk(start, relative: directory) { key in
            if key.hasPrefix(prefix) { keys.append(key) }
        }
        return keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    private func walk(_ path: String, relative: String, _ visit: (String) -> Void) throws {
        guard let directory = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw ObjectStoreError.io("cannot list \(path): \(errnoDescription())")
        }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let childPath = path + "/" + name
            let childKey = relative.isEmpty ? name : relative + "/" + name
            var info = stat()
            guard lstat(childPath, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: try walk(childPath, relative: childKey, visit)
            case S_IFREG: visit(childKey)
            default: continue
            }
        }
    }

    private func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(work)
    }
}

/// What `meta/<key>.json` holds: the current version of the object and,
/// while readers may still hold it open, the one before.
struct DiskObjectMetadata: Codable {
    var versions: [DiskObjectVersion]

    func encoded() throws -> Data { try JSONEncoder().encode(self) }

    static func read(from path: String) -> DiskObjectMetadata? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(DiskObjectMetadata.self, from: data)
    }
}

/// One version of an object, tied to its file by inode.
struct DiskObjectVersion: Codable {
    var etag: String
    var size: Int64
    var inode: UInt64
    var contentType: String?
    var cacheControl: String?
    var contentEncoding: String?
}

/// A file descriptor closed exactly once.
private final class OwnedDescriptor: @unchecked Sendable {
    // Used by one upload at a time; every call happens in sequence.
    private(set) var fd: CInt
    init(_ fd: CInt) { self.fd = fd }
    deinit { close() }

    func close() {
        if fd >= 0 {
            _ = closeFile(fd)
            fd = -1
        }
    }

    func writeAll(_ buffer: ByteBuffer, path: String) throws {
        try buffer.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw ObjectStoreError.io("cannot write \(path): \(errnoDescription())")
                }
                offset += written
            }
        }
    }
}

/// Writes `data` to a temporary file and renames it over `path`.
private func writeAtomically(_ data: Data, to path: String, tmpDirectory: String) throws {
    let tmpPath = tmpDirectory + "/" + UUID().uuidString
    guard FileManager.default.createFile(atPath: tmpPath, contents: data) else {
        throw ObjectStoreError.io("cannot write \(tmpPath): \(errnoDescription())")
    }
    do { try renameIntoPlace(tmpPath, path) } catch {
        unlink(tmpPath)
        throw error
    }
}

/// Renames `source` to `destination`, creating the destination's directories.
/// Retries when a concurrent delete prunes a directory in between.
private func renameIntoPlace(_ source: String, _ destination: String) throws {
    let parent = (destination as NSString).deletingLastPathComponent
    for _ in 0..<5 {
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw ObjectStoreError.io("cannot create \(parent): another object may use part of this key as its name")
        }
        if rename(source, destination) == 0 { return }
        if errno == ENOENT { continue }
        let reason =
            errno == EISDIR || errno == ENOTEMPTY || errno == ENOTDIR
            ? "a key that is a prefix of another key (or the reverse) cannot be stored on disk"
            : errnoDescription()
        throw ObjectStoreError.io("cannot move an upload into \(destination): \(reason)")
    }
    throw ObjectStoreError.io("cannot move an upload into \(destination): its directory keeps disappearing")
}

extension DiskObjectStore: LocalObjectFiles {
    public func openForReading(_ key: String) throws -> LocalObjectFile {
        try checkKey(key)
        let path = objectsRoot + "/" + key
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw ObjectStoreError.notFound(key) }
            throw ObjectStoreError.io("cannot open \(key) in the disk store: \(errnoDescription(code))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            let code = errno
            _ = closeFile(fd)
            throw ObjectStoreError.io("\(key) in the disk store is not a readable file: \(errnoDescription(code))")
        }
        return LocalObjectFile(descriptor: fd, size: Int64(info.st_size))
    }
}
