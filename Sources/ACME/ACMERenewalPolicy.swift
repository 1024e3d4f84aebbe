public import Foundation

/// When to renew a certificate: inside the CA's ARI window when it gave one
/// (RFC 9773 §4.2), else at two thirds of the certificate's lifetime (a
/// 90-day certificate renews with 30 days left, a 45-day one with 15).
public enum ACMERenewalPolicy {
    /// The moment to renew, never earlier than `now`.
    ///
    /// - Parameters:
    ///   - notBefore: the certificate's `notBefore`.
    ///   - notAfter: the certificate's `notAfter`.
    ///   - window: the ARI suggested window, when the CA gave one.
    ///   - now: the current time.
    ///   - jitter: where in the window to renew, 0 (start) to 1 (end); pass a
    ///     random value so that a fleet's renewals spread over the window.
    ///     Values outside 0...1 are clamped.
    /// - Returns: a point in `window` (or `now` once it is past or the
    ///   point already passed), else `notBefore + 2/3 · lifetime` (or `now`
    ///   once that passed).
    public static func renewalTime(
        notBefore: Date, notAfter: Date, window: ACMERenewalWindow?, now: Date, jitter: Double
    ) -> Date {
        let time: Date
        if let window, window.end > window.start {
            let fraction = min(max(jitter, 0), 1)
            time = window.start.addingTimeInterval(window.end.timeIntervalSince(window.start) * fraction)
        } else if let window {
            time = window.start
        } else {
            time = notBefore.addingTimeInterval(notAfter.timeIntervalSince(notBefore) * 2 / 3)
        }
        return max(time, now)
    }
}
