import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A plain HTTP/1.1 GET to 127.0.0.1:`port` with exactly the Host header the
/// test names; the status and the body.
public func httpGet(port: Int, host: String, path: String = "/") async throws -> (status: Int, body: String) {
    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
    request.setValue(host, forHTTPHeaderField: "Host")
    request.timeoutInterval = 10
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}

/// Waits until something answers HTTP on 127.0.0.1:`port`.
/// - Throws: `TestFailure` when nothing did within `timeout`.
public func waitForPort(_ port: Int, timeout: Duration = .seconds(30)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await httpGet(port: port, host: "probe.localhost")) != nil { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw TestFailure("nothing answered on port \(port)")
}
