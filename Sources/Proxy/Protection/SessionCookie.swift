import Crypto
import Foundation
import Model

/// The session cookie of a protected site's password mode: what the edge
/// sets once a visitor gave the right password, and checks on every later
/// request of the same host.
///
/// Its value is `<payload>.<mac>`, both base64url: the payload says which
/// site and host it is for, the password version it was issued under and
/// when it expires (`1|<site id>|<host>|<version>|<expiry, Unix seconds>`);
/// the MAC is HMAC-SHA256 of the payload under a key derived from
/// `SLIPWAY_SECRET_KEY` (``SecretKeyring/derivedKeys(purpose:)``). New
/// cookies are signed with the first key and any key is accepted, so a
/// rotation of the secret key signs no one out. A cookie of another host,
/// another site, an older password version, one that expired or one whose
/// bytes were changed counts as no cookie.
struct SessionCookie: Sendable, Hashable {
    /// The cookie's name.
    static let name = "slipway_session"
    /// Longest value looked at; real ones are about 150 bytes.
    static let maxValueBytes = 1024

    var siteID: String
    /// The host, lower-case, without port or trailing dot.
    var host: String
    var version: Int
    /// Unix seconds.
    var expires: Int64

    /// The signed value.
    func value(key: SymmetricKey) -> String {
        let payload = Data(["1", siteID, host, String(version), String(expires)].joined(separator: "|").utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: key)
        return Self.base64URL(payload) + "." + Self.base64URL(Data(mac))
    }

    /// The cookie a value stands for, when one of `keys` signed it; nil for
    /// anything else (expiry and the fields are the caller's to check).
    static func verified(_ value: Substring, keys: [SymmetricKey]) -> SessionCookie? {
        guard value.utf8.count <= maxValueBytes, let dot = value.firstIndex(of: "."),
            let payload = decodeBase64URL(value[..<dot]),
            let mac = decodeBase64URL(value[value.index(after: dot)...])
        else { return nil }
        guard keys.contains(where: { HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: $0) })
        else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0] == "1", let version = Int(fields[3]), let expires = Int64(fields[4]) else {
            return nil
        }
        return SessionCookie(siteID: String(fields[1]), host: String(fields[2]), version: version, expires: expires)
    }

    /// Whether a `Cookie` field (or several, as HTTP/2 may split it) holds
    /// a session cookie that lets a visitor into `host` of `siteID` under
    /// password `version` at `now`.
    static func admits(
        cookieFields: [String], keys: [SymmetricKey], siteID: String, host: String, version: Int, now: Date
    ) -> Bool {
        let nowSeconds = Int64(now.timeIntervalSince1970)
        for field in cookieFields {
            for pair in field.split(separator: ";") {
                let trimmed = pair.drop(while: { $0 == " " || $0 == "\t" })
                guard trimmed.hasPrefix(name + "=") else { continue }
                let value = trimmed.dropFirst(name.count + 1)
                guard let cookie = verified(value, keys: keys) else { continue }
                if cookie.siteID == siteID && cookie.host == host && cookie.version == version
                    && cookie.expires > nowSeconds
                {
                    return true
                }
            }
        }
        return false
    }

    /// The `Set-Cookie` value that stores this cookie: host-only (no
    /// `Domain`), the whole host (`Path=/`), out of scripts' reach
    /// (`HttpOnly`), not sent on cross-site subrequests (`SameSite=Lax`),
    /// and over HTTPS only when the visitor came over HTTPS.
    func setCookie(key: SymmetricKey, maxAge: Int64, secure: Bool) -> String {
        "\(Self.name)=\(value(key: key)); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Lax"
            + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that removes the cookie (sign-out).
    static func clearing(secure: Bool) -> String {
        "\(name)=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "")
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ text: Substring) -> Data? {
        guard
            text.utf8.allSatisfy({ byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_")
            })
        else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard)
    }
}
