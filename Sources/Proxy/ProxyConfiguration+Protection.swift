public import Crypto
import Foundation

extension ProxyConfiguration {
    /// Protected sites (`docs/site-rules.md`, Protected sites): how the edge
    /// signs the session cookies of password mode, how long they last, and
    /// how many wrong passwords a client may send per host.
    public struct Protection: Sendable, Hashable {
        /// The keys that sign session cookies: the first signs, any verifies
        /// (`SecretKeyring.derivedKeys(purpose: "edge-session")`, so every
        /// node of a fleet accepts the others' cookies, and rotating
        /// `SLIPWAY_SECRET_KEY` signs no one out). Empty: a random key of
        /// this process, which is fine for one node and for tests.
        public var sessionKeys: SessionKeys
        /// How long a sign-in lasts (`SLIPWAY_SESSION_TTL`).
        public var sessionTTL: Duration
        /// Wrong passwords a client may send for one host per `failureWindow`
        /// before it gets 429 with `Retry-After`.
        public var maxFailures: Int
        public var failureWindow: Duration

        public init(
            sessionKeys: SessionKeys = SessionKeys([]), sessionTTL: Duration = .seconds(7 * 86_400),
            maxFailures: Int = 10, failureWindow: Duration = .seconds(60)
        ) {
            self.sessionKeys = sessionKeys
            self.sessionTTL = sessionTTL
            self.maxFailures = maxFailures
            self.failureWindow = failureWindow
        }
    }

    /// Keys of session cookies; never printed.
    public struct SessionKeys: Sendable, Hashable, CustomStringConvertible {
        let bytes: [Data]

        public init(_ keys: [SymmetricKey]) {
            bytes = keys.map { $0.withUnsafeBytes { Data($0) } }
        }

        /// The keys, or one random key of this process when none was given.
        var keys: [SymmetricKey] {
            bytes.isEmpty ? [SymmetricKey(size: .bits256)] : bytes.map { SymmetricKey(data: $0) }
        }

        public var description: String { "<\(bytes.count) keys>" }
    }
}
