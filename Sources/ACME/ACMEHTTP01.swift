/// Stateless answers to HTTP-01 challenges (RFC 8555 §8.3).
///
/// The CA fetches `http://<host>/.well-known/acme-challenge/<token>` on
/// port 80 and expects the key authorization `token + "." + thumbprint`,
/// where the thumbprint (RFC 7638) is the account key's only public,
/// secret-free identity. Every Slipway proxy can therefore answer *any*
/// token of Slipway's account without knowing which orders are in flight:
/// nothing is replicated between proxies and no lock is taken. It is safe
/// because only the holder of the account key can use the answer, and which
/// names get ordered stays the issuer's decision.
public enum ACMEHTTP01 {
    /// The path prefix the CA fetches challenges under.
    public static let pathPrefix = "/.well-known/acme-challenge/"

    /// The longest token accepted. RFC 8555 §8.3 asks for at least 128 bits
    /// of entropy (22 base64url characters); CAs send 43. Anything longer
    /// than this is not a token any CA sends.
    public static let maximumTokenLength = 128

    /// The body to answer a challenge for `token` with: `token.thumbprint`,
    /// served as `text/plain` (or `application/octet-stream`) with status 200.
    public static func keyAuthorization(token: String, thumbprint: String) -> String {
        token + "." + thumbprint
    }

    /// Whether `token` can be a challenge token: 1 to ``maximumTokenLength``
    /// characters of the base64url alphabet (`[-_A-Za-z0-9]`). Answer 404
    /// for anything else, so the path cannot echo arbitrary text.
    public static func isValidToken(_ token: some StringProtocol) -> Bool {
        guard !token.isEmpty, token.utf8.count <= maximumTokenLength else { return false }
        return token.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default: false
            }
        }
    }

    /// The token of a request path `/.well-known/acme-challenge/<token>`
    /// (a query string is ignored), or nil when the path is not a challenge
    /// path or the token is not valid.
    public static func token(fromPath path: String) -> String? {
        let withoutQuery = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard withoutQuery.hasPrefix(pathPrefix) else { return nil }
        let token = withoutQuery.dropFirst(pathPrefix.count)
        return isValidToken(token) ? String(token) : nil
    }
}
