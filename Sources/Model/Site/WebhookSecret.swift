import Crypto
public import Foundation

/// The shared secret GitHub signs a deployment's push webhooks with
/// (`X-Hub-Signature-256`), and Slipway its build notifications
/// (`X-Slipway-Signature-256`), so a receiver verifies both the same way.
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

    /// `sha256=<64 lower-case hex digits>`: the HMAC-SHA256 of `body` keyed
    /// with the UTF-8 bytes of `secret`, the form of GitHub's
    /// `X-Hub-Signature-256` header.
    public static func signature(of body: some DataProtocol, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + Hex.encode(code)
    }

    /// Shortest secret accepted in a ``SiteDraft``, in bytes.
    public static let minLength = 16
    /// Longest secret accepted in a ``SiteDraft``, in bytes.
    public static let maxLength = 256
}
