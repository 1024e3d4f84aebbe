public import Foundation
public import X509

/// A certificate ``ACMEClient/issueCertificate(for:certificateKey:replacing:)``
/// obtained: the chain as the CA sent it, and what the issuer stores and
/// schedules renewal by.
public struct ACMEIssuedCertificate: Sendable {
    /// The chain in PEM, leaf first, then the intermediates, as served by the CA.
    public var chainPEM: String
    /// The parsed chain, leaf first.
    public var certificates: [Certificate]
    /// The order URL (for records and support requests).
    public var orderURL: String
    /// The ARI certificate identifier (RFC 9773 §4.1): what ``ACMEClient/renewalInfo(for:)``
    /// asks about and what a renewal's order `replaces`. Nil when the leaf has
    /// no authority key identifier.
    public var renewalIdentifier: String?

    /// The leaf certificate.
    public var leaf: Certificate { certificates[0] }
    /// The leaf's `notBefore`.
    public var notBefore: Date { leaf.notValidBefore }
    /// The leaf's `notAfter`.
    public var notAfter: Date { leaf.notValidAfter }
    /// The leaf's serial number in lowercase hex (no separators).
    public var serialNumber: String { leaf.serialNumber.bytes.map { String(format: "%02x", $0) }.joined() }
}
