import Foundation
import Model
import Synchronization

/// The `Date` header's value (RFC 9110 §6.6.1), formatted once per second
/// for every connection, from a clock the server is given: the system's wall
/// clock in production, a fixed or stepped one in tests.
public final class HTTPDateClock: Sendable {
    /// The system's wall clock.
    public static let system = HTTPDateClock { Int64(Date().timeIntervalSince1970.rounded(.down)) }

    private let epochSeconds: @Sendable () -> Int64
    private let cached = Mutex<(second: Int64, text: String)>((.min, ""))

    /// - Parameter epochSeconds: the current time in whole seconds since 1970.
    public init(epochSeconds: @escaping @Sendable () -> Int64) {
        self.epochSeconds = epochSeconds
    }

    /// The current time in whole seconds since 1970.
    func currentSecond() -> Int64 { epochSeconds() }

    /// `second` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), formatted once for every caller asking
    /// within that second.
    func text(second: Int64) -> String {
        return cached.withLock { cached in
            if cached.second != second { cached = (second, HTTPDate.format(epochSeconds: second)) }
            return cached.text
        }
    }
}
