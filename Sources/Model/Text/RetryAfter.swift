public import Foundation

/// The `Retry-After` response header (RFC 9110, section 10.2.3).
public enum RetryAfter {
    /// The wait `value` asks for: delay-seconds (`120`) or an HTTP-date
    /// (`Wed, 21 Oct 2015 07:28:00 GMT`, which counts from `now`; a date
    /// already past is no wait). Nil when it is neither.
    public static func delay(_ value: String, now: Date) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // More digits than an Int64 holds is "a very long time".
            return .seconds(Int64(text) ?? Int64.max)
        }
        guard let epochSeconds = HTTPDate.parse(text) else { return nil }
        let seconds = TimeInterval(epochSeconds) - now.timeIntervalSince1970
        return seconds > 0 ? .milliseconds(Int64((seconds * 1000).rounded(.up))) : .zero
    }
}
