public import Foundation
public import Model
import NIOCore

/// Where custom domains' certificates live in the object store, which every
/// proxy of a fleet reads: the PEM chain at `tls/certs/<host>/<sha256>.pem`
/// and its private key, sealed with `SLIPWAY_SECRET_KEY` (``SecretKeyring``,
/// purpose `tls-key/<host>`), at `tls/keys/<host>/<sha256>.key`. Both are
/// written before the catalog row points at them, so a proxy that hears of
/// a new certificate always finds the whole pair; they are never
/// overwritten (the leaf's digest names them).
public struct DomainCertificateObjects: Sendable {
    let store: any ObjectStore
    let keyring: SecretKeyring

    /// The most a chain or a sealed key may weigh when read back.
    static let maxBytes = 256 << 10

    public init(store: any ObjectStore, keyring: SecretKeyring) {
        self.store = store
        self.keyring = keyring
    }

    /// Stores a chain and its key; the catalog's record of them.
    /// - Parameters:
    ///   - leafSHA256: lower-case hex SHA-256 of the leaf's DER.
    public func store(
        host: String, chainPEM: String, keyPEM: String, leafSHA256: String, notBefore: Date, notAfter: Date,
        renewAt: Date?, source: DomainCertificate.Source
    ) async throws -> DomainCertificate {
        let chainKey = "tls/certs/\(host)/\(leafSHA256).pem"
        let keyKey = "tls/keys/\(host)/\(leafSHA256).key"
        _ = try await store.put(
            keyKey, body: .string(keyring.seal(keyPEM, purpose: Self.purpose(host))),
            options: PutOptions(contentType: "text/plain"))
        _ = try await store.put(
            chainKey, body: .string(chainPEM), options: PutOptions(contentType: "application/pem-certificate-chain"))
        return DomainCertificate(
            chainKey: chainKey, keyKey: keyKey, sha256: leafSHA256, notBefore: notBefore, notAfter: notAfter,
            renewAt: renewAt, source: source)
    }

    /// The chain and the opened key of `certificate`, for `host`.
    /// - Throws: the store's error, or ``SecretKeyringError`` when the key
    ///   does not open with this keyring (another installation's key).
    public func load(_ certificate: DomainCertificate, host: String) async throws -> (chainPEM: String, keyPEM: String)
    {
        let chain = try await store.getBytes(certificate.chainKey, limit: Self.maxBytes)
        let sealed = try await store.getBytes(certificate.keyKey, limit: Self.maxBytes)
        let key = try keyring.open(String(buffer: sealed), purpose: Self.purpose(host))
        return (String(buffer: chain), key)
    }

    /// Removes the pair (a domain removed, a certificate replaced long ago).
    public func remove(_ certificate: DomainCertificate) async throws {
        try await store.delete([certificate.chainKey, certificate.keyKey])
    }

    static func purpose(_ host: String) -> String { "tls-key/\(host)" }
}
