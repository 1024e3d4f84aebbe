public import Crypto
public import Foundation

/// The key of an ACME account: a P-256 ECDSA key that signs every request
/// (ES256) and whose JWK thumbprint (RFC 7638) is the account's public,
/// secret-free identity in HTTP-01 key authorizations.
///
/// The key is secret. Store it sealed (``derRepresentation`` or
/// ``pemRepresentation``) and load it with the matching initializer; it never
/// appears in a description, log line or error. ``description`` names only
/// the thumbprint.
public struct ACMEAccountKey: Sendable, CustomStringConvertible {
    /// Holds the key so the struct can be Sendable. Unchecked: swift-crypto
    /// does not mark its P-256 keys Sendable on Linux, but a key is an
    /// immutable value (its BoringSSL object is never changed after
    /// creation) and this box only ever reads it.
    private final class Box: @unchecked Sendable {
        let key: P256.Signing.PrivateKey
        init(_ key: P256.Signing.PrivateKey) { self.key = key }
    }

    private let box: Box

    /// The private key itself.
    public var privateKey: P256.Signing.PrivateKey { box.key }

    /// A new random key.
    public init() { box = Box(P256.Signing.PrivateKey()) }

    /// Wraps an existing key.
    public init(_ privateKey: P256.Signing.PrivateKey) { box = Box(privateKey) }

    /// Loads a key from its PKCS#8 or SEC1 PEM form.
    /// - Throws: `ACMEError.invalidKey` when `pem` is not a P-256 private key.
    public init(pemRepresentation pem: String) throws {
        do { box = Box(try P256.Signing.PrivateKey(pemRepresentation: pem)) } catch {
            throw ACMEError.invalidKey("the ACME account key is not a P-256 private key in PEM form")
        }
    }

    /// Loads a key from its PKCS#8 or SEC1 DER form.
    /// - Throws: `ACMEError.invalidKey` when `der` is not a P-256 private key.
    public init(derRepresentation der: Data) throws {
        do { box = Box(try P256.Signing.PrivateKey(derRepresentation: der)) } catch {
            throw ACMEError.invalidKey("the ACME account key is not a P-256 private key in DER form")
        }
    }

    /// The key in PKCS#8 PEM, for sealed storage.
    public var pemRepresentation: String { privateKey.pemRepresentation }

    /// The key in PKCS#8 DER, for sealed storage.
    public var derRepresentation: Data { privateKey.derRepresentation }

    /// The public key as a JWK (RFC 7517, RFC 7518 §6.2): what `newAccount` carries.
    public var jwk: ACMEJWK { ACMEJWK(privateKey.publicKey) }

    /// The RFC 7638 thumbprint of ``jwk``: base64url(SHA-256) of its canonical
    /// JSON. Every HTTP-01 answer is `token + "." + thumbprint`.
    public var thumbprint: String { jwk.thumbprint }

    public var description: String { "ACMEAccountKey(thumbprint: \(thumbprint))" }
}

/// A P-256 public key as a JSON Web Key: `{"crv":"P-256","kty":"EC","x":…,"y":…}`.
public struct ACMEJWK: Sendable, Hashable, Codable {
    public var kty: String
    public var crv: String
    /// base64url of the 32-byte big-endian X coordinate.
    public var x: String
    /// base64url of the 32-byte big-endian Y coordinate.
    public var y: String

    public init(_ publicKey: P256.Signing.PublicKey) {
        // rawRepresentation is X‖Y, each 32 bytes (SEC 1 without the 0x04 prefix).
        let raw = [UInt8](publicKey.rawRepresentation)
        kty = "EC"
        crv = "P-256"
        x = Base64URL.encode(raw[0..<32])
        y = Base64URL.encode(raw[32..<64])
    }

    /// The JWK's required members in lexicographic order with no white
    /// space: the input of the thumbprint (RFC 7638 §3.2).
    public var canonicalJSON: String {
        #"{"crv":"\#(crv)","kty":"\#(kty)","x":"\#(x)","y":"\#(y)"}"#
    }

    /// base64url(SHA-256(``canonicalJSON``)) (RFC 7638 §3).
    public var thumbprint: String {
        Base64URL.encode(SHA256.hash(data: Data(canonicalJSON.utf8)))
    }
}
