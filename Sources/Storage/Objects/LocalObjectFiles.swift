#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A store whose objects are files on this machine (the disk store): a
/// server may send them straight from the kernel (`sendfile`) instead of
/// copying them through memory or asking for a presigned URL.
///
/// Reached through ``ObjectStore/localFiles``, never by casting to a
/// concrete store, so a server asks what a store can do rather than what it is.
public protocol LocalObjectFiles: Sendable {
    /// Opens the object under `key` for reading. Blocking: call it off the
    /// event loop.
    /// - Returns: an open descriptor the caller owns (and must close), with
    ///   the size of the file it was opened on. The size comes from the open
    ///   file, so a concurrent replacement of the object cannot make the two
    ///   disagree.
    /// - Throws: `ObjectStoreError.notFound`, `.invalidKey` or `.io`.
    func openForReading(_ key: String) throws -> LocalObjectFile
}

/// An object opened as a local file.
public struct LocalObjectFile: Sendable {
    /// A read-only descriptor (close-on-exec), owned by the receiver.
    public let descriptor: CInt
    /// The file's size in bytes.
    public let size: Int64

    public init(descriptor: CInt, size: Int64) {
        self.descriptor = descriptor
        self.size = size
    }
}

extension ObjectStore {
    /// Stores without local files (S3, R2): nil.
    public var localFiles: (any LocalObjectFiles)? { nil }
}

extension LocalObjectFile {
    /// Reads bytes of an open file at `offset` into `buffer`, until it is
    /// full or the file ends. Blocking: call it off the event loop.
    /// - Returns: the bytes read; fewer than `buffer.count` only at the end of the file.
    /// - Throws: `ObjectStoreError.io` when the system refuses the read.
    public static func read(
        descriptor: CInt, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer
    ) throws(ObjectStoreError) -> Int {
        var total = 0
        while total < buffer.count {
            let count = preadFile(
                descriptor, buffer.baseAddress.map { $0 + total }, buffer.count - total, offset + Int64(total))
            guard count >= 0 else {
                throw .io("cannot read at byte \(offset + Int64(total)) of a stored file: \(errnoDescription())")
            }
            guard count > 0 else { break }
            total += count
        }
        return total
    }
}
