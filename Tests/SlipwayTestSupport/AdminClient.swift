import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The admin API of a running `slipway serve` on 127.0.0.1, as a script
/// would call it.
public struct AdminClient {
    public let port: Int
    public let token: String

    public init(port: Int, token: String) {
        self.port = port
        self.token = token
    }

    /// The admin token `slipway serve` generated in the data directory `data`.
    public static func token(in data: String) throws -> String {
        try String(contentsOfFile: data + "/admin-token", encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    /// Sends `method` to `path` with `body` as JSON; the status and the JSON
    /// object answered (empty when the answer is not one).
    public func send(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> (
        status: Int, json: [String: Any]
    ) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, json)
    }

    /// GETs `path`; the status and the body as text.
    public func text(_ path: String) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// Waits until `/readyz` answers 200.
    /// - Throws: `TestFailure` when it did not within about 30 seconds.
    public func waitUntilReady() async throws {
        for _ in 0..<300 {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/readyz")!)
            request.timeoutInterval = 2
            if let (_, response) = try? await URLSession.shared.data(for: request),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("the admin API never became ready on port \(port)")
    }
}
