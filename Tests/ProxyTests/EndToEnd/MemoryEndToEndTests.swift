import Foundation
import SlipwayTestSupport
import Storage
import Testing

@testable import Proxy

/// The resident memory of this process, from `/proc/self/status`.
func residentBytes() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { throw TestFailure("no VmRSS in /proc/self/status") }
    return kilobytes * 1024
}

extension EndToEnd {
    /// A slow client reading a large object does not grow memory.
    @Suite struct MemoryEndToEndTests {
        /// With `sendfile`, and with the file read into buffers a slice ahead of the client.
        @Test(arguments: [true, false])
        func aSlowClientReadingALargeDiskFileDoesNotGrowMemory(sendfile: Bool) async throws {
            let size = 128 << 20
            try await withTestProxy(configure: {
                $0.cache.maxEntryBytes = 256 << 10
                $0.sendfile = sendfile
            }) { proxy in
                _ = try await proxy.deploy(
                    "docs", as: "manual", extraFiles: ["huge.bin": patternBytes(count: size, seed: 9)])
                let baseline = try residentBytes()
                let connection = try await RawConnection.connect(port: proxy.port, receiveBuffer: 16 << 10)
                defer { connection.close() }
                try await connection.send("GET /huge.bin HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                var received: [UInt8] = []
                while received.count < 64 << 10 {
                    guard case .bytes(let bytes) = try await connection.read() else {
                        throw TestFailure("the response stopped")
                    }
                    received += bytes
                }
                // The client stops reading for a while.
                try await Task.sleep(for: .seconds(1))
                let paused = try residentBytes()
                #expect(
                    paused - baseline < 32 << 20,
                    "memory grew by \(paused - baseline) bytes for a client that read 64 KiB")
                // Then reads the rest: all of it arrives.
                guard let headEnd = received.firstRange(of: Array("\r\n\r\n".utf8)) else {
                    throw TestFailure("no head")
                }
                var total = received.count - headEnd.upperBound
                while total < size {
                    guard case .bytes(let bytes) = try await connection.read(maximum: 1 << 20) else { break }
                    total += bytes.count
                }
                #expect(total == size)
                #expect(try residentBytes() - baseline < 32 << 20)
            }
        }
    }
}
