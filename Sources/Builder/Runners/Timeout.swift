/// Runs `operation`, cancelling it and throwing `error` when it has not
/// finished after `limit`.
func withTimeout<T: Sendable>(
    _ limit: Duration, error: any Error, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        guard let value = first else { throw error }
        return value
    }
}
