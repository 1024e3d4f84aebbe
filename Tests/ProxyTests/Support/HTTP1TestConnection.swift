import Foundation
import SlipwayTestSupport

/// A connection a hardening test writes raw HTTP/1.1 bytes to and reads raw
/// answers from, over plain TCP (`RawConnection`) or TLS
/// (`RawTLSConnection`, ALPN `http/1.1`): the same bytes, the same
/// expectations.
protocol HTTP1TestConnection: Sendable {
    func send(_ bytes: [UInt8]) async throws
    /// Waits up to `timeout` for bytes, reading at most `maximum`.
    func read(maximum: Int, timeout: Duration) async throws -> RawConnection.ReadResult
    func close()
}

extension HTTP1TestConnection {
    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    func read(timeout: Duration = .seconds(10)) async throws -> RawConnection.ReadResult {
        try await read(maximum: 64 << 10, timeout: timeout)
    }

    /// Reads until the server closes the connection or `timeout` passes;
    /// returns what arrived and whether the connection was closed.
    func readUntilClosed(timeout: Duration = .seconds(10)) async throws -> (bytes: [UInt8], closed: Bool) {
        let deadline = ContinuousClock.now + timeout
        var received: [UInt8] = []
        while ContinuousClock.now < deadline {
            switch try await read(maximum: 64 << 10, timeout: min(.milliseconds(500), deadline - .now)) {
            case .bytes(let bytes): received += bytes
            case .closed: return (received, true)
            case .timedOut: continue
            }
        }
        return (received, false)
    }

    /// Reads until `count` complete responses arrived (by `Content-Length`),
    /// or the connection closes, or `timeout` passes.
    /// - Parameter headRequests: how many of the first answers are to HEAD requests.
    func readResponses(_ count: Int, headRequests: Int = 0, timeout: Duration = .seconds(10)) async throws
        -> [RawResponse]
    {
        let deadline = ContinuousClock.now + timeout
        var received: [UInt8] = []
        while ContinuousClock.now < deadline {
            let parsed = RawResponse.parseAll(received, headRequests: headRequests)
            if parsed.count >= count { return parsed }
            switch try await read(maximum: 64 << 10, timeout: min(.milliseconds(500), deadline - .now)) {
            case .bytes(let bytes): received += bytes
            case .closed: return RawResponse.parseAll(received, headRequests: headRequests)
            case .timedOut: continue
            }
        }
        return RawResponse.parseAll(received, headRequests: headRequests)
    }
}

extension RawConnection: HTTP1TestConnection {}

extension RawTLSConnection: HTTP1TestConnection {
    func read(maximum: Int, timeout: Duration) async throws -> RawConnection.ReadResult {
        let deadline = ContinuousClock.now + timeout
        while true {
            let bytes = take(maximum: maximum)
            if !bytes.isEmpty { return .bytes(bytes) }
            if isClosed { return take(maximum: maximum).isEmpty ? .closed : .bytes(take(maximum: maximum)) }
            if ContinuousClock.now >= deadline { return .timedOut }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}

extension TestProxy {
    /// A raw HTTP/1.1 connection to the edge over the test's transport:
    /// plain TCP, or TLS with ALPN `http/1.1` (HTTP/2 has its own raw client).
    /// - Parameter receiveBuffer: a small socket buffer makes a client that stops reading fill up quickly.
    func rawHTTP1Connection(receiveBuffer: Int? = nil) async throws -> any HTTP1TestConnection {
        switch transport {
        case .plain:
            return try await RawConnection.connect(port: port, receiveBuffer: receiveBuffer)
        case .tls, .h2:
            return try await RawTLSConnection.connect(
                port: port, serverName: TestProxy.edgeName, trusting: trustRoot!, alpn: ["http/1.1"],
                receiveBuffer: receiveBuffer)
        }
    }
}
