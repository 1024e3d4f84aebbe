public import ACME
import Crypto
import Foundation
public import Model

/// Slipway's ACME account key, derived from `SLIPWAY_SECRET_KEY` (HKDF)
/// rather than stored: every node of a fleet computes
/// the same key, so every proxy answers HTTP-01 challenges with the same
/// thumbprint without reading anything, and the issuer on any admin node
/// signs as the same account. Rotating the secret key (a new key first in
/// the list) moves Slipway to a new account at the CA; certificates already
/// issued keep serving and renew under the new account.
public enum ACMEAccountKeys {
    /// The account key (the same for every directory: each CA knows its own accounts).
    public static func derive(keyring: SecretKeyring) -> ACMEAccountKey {
        // A P-256 scalar must be below the group order: the rare 32 bytes
        // that are not (about 1 in 2^32) are passed over by counter.
        for counter in 0..<64 {
            let key = keyring.derivedKeys(purpose: "acme-account \(counter)")[0]
            let bytes = key.withUnsafeBytes { Data($0) }
            if let privateKey = try? P256.Signing.PrivateKey(rawRepresentation: bytes) {
                return ACMEAccountKey(privateKey)
            }
        }
        preconditionFailure("HKDF gave 64 invalid P-256 scalars in a row")
    }
}
