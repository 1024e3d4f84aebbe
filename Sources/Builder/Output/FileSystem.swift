import Foundation
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few file-system operations the builder needs on untrusted trees
/// (a checkout, a build's output), done with `lstat` so that a symlink is
/// seen as a symlink and never followed by accident.
enum FileSystem {
    enum Kind: Sendable, Hashable {
        case regular
        case directory
        case symlink
        case fifo
        case socket
        case characterDevice
        case blockDevice
        case missing
        case other
    }

    struct Status: Sendable, Hashable {
        var kind: Kind
        var size: Int64
        var device: UInt64
        var inode: UInt64
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        /// Hard links to the inode (directory entries naming it).
        var links: UInt64 = 1
    }

    /// Runs blocking file-system work (walking, removing, changing owners of
    /// whole trees) on NIO's blocking thread pool, never on the cooperative
    /// pool the rest of Slipway's async code shares.
    /// Work not yet started when the task is cancelled does not run.
    static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(work)
    }

    /// Like ``offload(_:)``, but runs even when the calling task is cancelled
    /// (clean-up that must happen).
    static func offloadAlways<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await Task { try await NIOThreadPool.singleton.runIfActive(work) }.value
    }

    /// What is at `path`, without following a final symlink.
    static func lstatus(_ path: String) -> Status {
        var info = stat()
        guard lstat(path, &info) == 0 else { return Status(kind: .missing, size: 0, device: 0, inode: 0) }
        return status(info)
    }

    /// What `path` leads to, following symlinks.
    static func status(_ path: String) -> Status {
        var info = stat()
        guard stat(path, &info) == 0 else { return Status(kind: .missing, size: 0, device: 0, inode: 0) }
        return status(info)
    }

    private static func status(_ info: stat) -> Status {
        let kind: Kind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        default: kind = .other
        }
        return Status(
            kind: kind, size: Int64(info.st_size), device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
            uid: UInt32(info.st_uid), gid: UInt32(info.st_gid), links: UInt64(info.st_nlink))
    }

    /// The canonical absolute path (`realpath`), or nil when it does not resolve.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether `path` is `directory` or lies under it (both canonical).
    static func isInside(_ path: String, _ directory: String) -> Bool {
        path == directory || path.hasPrefix(directory.hasSuffix("/") ? directory : directory + "/")
    }

    /// The names in `directory` (without `.` and `..`), sorted.
    static func entries(of directory: String) throws(BuildError) -> [String] {
        guard let handle = opendir(directory) else {
            throw BuildError.workspaceFailed("cannot list \(directory): \(POSIXErrorText.current())")
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Creates `path` and its parents with `mode`.
    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(BuildError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(mode)])
        } catch {
            throw BuildError.workspaceFailed(
                "cannot create the directory \(path): \(error.localizedDescription); check the data directory's permissions"
            )
        }
    }

    /// Gives `path` and everything under it to `uid:gid`, unless `path`
    /// already belongs to them (then everything under it was made by them:
    /// a persistent cache the build user filled).
    static func changeOwnerUnlessOwned(_ path: String, uid: UInt32, gid: UInt32) throws(BuildError) {
        let status = lstatus(path)
        if status.kind != .missing && status.uid == uid && status.gid == gid { return }
        try changeOwner(path, uid: uid, gid: gid)
    }

    /// Gives `path` and everything under it (not following symlinks) to `uid:gid`.
    static func changeOwner(_ path: String, uid: UInt32, gid: UInt32) throws(BuildError) {
        guard lchown(path, uid, gid) == 0 else {
            throw BuildError.workspaceFailed(
                "cannot give \(path) to the build user \(uid):\(gid): \(POSIXErrorText.current())")
        }
        guard lstatus(path).kind == .directory else { return }
        for name in try entries(of: path) {
            try changeOwner(path + "/" + name, uid: uid, gid: gid)
        }
    }

    /// Removes `path` and everything under it, never following symlinks.
    /// Directories a build made unreadable or unwritable are opened up first.
    static func removeTree(_ path: String) throws(BuildError) {
        let kind = lstatus(path).kind
        if kind == .missing { return }
        if kind == .directory {
            _ = chmod(path, 0o700)
            for name in try entries(of: path) {
                try removeTree(path + "/" + name)
            }
            guard rmdir(path) == 0 || errno == ENOENT else {
                throw BuildError.workspaceFailed("cannot remove the directory \(path): \(POSIXErrorText.current())")
            }
        } else {
            guard unlink(path) == 0 || errno == ENOENT else {
                throw BuildError.workspaceFailed("cannot remove \(path): \(POSIXErrorText.current())")
            }
        }
    }

    static func closeDescriptor(_ fd: CInt) {
        _ = close(fd)
    }

    static func writeDescriptor(_ fd: CInt, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        write(fd, bytes, count)
    }
}
