import Crypto
import NIOConcurrencyHelpers

/// Derived SigV4 signing keys by `date/region/service`.
///
/// Deriving a key costs four HMACs; a signer reuses one key for a whole UTC
/// day. The table is shared by copies of a signer, guarded by a lock, and
/// bounded: a signer only ever needs today's key (and yesterday's around
/// midnight), so when it is full it is simply emptied.
final class SigningKeyCache: Sendable {
    /// More than any signer needs at once; keeps a pathological caller (many
    /// dates, e.g. presigning for past times) from growing the table.
    static let capacity = 8

    // Raw key bytes: `SymmetricKey` is not `Sendable`, so keys cross the
    // lock as arrays and are rebuilt on use (a copy of 32 bytes).
    private let keys = NIOLockedValueBox<[String: [UInt8]]>([:])

    func key(for scope: String) -> SymmetricKey? {
        keys.withLockedValue { $0[scope] }.map { SymmetricKey(data: $0) }
    }

    func store(_ key: SymmetricKey, for scope: String) {
        let bytes = key.withUnsafeBytes { Array($0) }
        keys.withLockedValue { table in
            if table.count >= Self.capacity && table[scope] == nil { table.removeAll(keepingCapacity: true) }
            table[scope] = bytes
        }
    }

    /// Number of cached keys (for tests).
    var count: Int { keys.withLockedValue { $0.count } }
}
