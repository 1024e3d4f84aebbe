import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// A plain HTTP client for tests, standing in for whoever receives a
/// presigned URL: no credentials, no signing, just the URL.
enum TestHTTP {
    struct Response: Sendable {
        var status: Int
        var bytes: [UInt8]
        var body: String { String(decoding: bytes, as: UTF8.self) }
    }

    static func get(_ url: String) async throws -> Response {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        return Response(status: Int(response.status.code), bytes: Array(body.readableBytesView))
    }
}
