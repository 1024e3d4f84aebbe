import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A small client of the admin API for the CLI: JSON requests and the
/// server-sent event stream of a build's log.
struct AdminAPIClient: Sendable {
    let baseURL: String
    let token: String

    static let http = HTTPClient(configuration: .init(redirectConfiguration: .disallow))

    /// Sends a request; a non-2xx answer becomes a `ClientError` carrying the API's message.
    func send(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil) async throws -> Any? {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await Self.http.execute(request, timeout: .seconds(30))
        } catch {
            throw ClientError(
                "cannot reach the admin API at \(baseURL) (\(error)); is `slipway serve` running? Set --admin-url or SLIPWAY_ADMIN_URL"
            )
        }
        let data = Data((try await response.body.collect(upTo: 32 << 20)).readableBytesView)
        let json = data.isEmpty ? nil : try? JSONSerialization.jsonObject(with: data)
        guard (200..<300).contains(Int(response.status.code)) else {
            let error = (json as? [String: Any])?["error"] as? [String: Any]
            let message = error?["message"] as? String ?? "the admin API answered \(response.status)"
            throw ClientError(message)
        }
        return json
    }

    /// The log of a build as plain text.
    func plainLog(buildID: String) async throws -> ByteBuffer {
        var request = HTTPClientRequest(url: baseURL + "/api/builds/\(buildID)/logs")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "text/plain")
        let response = try await Self.http.execute(request, timeout: .seconds(30))
        guard response.status == .ok else { throw ClientError("no log for build \(buildID) (\(response.status))") }
        return try await response.body.collect(upTo: 64 << 20)
    }

    /// Follows a build's log: calls `onLine` for each line and returns the
    /// final build (the `status` event that ends the stream).
    func followLog(buildID: String, onLine: (_ stream: String, _ text: String) -> Void) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: baseURL + "/api/builds/\(buildID)/logs")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response = try await Self.http.execute(request, timeout: .seconds(30))
        guard response.status == .ok else {
            throw ClientError("cannot follow the log of build \(buildID) (\(response.status))")
        }
        var pending = Data()
        var event = ""
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                if line.hasPrefix("event: ") {
                    event = String(line.dropFirst(7))
                } else if line.hasPrefix("data: ") {
                    let payload =
                        (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any] ?? [:]
                    if event == "status" { return payload }
                    if event == "log" { onLine(payload["stream"] as? String ?? "", payload["text"] as? String ?? "") }
                }
            }
        }
        throw ClientError(
            "the log stream of build \(buildID) ended before the build did; run `slipway logs \(buildID) --follow` again"
        )
    }
}
