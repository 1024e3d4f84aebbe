import Model
import NIOPosix
import Storage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file ready to upload: its manifest entry, and its bytes when small.
struct PreparedFile: Sendable {
    var file: OutputFile
    var entry: ManifestFile
    /// The whole file, for files up to ``FilePreparer/inMemoryLimit``.
    var bytes: [UInt8]?
    var gzip: PreparedVariant?
}

/// A gzip variant: in memory when small, else in a temporary file.
struct PreparedVariant: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        case file(String)
    }

    /// The variant's site path (`.slipway/gzip/<path>.gz`).
    var path: String
    var size: Int64
    var etag: String
    /// The SHA-256 of the variant's bytes (its blob).
    var sha256: String?
    var body: Body
}

/// Reads each output file once through ``ManifestEntryBuilder`` (the
/// model's one definition of a published file: strong ETag, content type,
/// immutable flag, and a gzip variant for compressible text kept only when it
/// saves at least 10%).
///
/// The work runs on NIO's blocking thread pool (file reads and compression
/// must not hold the cooperative pool). When bodies are kept, files up to
/// ``inMemoryLimit`` are read whole and kept in memory until uploaded, and
/// larger files stream in chunks with their variants going to a temporary
/// file; otherwise only digests, sizes and the entry come out.
struct FilePreparer: Sendable {
    /// Files up to this size are handled in memory.
    static let inMemoryLimit = 256 << 10
    /// Variant bytes held in memory before they spill to the scratch file.
    static let spillThreshold = 1 << 20

    /// Where variants of large files are written.
    var scratchDirectory: String

    func prepare(_ file: OutputFile, index: Int, keepingBodies: Bool = true) async throws -> PreparedFile {
        try await NIOThreadPool.singleton.runIfActive {
            try prepareBlocking(file, index: index, keepingBodies: keepingBodies)
        }
    }

    func prepareBlocking(_ file: OutputFile, index: Int, keepingBodies: Bool = true) throws -> PreparedFile {
        let builder: ManifestEntryBuilder
        do {
            builder = try ManifestEntryBuilder(path: file.path, expectedSize: file.size)
        } catch {
            throw BuildError.workspaceFailed("cannot compress \(file.path): \(error)")
        }
        let source = try FileReader(path: file.source, shownAs: file.path)
        defer { source.close() }

        var whole: [UInt8]? = keepingBodies && file.size <= Int64(Self.inMemoryLimit) ? [] : nil
        var compressed: [UInt8] = []
        var spill: ScratchFile?
        let scratchPath = scratchDirectory + "/\(index).gz"

        while let chunk = try source.next() {
            try chunk.withUnsafeBytes { raw in try builder.update(raw, variantOutput: &compressed) }
            if whole != nil { whole!.append(contentsOf: chunk) }
            if !keepingBodies {
                compressed.removeAll(keepingCapacity: true) // hashed as produced; not needed
            } else if compressed.count >= Self.spillThreshold {
                if spill == nil { spill = try ScratchFile(path: scratchPath) }
                try spill!.write(compressed)
                compressed.removeAll(keepingCapacity: true)
            }
        }
        let entry = try builder.finish(variantOutput: &compressed)
        if !keepingBodies { compressed.removeAll() }

        var variant: PreparedVariant?
        if let spill {
            try spill.write(compressed)
            spill.close()
            if let kept = entry.variants["gzip"] {
                variant = PreparedVariant(
                    path: kept.path, size: kept.size, etag: kept.etag, sha256: kept.sha256, body: .file(scratchPath))
            } else {
                unlink(scratchPath)
            }
        } else if let kept = entry.variants["gzip"] {
            variant = PreparedVariant(
                path: kept.path, size: kept.size, etag: kept.etag, sha256: kept.sha256, body: .bytes(compressed))
        }
        var prepared = file
        prepared.size = entry.size
        return PreparedFile(file: prepared, entry: entry, bytes: whole, gzip: variant)
    }
}

/// Sequential chunked reads of one file (blocking; call from a thread pool).
final class FileReader {
    private var fd: CInt
    private let shownAs: String
    private var buffer = [UInt8](repeating: 0, count: 128 << 10)

    init(path: String, shownAs: String) throws(BuildError) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        self.shownAs = shownAs
        guard fd >= 0 else {
            throw BuildError.workspaceFailed("cannot open \(shownAs) to publish it: \(POSIXErrorText.current())")
        }
    }

    /// The next chunk, or nil at the end.
    func next() throws(BuildError) -> ArraySlice<UInt8>? {
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw BuildError.workspaceFailed("cannot read \(shownAs) to publish it: \(POSIXErrorText.current())")
            }
            return count == 0 ? nil : buffer[0..<count]
        }
    }

    func close() {
        if fd >= 0 { FileSystem.closeDescriptor(fd) }
        fd = -1
    }

    deinit { close() }
}

/// A temporary file written sequentially.
final class ScratchFile {
    private var fd: CInt
    private let path: String
    private(set) var written: Int64 = 0

    init(path: String) throws(BuildError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BuildError.workspaceFailed("cannot create \(path): \(POSIXErrorText.current())") }
    }

    func write(_ bytes: [UInt8]) throws(BuildError) {
        var failure: BuildError?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let count = FileSystem.writeDescriptor(fd, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = BuildError.workspaceFailed("cannot write \(path): \(POSIXErrorText.current())")
                    return
                }
                offset += count
            }
        }
        if let failure { throw failure }
        written += Int64(bytes.count)
    }

    func close() {
        if fd >= 0 { FileSystem.closeDescriptor(fd) }
        fd = -1
    }

    deinit { close() }
}
