import Crypto
import Foundation

/// The admin API's bearer token: generation and constant-time checking of an
/// `Authorization` header. Tokens in query strings are never considered.
public struct BearerToken: Sendable {
    private let digest: [UInt8]

    public init(_ token: String) {
        self.digest = Array(SHA256.hash(data: Data(token.utf8)))
    }

    /// A new random token: 32 bytes from the system's CSPRNG, base64url without padding.
    public static func generate() -> String {
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Whether an `Authorization` header value carries this token.
    ///
    /// Both sides are hashed first and the digests compared in constant time,
    /// so neither the length nor the content of the token leaks through timing.
    public func accepts(authorization header: String?) -> Bool {
        guard let header else { return false }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let presented = SHA256.hash(data: Data(parts[1].trimmingCharacters(in: .whitespaces).utf8))
        return constantTimeEquals(Array(presented), digest)
    }
}

/// Compares two byte arrays in time that depends only on their lengths.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}
