import Foundation
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A plain TCP connection to a server on 127.0.0.1, for sending what no HTTP
/// client would: requests without `Host`, unknown transfer codings,
/// pipelined batches. Blocking system calls run on NIO's thread pool, never
/// on the test's cooperative threads.
public final class RawTCPConnection: @unchecked Sendable {
    // The descriptor is only used by one test task at a time, in sequence.
    private var fd: CInt

    private init(fd: CInt) {
        self.fd = fd
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Connects to 127.0.0.1:`port`.
    public static func connect(port: Int) async throws -> RawTCPConnection {
        try await NIOThreadPool.singleton.runIfActive {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw TestFailure("socket() failed: \(errno)") }
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
            return RawTCPConnection(fd: fd)
        }
    }

    /// Sends `text` as it is (write `\r\n` yourself).
    public func send(_ text: String) async throws {
        let bytes = Array(text.utf8)
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

    /// Reads until the server closes the connection or `timeout` passes;
    /// returns what arrived and whether the connection was closed.
    public func readUntilClosed(timeout: Duration = .seconds(10)) async throws -> (bytes: [UInt8], closed: Bool) {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var received: [UInt8] = []
        while clock.now < deadline {
            switch try await read(timeout: min(.milliseconds(500), deadline - clock.now)) {
            case .some(let bytes) where bytes.isEmpty: return (received, true)
            case .some(let bytes): received += bytes
            case .none: continue
            }
        }
        return (received, false)
    }

    /// Reads until `count` complete responses arrived (by `Content-Length`),
    /// the connection closes, or `timeout` passes.
    public func readResponses(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [RawHTTPResponse] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var received: [UInt8] = []
        while clock.now < deadline {
            let parsed = RawHTTPResponse.parseAll(received)
            if parsed.count >= count { return parsed }
            switch try await read(timeout: min(.milliseconds(500), deadline - clock.now)) {
            case .some(let bytes) where bytes.isEmpty: return RawHTTPResponse.parseAll(received)
            case .some(let bytes): received += bytes
            case .none: continue
            }
        }
        return RawHTTPResponse.parseAll(received)
    }

    /// Bytes that arrived within `timeout`: empty when the server closed
    /// the connection (orderly or reset), nil when nothing arrived.
    private func read(timeout: Duration) async throws -> [UInt8]? {
        let fd = self.fd
        return try await NIOThreadPool.singleton.runIfActive {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(
                timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
            let ready = poll(&poller, 1, max(milliseconds, 1))
            if ready == 0 { return nil }
            guard ready > 0 else { throw TestFailure("poll() failed: \(errno)") }
            let maximum = 64 << 10
            var buffer = [UInt8](repeating: 0, count: maximum)
            let count = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, maximum, 0) }
            if count == 0 { return [] }
            if count < 0 {
                if errno == ECONNRESET { return [] }
                throw TestFailure("recv() failed: \(errno)")
            }
            return Array(buffer.prefix(count))
        }
    }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}

/// A response parsed from raw bytes, framed by `Content-Length` (a response
/// without one has an empty body).
public struct RawHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first value of the field `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object, nil when it is not one.
    public var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    /// Every complete response at the start of `bytes`.
    public static func parseAll(_ bytes: [UInt8]) -> [RawHTTPResponse] {
        var responses: [RawHTTPResponse] = []
        var rest = bytes[...]
        while let end = rest.firstRange(of: Array("\r\n\r\n".utf8)) {
            let head = String(decoding: rest[rest.startIndex..<end.lowerBound], as: UTF8.self)
            var lines = head.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { break }
            let headers = lines.compactMap { line -> (name: String, value: String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (
                    String(line[..<colon]),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                )
            }
            let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
            let bodyStart = end.upperBound
            guard rest.distance(from: bodyStart, to: rest.endIndex) >= length else { break }
            let bodyEnd = rest.index(bodyStart, offsetBy: length)
            responses.append(RawHTTPResponse(status: status, headers: headers, body: Array(rest[bodyStart..<bodyEnd])))
            rest = rest[bodyEnd...]
        }
        return responses
    }
}
