import Foundation
import Crypto

/// The shared secret GitHub signs a deployment's push webhooks with
/// (`X-Hub-Signature-256`).
///
/// Every site gets one when it is created; ``Catalog/rotateWebhookSecret(siteID:)``
/// replaces it. It is kept apart from ``Site`` on purpose: sites are logged,
/// published on the event bus and returned by the API, the secret never is.
public enum WebhookSecret {
    /// A new secret: 32 bytes from the system's CSPRNG, base64url without padding (43 characters).
    public static func generate() -> String {
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Shortest secret accepted in a ``SiteDraft``, in bytes.
    public static let minLength = 16
    /// Longest secret accepted in a ``SiteDraft``, in bytes.
    public static let maxLength = 256
}
