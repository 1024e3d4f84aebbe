import Crypto
import Foundation
import _CryptoExtras

/// Site passwords at rest: scrypt (RFC 7914) with a random salt, written in
/// a self-describing form, `scrypt$<N>$<r>$<p>$<salt>$<hash>` (salt and
/// hash in base64), so the cost can grow later without breaking stored
/// hashes. The default cost (N = 2^15, r = 8, p = 1: 32 MiB and tens of
/// milliseconds per try) makes offline guessing slow; callers verify off
/// any event loop.
public enum PasswordHash {
    /// The scrypt parameters.
    public struct Cost: Sendable, Hashable {
        /// CPU/memory cost, a power of two.
        public var n: Int
        /// Block size.
        public var r: Int
        /// Parallelism.
        public var p: Int

        public init(n: Int, r: Int, p: Int) {
            self.n = n
            self.r = r
            self.p = p
        }

        /// What new hashes use.
        public static let standard = Cost(n: 1 << 15, r: 8, p: 1)

        /// Whether a stored hash's cost is one this code computes: bounded so
        /// that a damaged row cannot make the edge spend seconds or gigabytes.
        var isAcceptable: Bool {
            n >= 2 && n <= 1 << 20 && n & (n - 1) == 0 && (1...32).contains(r) && (1...16).contains(p)
        }
    }

    static let scheme = "scrypt"
    static let saltBytes = 16
    static let hashBytes = 32

    /// A new hash of `password` with a fresh random salt.
    public static func make(_ password: String, cost: Cost = .standard) -> String {
        precondition(cost.isAcceptable, "scrypt cost out of range")
        let salt = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }
        guard let derived = derive(password, salt: salt, cost: cost) else {
            preconditionFailure("scrypt with checked parameters cannot fail")
        }
        return [
            scheme, String(cost.n), String(cost.r), String(cost.p), salt.base64EncodedString(),
            derived.base64EncodedString(),
        ].joined(separator: "$")
    }

    /// Whether `password` is the one `encoded` was made from. False for a
    /// malformed hash. The comparison takes the same time wherever the
    /// bytes differ.
    public static func verify(_ password: String, against encoded: String) -> Bool {
        guard let parsed = parse(encoded), let derived = derive(password, salt: parsed.salt, cost: parsed.cost) else {
            return false
        }
        return constantTimeEquals(derived, parsed.hash)
    }

    /// Whether `encoded` has this type's form and an acceptable cost.
    public static func isWellFormed(_ encoded: String) -> Bool { parse(encoded) != nil }

    /// Equal-length byte strings compared without an early exit.
    public static func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    private static func parse(_ encoded: String) -> (cost: Cost, salt: Data, hash: Data)? {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == scheme, let n = Int(parts[1]), let r = Int(parts[2]),
            let p = Int(parts[3]), let salt = Data(base64Encoded: String(parts[4])),
            let hash = Data(base64Encoded: String(parts[5])), !salt.isEmpty, hash.count == hashBytes
        else { return nil }
        let cost = Cost(n: n, r: r, p: p)
        return cost.isAcceptable ? (cost, salt, hash) : nil
    }

    private static func derive(_ password: String, salt: Data, cost: Cost) -> Data? {
        guard
            let key = try? KDF.Scrypt.deriveKey(
                from: Data(password.utf8), salt: salt, outputByteCount: hashBytes, rounds: cost.n, blockSize: cost.r,
                parallelism: cost.p)
        else { return nil }
        return key.withUnsafeBytes { Data($0) }
    }
}
