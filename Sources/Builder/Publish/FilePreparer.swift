import Crypto
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
    var body: Body
}

/// Reads each output file once: its strong ETag (SHA-256), content type,
/// immutable flag and, for compressible text, a gzip variant kept only when
/// it saves at least 10%.
///
/// The work runs on NIO's blocking thread pool (file reads and compression
/// must not hold the cooperative pool). Files up to ``inMemoryLimit`` are
/// read whole and kept in memory until uploaded; larger files stream in
/// chunks and their variants go to a temporary file.
struct FilePreparer: Sendable {
    /// Files up to this size are handled in memory.
    static let inMemoryLimit = 256 << 10
    /// Files smaller than this are not worth a variant (gzip adds ~20 bytes of framing).
    static let minimumCompressibleSize: Int64 = 256
    /// A variant must be at most this fraction of the original.
    static let maximumVariantRatio = 0.9
    /// Prefix of generated variants inside a build.
    static let variantPrefix = OutputScanner.reservedDirectory + "/gzip/"
    /// Hex characters of the SHA-256 kept in an ETag (128 bits).
    static let etagLength = 32

    /// Where variants of large files are written.
    var scratchDirectory: String

    func prepare(_ file: OutputFile, index: Int) async throws -> PreparedFile {
        try await NIOThreadPool.singleton.runIfActive { try prepareBlocking(file, index: index) }
    }

    func prepareBlocking(_ file: OutputFile, index: Int) throws -> PreparedFile {
        let contentType = ContentTypes.forPath(file.path)
        let compress = ContentTypes.isCompressible(contentType) && file.size >= Self.minimumCompressibleSize
        let source = try FileReader(path: file.source, shownAs: file.path)
        defer { source.close() }

        var hasher = SHA256()
        var size: Int64 = 0
        var whole: [UInt8]? = file.size <= Int64(Self.inMemoryLimit) ? [] : nil
        let compressor = compress ? try GzipCompressor() : nil
        var compressed: [UInt8] = []
        var spill: ScratchFile?
        let scratchPath = scratchDirectory + "/\(index).gz"

        while let chunk = try source.next() {
            size += Int64(chunk.count)
            chunk.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            if whole != nil { whole!.append(contentsOf: chunk) }
            if let compressor {
                try chunk.withUnsafeBytes { raw in try compressor.update(raw, into: &compressed) }
                if compressed.count >= 1 << 20 {
                    if spill == nil { spill = try ScratchFile(path: scratchPath) }
                    try spill!.write(compressed)
                    compressed.removeAll(keepingCapacity: true)
                }
            }
        }

        var variant: PreparedVariant?
        if let compressor {
            try compressor.finish(into: &compressed)
            let variantPath = Self.variantPrefix + file.path + ".gz"
            if let spill {
                try spill.write(compressed)
                let total = spill.written
                spill.close()
                if Double(total) <= Double(size) * Self.maximumVariantRatio {
                    variant = PreparedVariant(
                        path: variantPath, size: total, etag: try Self.etag(ofFile: scratchPath),
                        body: .file(scratchPath))
                } else {
                    unlink(scratchPath)
                }
            } else if Double(compressed.count) <= Double(size) * Self.maximumVariantRatio {
                variant = PreparedVariant(
                    path: variantPath, size: Int64(compressed.count), etag: Self.etag(of: compressed),
                    body: .bytes(compressed))
            }
        }

        var entry = ManifestFile(
            size: size, etag: Self.hex(hasher.finalize()), contentType: contentType,
            immutable: AssetClassifier.isImmutable(file.path))
        if let variant {
            entry.variants["gzip"] = ManifestVariant(path: variant.path, size: variant.size, etag: variant.etag)
        }
        var prepared = file
        prepared.size = size
        return PreparedFile(file: prepared, entry: entry, bytes: whole, gzip: variant)
    }

    static func etag(of bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    static func etag(ofFile path: String) throws -> String {
        let reader = try FileReader(path: path, shownAs: path)
        defer { reader.close() }
        var hasher = SHA256()
        while let chunk = try reader.next() { chunk.withUnsafeBytes { hasher.update(bufferPointer: $0) } }
        return hex(hasher.finalize())
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        let table = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(etagLength)
        for byte in digest {
            bytes.append(table[Int(byte >> 4)])
            bytes.append(table[Int(byte & 0x0f)])
            if bytes.count >= etagLength { break }
        }
        return String(decoding: bytes, as: UTF8.self)
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
