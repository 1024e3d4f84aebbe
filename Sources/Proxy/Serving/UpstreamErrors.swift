import AsyncHTTPClient
import NIOCore
import Storage

/// Runs `operation`, failing with `ProxyError.upstreamTimeout` when it takes
/// longer than `timeout` (the operation is then cancelled).
func withUpstreamTimeout<T: Sendable>(
    _ timeout: Duration, what: @autoclosure () -> String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let description = what()
    return try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw ProxyError.upstreamTimeout("the object store did not deliver \(description) within \(timeout)")
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw CancellationError() }
        return result
    }
}

/// Maps what fetching from the store can throw onto the proxy's errors:
/// timeouts become 504, every other store failure 502. Cancellation (the
/// client went away) is passed through unchanged.
func classifyUpstreamError(_ error: any Error, what: String) -> any Error {
    switch error {
    case is ProxyError, is CancellationError:
        return error
    case let error as ObjectStoreError:
        if error.code == .timeout { return ProxyError.upstreamTimeout("the object store timed out reading \(what)") }
        return ProxyError.upstreamFailed("the object store failed reading \(what): \(error.code)")
    case let error as HTTPClientError:
        switch error {
        case .connectTimeout, .readTimeout, .deadlineExceeded, .writeTimeout:
            return ProxyError.upstreamTimeout("the object store timed out reading \(what)")
        case .cancelled:
            return CancellationError()
        default:
            return ProxyError.upstreamFailed("the object store connection failed reading \(what): \(error)")
        }
    default:
        return ProxyError.upstreamFailed(
            "reading \(what) from the object store failed: \(String(describing: type(of: error)))")
    }
}
