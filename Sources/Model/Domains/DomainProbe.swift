public import Crypto
import Foundation

/// How a custom domain's routing is proven: the domain checker fetches
/// ``path`` through the domain's own DNS name, and only a Slipway proxy of
/// this installation answers it with ``answer(host:key:)``, an HMAC of the
/// host under a key derived from `SLIPWAY_SECRET_KEY`. It works behind any
/// load balancer, and a name pointing at someone else's server fails it.
public enum DomainProbe {
    /// The probe's path, answered for every known custom domain.
    public static let path = "/.well-known/slipway-domain-probe"

    /// The keys proxies answer with (the first) and the checker accepts (any).
    public static func keys(_ keyring: SecretKeyring) -> [SymmetricKey] {
        keyring.derivedKeys(purpose: "custom-domain routing probe")
    }

    /// The answer for `host` (lower-case): HMAC-SHA256, lower-case hex.
    public static func answer(host: String, key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("slipway-domain-probe \(host)".utf8), using: key)
        return Hex.encode(mac)
    }
}
