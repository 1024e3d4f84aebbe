import Crypto
import Foundation
import SwiftASN1
import X509

/// The certificate side of an order: the names asked for, the CSR that
/// finalizes it (RFC 8555 §7.4), and the checks of the chain the CA returns.
enum ACMECertificateRequest {
    /// `hostnames` lowercased, without a trailing dot and duplicates, in
    /// order. Each must be a DNS name of letters, digits and hyphens
    /// (A-labels for internationalized names) with at least two labels.
    static func normalizedHostnames(_ hostnames: [String]) throws -> [String] {
        var names: [String] = []
        for hostname in hostnames {
            var name = hostname.lowercased()
            if name.hasSuffix(".") { name.removeLast() }
            guard isDNSName(name) else {
                throw ACMEError(
                    code: .invalidArgument,
                    message: "'\(hostname)' is not a DNS name a certificate can be ordered for over HTTP-01 "
                        + "(letters, digits, hyphens and dots; no wildcard; IDNs in their xn-- form)")
            }
            if !names.contains(name) { names.append(name) }
        }
        guard !names.isEmpty else {
            throw ACMEError(code: .invalidArgument, message: "a certificate needs at least one hostname")
        }
        return names
    }

    static func isDNSName(_ name: String) -> Bool {
        guard name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
            return label.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-")
            }
        }
    }

    /// The DER of a CSR for `names` signed by `key`: subject CN = the first
    /// name, and every name in a subjectAltName extension request (CAs issue
    /// from the SANs; the CN only helps people reading the CSR).
    static func csrDER(for names: [String], key: P256.Signing.PrivateKey) throws -> [UInt8] {
        let subject = try DistinguishedName { CommonName(names[0]) }
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames(names.map { .dnsName($0) })
        }
        let attributes = CertificateSigningRequest.Attributes([
            try .init(ExtensionRequest(extensions: extensions))
        ])
        let csr = try CertificateSigningRequest(
            version: .v1, subject: subject, privateKey: Certificate.PrivateKey(key), attributes: attributes)
        var serializer = DER.Serializer()
        try serializer.serialize(csr)
        return serializer.serializedBytes
    }

    /// Parses the PEM chain the CA returned and checks that its leaf holds
    /// `key`'s public key and covers every one of `names`.
    static func parseChain(
        _ pem: String, for names: [String], key: P256.Signing.PrivateKey, orderURL: String, url: String
    ) throws -> ACMEIssuedCertificate {
        let certificates: [Certificate]
        do {
            certificates = try PEMDocument.parseMultiple(pemString: pem)
                .filter { $0.discriminator == "CERTIFICATE" }
                .map { try Certificate(pemDocument: $0) }
        } catch {
            throw ACMEError.invalidResponse(url, "the certificate chain is not PEM certificates (\(error))")
        }
        guard let leaf = certificates.first else {
            throw ACMEError.invalidResponse(url, "the certificate chain holds no certificate")
        }
        guard leaf.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw ACMEError(
                code: .certificateMismatch,
                message:
                    "the CA issued a certificate (\(url)) for another key than the CSR's; do not use it, order again")
        }
        let covered = Set(
            (try? leaf.extensions.subjectAlternativeNames)?.compactMap { name -> String? in
                if case .dnsName(let dns) = name { return dns.lowercased() }
                return nil
            } ?? [])
        let missing = names.filter { !covered.contains($0) }
        guard missing.isEmpty else {
            throw ACMEError(
                code: .certificateMismatch,
                message:
                    "the CA issued a certificate (\(url)) without \(missing.joined(separator: ", ")) in its names; "
                    + "do not use it, order again")
        }
        return ACMEIssuedCertificate(
            chainPEM: pem, certificates: certificates, orderURL: orderURL,
            renewalIdentifier: try? ACMERenewalInfo.certificateIdentifier(for: leaf))
    }
}
