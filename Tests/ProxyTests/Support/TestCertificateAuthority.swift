import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A certificate authority a test makes for itself: a self-signed root, and
/// leaf certificates it issues for the names a test needs, as the PEM files
/// an operator would give the edge.
struct TestCertificateAuthority {
    let name: DistinguishedName
    let key: P256.Signing.PrivateKey
    let root: Certificate

    init(_ commonName: String = "Slipway test CA") throws {
        key = P256.Signing.PrivateKey()
        name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        root = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86_400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key))
    }

    /// The root as clients trust it.
    var trustRoot: NIOSSLCertificate {
        get throws { try NIOSSLCertificate(bytes: Array(try root.serializeAsPEM().pemString.utf8), format: .pem) }
    }

    /// A leaf for `names`, as a PEM chain (leaf, then root) and its PEM key.
    func issue(_ names: [String]) throws -> (chain: String, key: String) {
        let leafKey = P256.Signing.PrivateKey()
        let now = Date()
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(leafKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86_400, issuer: name,
            subject: try DistinguishedName { CommonName(names[0]) }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names.map { .dnsName($0) })
            },
            issuerPrivateKey: .init(key))
        return (
            try leaf.serializeAsPEM().pemString + "\n" + root.serializeAsPEM().pemString + "\n",
            leafKey.pemRepresentation
        )
    }

    /// Writes a leaf for `names` to `certificateFile` and `keyFile`, each
    /// replaced by a rename as a renewal tool does.
    func write(_ names: [String], certificateFile: String, keyFile: String) throws {
        let (chain, key) = try issue(names)
        try Data(chain.utf8).write(to: URL(fileURLWithPath: certificateFile), options: .atomic)
        try Data(key.utf8).write(to: URL(fileURLWithPath: keyFile), options: .atomic)
    }
}
