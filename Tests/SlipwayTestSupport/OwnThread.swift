import Foundation

/// Runs blocking `work` (waiting for a child process, reading a pipe to its
/// end) on a thread of its own and returns its result, so that the few
/// threads of Swift's cooperative pool keep running the tests beside it.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
