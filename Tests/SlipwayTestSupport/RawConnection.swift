import Foundation
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A plain TCP connection for sending what no HTTP client would: malformed
/// requests, requests trickled byte by byte, pipelined batches, and a reader
/// that stops reading. Blocking system calls run on NIO's thread pool, never
/// on the test's cooperative threads.
public final class RawConnection: @unchecked Sendable {
    // The descriptor is only used by one test task at a time, in sequence.
    private var fd: CInt

    private init(fd: CInt) {
        self.fd = fd
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Connects to 127.0.0.1:`port`.
    /// - Parameter receiveBuffer: a small receive buffer makes a client that
    ///   stops reading fill up quickly.
    public static func connect(port: Int, receiveBuffer: Int? = nil) async throws -> RawConnection {
        try await NIOThreadPool.singleton.runIfActive {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw TestFailure("socket() failed: \(errno)") }
            if var size = receiveBuffer.map(CInt.init) {
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
            }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard result == 0 else {
                Glibc.close(fd)
                throw TestFailure("connect() failed: \(errno)")
            }
            return RawConnection(fd: fd)
        }
    }

    public func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) async throws {
        let fd = self.fd
        try await NIOThreadPool.singleton.runIfActive {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw TestFailure("send() failed: \(errno)")
                }
                offset += written
            }
        }
    }

    /// What a read found.
    public enum ReadResult: Equatable, Sendable {
        case bytes([UInt8])
        /// The server closed the connection (orderly or reset).
        case closed
        /// Nothing arrived within the wait.
        case timedOut
    }

    /// Waits up to `timeout` for bytes, reading at most `maximum`.
    public func read(maximum: Int = 64 << 10, timeout: Duration = .seconds(10)) async throws -> ReadResult {
        let fd = self.fd
        return try await NIOThreadPool.singleton.runIfActive {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(
                timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
            let ready = poll(&poller, 1, milliseconds)
            if ready == 0 { return .timedOut }
            guard ready > 0 else { throw TestFailure("poll() failed: \(errno)") }
            var buffer = [UInt8](repeating: 0, count: maximum)
            let count = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, maximum, 0) }
            if count == 0 { return .closed }
            if count < 0 {
                if errno == ECONNRESET { return .closed }
                throw TestFailure("recv() failed: \(errno)")
            }
            return .bytes(Array(buffer.prefix(count)))
        }
    }

    /// Reads until the server closes the connection or `timeout` passes;
    /// returns what arrived and whether the connection was closed.
    public func readUntilClosed(timeout: Duration = .seconds(10)) async throws -> (bytes: [UInt8], closed: Bool) {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var received: [UInt8] = []
        while clock.now < deadline {
            switch try await read(timeout: min(.milliseconds(500), deadline - clock.now)) {
            case .bytes(let bytes): received += bytes
            case .closed: return (received, true)
            case .timedOut: continue
            }
        }
        return (received, false)
    }

    /// Reads until `count` complete responses arrived (by `Content-Length`),
    /// or the connection closes, or `timeout` passes.
    /// - Parameter headRequests: how many of the first answers are to HEAD
    ///   requests (a head without a body, whatever its `Content-Length`).
    public func readResponses(_ count: Int, headRequests: Int = 0, timeout: Duration = .seconds(10)) async throws
        -> [RawResponse]
    {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var received: [UInt8] = []
        while clock.now < deadline {
            let parsed = RawResponse.parseAll(received, headRequests: headRequests)
            if parsed.count >= count { return parsed }
            switch try await read(timeout: min(.milliseconds(500), deadline - clock.now)) {
            case .bytes(let bytes): received += bytes
            case .closed: return RawResponse.parseAll(received, headRequests: headRequests)
            case .timedOut: continue
            }
        }
        return RawResponse.parseAll(received, headRequests: headRequests)
    }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}

/// A response parsed from raw bytes (`Content-Length` framing only, which is
/// all the proxy sends).
public struct RawResponse: Equatable, Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public static func == (lhs: RawResponse, rhs: RawResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body
            && lhs.headers.map { "\($0):\($1)" } == rhs.headers.map { "\($0):\($1)" }
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object, nil when it is not one.
    public var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    /// Every complete response at the start of `bytes`.
    public static func parseAll(_ bytes: [UInt8], headRequests: Int = 0) -> [RawResponse] {
        var responses: [RawResponse] = []
        var rest = bytes[...]
        while let end = rest.firstRange(of: Array("\r\n\r\n".utf8)) {
            let head = String(decoding: rest[rest.startIndex..<end.lowerBound], as: UTF8.self)
            var lines = head.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { break }
            let headers = lines.compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (
                    String(line[..<colon]),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                )
            }
            let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
            let bodyStart = end.upperBound
            let isHead = responses.count < headRequests
            let bodyLength = (isHead || status == 304) ? 0 : length
            guard rest.distance(from: bodyStart, to: rest.endIndex) >= bodyLength else { break }
            let bodyEnd = rest.index(bodyStart, offsetBy: bodyLength)
            responses.append(RawResponse(status: status, headers: headers, body: Array(rest[bodyStart..<bodyEnd])))
            rest = rest[bodyEnd...]
        }
        return responses
    }
}
