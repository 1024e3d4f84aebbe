public import Foundation

/// Whether a custom domain may route to its deployment. One of two
/// independent axes (the other is ``CertificateStatus``):
///
/// ```
/// pending ──ownership and routing seen──▶ active ──no longer points here──▶ moved
///    │                                      ▲                                 │
///    └──checks gave up (days)──▶ failed      └──────── points here again ──────┘
/// ```
///
/// A domain serves plain HTTP once `active`, HTTPS once its certificate is
/// `active` too. A `moved` domain is not renewed; one moved for days is
/// `failed`. Checks back off between attempts (``DomainCheckSchedule``).
public enum DomainStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Waiting for the ownership record and the routing check.
    case pending
    /// Owned and pointing at Slipway: it routes.
    case active
    /// Was active, and no longer points at Slipway.
    case moved
    /// Checks gave up; `POST …/domains/{hostname}/verify` starts them again.
    case failed
}

/// Where a custom domain's certificate is:
/// `none → issuing → active → renewing → active`, or `error` when an
/// issuance failed. An `active` certificate keeps serving while a renewal
/// fails (`renewing` with ``CustomDomain/lastError`` set).
public enum CertificateStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case none
    case issuing
    case active
    case renewing
    case error
}

/// What last went wrong with a domain, in words a person can act on.
public struct DomainProblem: Sendable, Hashable, Codable {
    /// A stable code: `ownership_record_missing`, `ownership_record_mismatch`,
    /// `not_routed`, `dns_error`, `caa_refused`, `acme:<ACME error type>`, ….
    public var code: String
    /// What was seen and what to do.
    public var detail: String
    public var at: Date

    public init(code: String, detail: String, at: Date) {
        self.code = code
        self.detail = detail
        self.at = at
    }
}

/// The certificate a custom domain serves: where its chain and its sealed
/// key are in the object store, and its validity. The catalog row pointing
/// at a new pair is what switches every proxy to it.
public struct DomainCertificate: Sendable, Hashable, Codable {
    /// Where a certificate came from.
    public enum Source: String, Sendable, Hashable, Codable {
        /// Issued by the configured ACME directory.
        case acme
        /// Uploaded by a person.
        case uploaded
    }

    /// The PEM chain (leaf first) in the object store.
    public var chainKey: String
    /// The private key, sealed with `SLIPWAY_SECRET_KEY`, in the object store.
    public var keyKey: String
    /// SHA-256 of the leaf certificate's DER, lower-case hex.
    public var sha256: String
    public var notBefore: Date
    public var notAfter: Date
    /// When a renewal is due (two thirds of the lifetime, or the CA's
    /// renewal window); nil for uploaded certificates.
    public var renewAt: Date?
    public var source: Source

    public init(
        chainKey: String, keyKey: String, sha256: String, notBefore: Date, notAfter: Date, renewAt: Date?,
        source: Source
    ) {
        self.chainKey = chainKey
        self.keyKey = keyKey
        self.sha256 = sha256
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.renewAt = renewAt
        self.source = source
    }
}

/// A host name of the user's own that answers for a deployment.
///
/// The admin API shows it under `/api/deployments/{slug}/domains`. The
/// verification token is published by the user in DNS (it is no secret);
/// certificate keys never enter the catalog row.
public struct CustomDomain: Sendable, Hashable, Codable, Identifiable {
    /// The host name: lower-case ASCII (A-labels), no trailing dot. Unique
    /// across the installation.
    public var hostname: String
    public var siteID: SiteID
    /// Whether it is a zone apex (`example.com`): routed with A/AAAA (or an
    /// ALIAS record), never a CNAME.
    public var apex: Bool
    /// The other half of an apex/`www` pair, added and removed together.
    public var pairedWith: String?
    /// When set, this host answers every request with a permanent redirect
    /// to that host (the pair's primary), keeping path and query.
    public var redirectTo: String?
    /// The value of the ownership record (``DomainRules/ownershipRecordValue(token:)``).
    public var verificationToken: String
    public var status: DomainStatus
    public var certificateStatus: CertificateStatus
    public var lastError: DomainProblem?
    /// Checks made since the status last changed.
    public var checkAttempts: Int
    /// When the next ownership/routing check is due; nil when none is scheduled.
    public var nextCheckAt: Date?
    /// When ownership was first proven.
    public var verifiedAt: Date?
    public var certificate: DomainCertificate?
    /// Whether plain HTTP requests are redirected (308) to HTTPS once the
    /// certificate is active.
    public var httpsRedirect: Bool
    /// `Strict-Transport-Security: max-age=…` on HTTPS answers; nil for none.
    public var hstsMaxAge: Int?
    public var createdAt: Date
    public var updatedAt: Date

    public var id: String { hostname }

    /// The name whose TXT record proves ownership: the pair's apex for a
    /// `www` host paired with its apex, the host itself otherwise.
    public var ownershipRecordName: String {
        DomainRules.ownershipRecordName(for: pairedWith.map { apex ? hostname : $0 } ?? hostname)
    }

    public init(
        hostname: String, siteID: SiteID, apex: Bool, pairedWith: String? = nil, redirectTo: String? = nil,
        verificationToken: String, status: DomainStatus = .pending, certificateStatus: CertificateStatus = .none,
        lastError: DomainProblem? = nil, checkAttempts: Int = 0, nextCheckAt: Date? = nil, verifiedAt: Date? = nil,
        certificate: DomainCertificate? = nil, httpsRedirect: Bool = true, hstsMaxAge: Int? = nil,
        createdAt: Date, updatedAt: Date
    ) {
        self.hostname = hostname
        self.siteID = siteID
        self.apex = apex
        self.pairedWith = pairedWith
        self.redirectTo = redirectTo
        self.verificationToken = verificationToken
        self.status = status
        self.certificateStatus = certificateStatus
        self.lastError = lastError
        self.checkAttempts = checkAttempts
        self.nextCheckAt = nextCheckAt
        self.verifiedAt = verifiedAt
        self.certificate = certificate
        self.httpsRedirect = httpsRedirect
        self.hstsMaxAge = hstsMaxAge
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
