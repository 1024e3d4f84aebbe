import Crypto
import Foundation

/// One ACME request body: a JWS in the flattened JSON serialization
/// (RFC 8555 §6.2, RFC 7515 §7.2.2), sent as `application/jose+json`.
///
/// The protected header carries `alg` (always ES256), the server's `nonce`,
/// the request `url`, and either the account's `jwk` (only `newAccount`,
/// before an account URL exists) or its `kid` (the account URL). The
/// signature is the raw 64-byte r‖s form JWS requires (RFC 7518 §3.4), not
/// the DER form most ECDSA APIs produce.
struct ACMEJWS: Encodable, Sendable {
    /// The protected header, before encoding.
    struct Header: Codable, Sendable, Equatable {
        var alg: String
        var nonce: String
        var url: String
        var jwk: ACMEJWK?
        var kid: String?
    }

    /// How the request names its signer.
    enum Signer: Sendable {
        /// The public key itself: `newAccount` (and key-bound requests like revocation by key).
        case jwk
        /// The account URL returned in `Location` by `newAccount`.
        case kid(String)
    }

    /// base64url(JSON of ``Header``).
    var protected: String
    /// base64url of the payload's bytes; empty for POST-as-GET (RFC 8555 §6.3).
    var payload: String
    /// base64url of the 64-byte r‖s signature over `protected.payload`.
    var signature: String

    /// Signs `payload` (nil for POST-as-GET) for `url` with `key`.
    init(payload: Data?, url: String, nonce: String, key: ACMEAccountKey, signer: Signer) throws {
        var header = Header(alg: "ES256", nonce: nonce, url: url)
        switch signer {
        case .jwk: header.jwk = key.jwk
        case .kid(let accountURL): header.kid = accountURL
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        protected = Base64URL.encode(try encoder.encode(header))
        self.payload = payload.map { Base64URL.encode($0) } ?? ""
        let signingInput = Data("\(protected).\(self.payload)".utf8)
        signature = Base64URL.encode(try key.privateKey.signature(for: signingInput).rawRepresentation)
    }

    /// The request body: `{"payload":…,"protected":…,"signature":…}`.
    func body() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }
}
