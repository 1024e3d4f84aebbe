import Foundation
import Storage

/// Stores objects with retries: a transient store failure (connection
/// refused, timeout, 5xx, SlowDown) is retried with exponential backoff;
/// anything else fails at once.
struct Uploader: Sendable {
    var store: any ObjectStore
    var attempts: Int
    var backoff: Duration

    /// Stores `body()` under `key`; `body` is called again for each try.
    func put(_ key: String, options: PutOptions, body: @Sendable () -> ObjectBody) async throws(BuildError) {
        var attempt = 1
        while true {
            do {
                try await store.put(key, body: body(), options: options)
                return
            } catch let error as ObjectStoreError {
                if !error.isTransient || attempt >= attempts {
                    throw BuildError.storeFailed(
                        "storing \(key) failed\(attempt > 1 ? " after \(attempt) tries" : ""): \(error.message)",
                        transient: error.isTransient)
                }
            } catch is CancellationError {
                throw BuildError.canceled
            } catch let error as BuildError {
                throw error
            } catch {
                throw BuildError.storeFailed("storing \(key) failed: \(error)", transient: false)
            }
            let delay = backoff * (1 << min(attempt - 1, 10))
            do { try await Task.sleep(for: delay) } catch { throw BuildError.canceled }
            attempt += 1
        }
    }
}

/// Runs `work` for every element with at most `width` running at once,
/// stopping at the first error (the others are cancelled).
func forEachConcurrently<Element: Sendable>(
    _ elements: [Element], width: Int, _ work: @escaping @Sendable (Element) async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var iterator = elements.makeIterator()
        for _ in 0..<max(1, width) {
            guard let element = iterator.next() else { break }
            group.addTask { try await work(element) }
        }
        while try await group.next() != nil {
            if let element = iterator.next() { group.addTask { try await work(element) } }
        }
    }
}
