#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Thin wrappers over the few system calls the storage layer makes directly,
// so call sites read the same on Linux and macOS.

func openFile(_ path: String) -> CInt {
    open(path, O_RDONLY | O_CLOEXEC)
}

func closeFile(_ fd: CInt) -> CInt {
    close(fd)
}

/// `pread` that returns the byte count (0 at end of file, -1 on error) and
/// retries on `EINTR`.
func preadFile(_ fd: CInt, _ buffer: UnsafeMutableRawPointer?, _ count: Int, _ offset: Int64) -> Int {
    while true {
        let n = pread(fd, buffer, count, off_t(offset))
        if n < 0 && errno == EINTR { continue }
        return n
    }
}

/// The current `errno` as text, for error messages.
func errnoDescription(_ code: CInt = errno) -> String {
    String(cString: strerror(code))
}
