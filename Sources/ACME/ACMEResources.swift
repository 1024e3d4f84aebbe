/// The ACME server's resources as JSON (RFC 8555 §7.1), decoded leniently:
/// unknown members are ignored and optional ones may be missing.

/// The directory (RFC 8555 §7.1.1): the URL of every operation.
public struct ACMEDirectory: Sendable, Hashable, Decodable {
    public var newNonce: String
    public var newAccount: String
    public var newOrder: String
    public var revokeCert: String?
    public var keyChange: String?
    /// ARI's endpoint (RFC 9773 §4); nil when the CA does not offer renewal information.
    public var renewalInfo: String?
    public var meta: Meta?

    /// The directory's `meta` object.
    public struct Meta: Sendable, Hashable, Decodable {
        public var termsOfService: String?
        public var website: String?
        /// The domain names a CAA `issue` record must name to allow this CA (RFC 8555 §7.1.1).
        public var caaIdentities: [String]?
        public var externalAccountRequired: Bool?
    }
}

/// An identifier of an order or authorization: `{"type": "dns", "value": "app.example.com"}`.
struct ACMEIdentifier: Codable, Sendable, Hashable {
    var type: String
    var value: String

    static func dns(_ name: String) -> ACMEIdentifier { ACMEIdentifier(type: "dns", value: name) }
}

/// An account object (RFC 8555 §7.1.2).
struct ACMEAccountObject: Decodable, Sendable {
    var status: String
}

/// An order object (RFC 8555 §7.1.3): `pending → ready → processing → valid`, or `invalid`.
struct ACMEOrder: Decodable, Sendable {
    var status: String
    var identifiers: [ACMEIdentifier]
    var authorizations: [String]
    var finalize: String
    var certificate: String?
    var error: ACMEProblem?
}

/// An authorization object (RFC 8555 §7.1.4).
struct ACMEAuthorization: Decodable, Sendable {
    var status: String
    var identifier: ACMEIdentifier
    var challenges: [ACMEChallenge]
}

/// A challenge object (RFC 8555 §7.1.5, §8).
struct ACMEChallenge: Decodable, Sendable {
    var type: String
    var url: String
    var status: String
    var token: String?
    var error: ACMEProblem?
}

/// The body of `newOrder` (RFC 8555 §7.4; `replaces` from RFC 9773 §5).
struct ACMENewOrder: Encodable, Sendable {
    var identifiers: [ACMEIdentifier]
    var replaces: String?
}

/// The body of `newAccount` (RFC 8555 §7.3).
struct ACMENewAccount: Encodable, Sendable {
    var termsOfServiceAgreed: Bool
    var contact: [String]?
}

/// The body of a finalize request (RFC 8555 §7.4): base64url of the CSR's DER.
struct ACMEFinalize: Encodable, Sendable {
    var csr: String
}
