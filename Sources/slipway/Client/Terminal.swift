#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's standard output and error as the CLI writes to them:
/// unbuffered `write(2)`, so that lines on the two streams keep their order
/// when they meet in one terminal or one CI log.
enum Terminal {
    static let output: Int32 = 1
    static let error: Int32 = 2

    /// Whether `descriptor` is a terminal.
    static func isTerminal(_ descriptor: Int32) -> Bool {
        isatty(descriptor) == 1
    }

    /// The width of the terminal behind `descriptor`: the kernel's window
    /// size (asked on every call, so a resized window is followed without a
    /// SIGWINCH handler), else `COLUMNS`, else 80.
    static func columns(_ descriptor: Int32, environment: [String: String]) -> Int {
        var size = winsize()
        if ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        if let columns = environment["COLUMNS"].flatMap({ Int($0) }), columns > 0 {
            return columns
        }
        return 80
    }

    /// Writes all of `text`, retrying short writes and interruptions; a
    /// stream that is gone (a closed pipe) is left alone.
    static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                #if canImport(Glibc)
                    Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #else
                    Darwin.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #endif
            }
            if written < 0, errno == EINTR { continue }
            if written < 0, errno == EAGAIN {
                usleep(1000) // a non-blocking descriptor that is full: wait for the reader
                continue
            }
            guard written > 0 else { return }
            offset += written
        }
    }
}
