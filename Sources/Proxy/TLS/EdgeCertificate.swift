import Foundation
import NIOSSL
import SwiftASN1
import X509

/// Why a certificate and key cannot be used at the edge. The message names
/// the problem and what to do; it never holds key material.
public struct EdgeTLSError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A certificate chain and its private key, as the edge presents them to a
/// client asking for one of the names the leaf certificate covers.
public struct EdgeCertificate: Sendable {
    /// The chain, leaf first, as the handshake sends it.
    let chain: [NIOSSLCertificate]
    let key: NIOSSLPrivateKey
    /// The DNS names of the leaf's subject alternative names, lower-case
    /// (`*.apps.example.com` for a wildcard).
    public let names: [String]
    let notValidAfter: Date
    /// The leaf's serial number in hex, to tell certificates apart in logs.
    public let serial: String

    /// Reads a PEM chain (the leaf first, then its intermediates) and the
    /// leaf's PEM private key (PKCS#8, or SEC1 or PKCS#1).
    /// - Throws: ``EdgeTLSError`` when either does not parse, the chain is
    ///   empty, the leaf names no DNS name, or the key is not the leaf's.
    public init(chainPEM: String, keyPEM: String) throws(EdgeTLSError) {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: chainPEM)
        } catch {
            throw EdgeTLSError("the certificate file is not PEM: \(error)")
        }
        let certificates: [Certificate]
        do {
            certificates = try documents.filter { $0.discriminator == "CERTIFICATE" }.map {
                try Certificate(pemDocument: $0)
            }
        } catch {
            throw EdgeTLSError("a certificate in the certificate file does not parse: \(error)")
        }
        guard let leaf = certificates.first else {
            throw EdgeTLSError("the certificate file holds no CERTIFICATE block; put the leaf first, then its chain")
        }
        let privateKey: Certificate.PrivateKey
        do {
            privateKey = try Certificate.PrivateKey(pemEncoded: keyPEM)
        } catch {
            // The parser's error could quote the input: say only what it is.
            throw EdgeTLSError(
                "the key file is not a PEM private key (PKCS#8, EC or RSA) that Slipway can read")
        }
        guard privateKey.publicKey == leaf.publicKey else {
            throw EdgeTLSError(
                "the private key does not belong to the first certificate of the certificate file; give the key of the leaf certificate"
            )
        }
        var names: [String] = []
        if let alternatives = try? leaf.extensions.subjectAlternativeNames {
            for name in alternatives {
                if case .dnsName(let dns) = name { names.append(EdgeCertificates.normalized(dns)) }
            }
        }
        guard !names.isEmpty else {
            throw EdgeTLSError(
                "the certificate names no DNS name (subject alternative names); browsers need one, e.g. *.apps.example.com"
            )
        }
        do {
            self.chain = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8))
            self.key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        } catch {
            throw EdgeTLSError("the certificate or key cannot be loaded for TLS: \(error)")
        }
        self.names = names
        self.notValidAfter = leaf.notValidAfter
        self.serial = leaf.serialNumber.bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Reads the chain and key from PEM files.
    public init(certificateFile: String, keyFile: String) throws(EdgeTLSError) {
        let chain: String
        let key: String
        do {
            chain = try String(contentsOfFile: certificateFile, encoding: .utf8)
        } catch {
            throw EdgeTLSError("cannot read the certificate file '\(certificateFile)': \(error.localizedDescription)")
        }
        do {
            key = try String(contentsOfFile: keyFile, encoding: .utf8)
        } catch {
            throw EdgeTLSError("cannot read the key file '\(keyFile)': \(error.localizedDescription)")
        }
        try self.init(chainPEM: chain, keyPEM: key)
    }

    /// Whether the leaf names `name` (normalized), itself or by a wildcard
    /// one label up, as ``EdgeCertificates`` matches.
    func covers(_ name: String) -> Bool {
        names.contains(name) || EdgeCertificates.wildcard(covering: name).map(names.contains) == true
    }

    /// What the handshake presents.
    var configurationOverride: NIOSSLContextConfigurationOverride {
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = chain.map { .certificate($0) }
        override.privateKey = .privateKey(key)
        return override
    }
}
