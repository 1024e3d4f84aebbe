public import Foundation
public import Model

/// A domain to add (``Catalog/addDomains(siteID:_:limit:)``), already
/// normalized and checked by ``DomainRules``.
public struct CustomDomainDraft: Sendable, Hashable {
    public var hostname: String
    public var apex: Bool
    public var pairedWith: String?
    public var redirectTo: String?
    public var verificationToken: String
    public var httpsRedirect: Bool
    public var hstsMaxAge: Int?

    public init(
        hostname: String, apex: Bool, pairedWith: String? = nil, redirectTo: String? = nil,
        verificationToken: String = DomainRules.generateToken(), httpsRedirect: Bool = true, hstsMaxAge: Int? = nil
    ) {
        self.hostname = hostname
        self.apex = apex
        self.pairedWith = pairedWith
        self.redirectTo = redirectTo
        self.verificationToken = verificationToken
        self.httpsRedirect = httpsRedirect
        self.hstsMaxAge = hstsMaxAge
    }
}

/// A lease on a named fleet-wide job (``Catalog/acquireLease(_:owner:duration:)``):
/// whoever holds it does the job, so one node of the fleet does it at a time.
public struct FleetLease: Sendable, Hashable {
    public var name: String
    public var owner: String
    public var expiresAt: Date

    public init(name: String, owner: String, expiresAt: Date) {
        self.name = name
        self.owner = owner
        self.expiresAt = expiresAt
    }
}

/// The limits and checks of custom domains every catalog applies alike.
public enum CustomDomains {
    /// The longest HSTS max-age accepted: two years, what browsers' preload lists ask for.
    public static let maxHSTSMaxAge = 63_072_000
    /// Longest problem detail kept, in characters.
    static let maxDetailLength = 2000

    /// Checks drafts before they are stored.
    package static func check(_ drafts: [CustomDomainDraft], limit: Int) throws {
        guard !drafts.isEmpty else { throw CatalogError.invalidInput("no domain to add") }
        for draft in drafts {
            guard draft.hostname.utf8.count <= DomainRules.maxHostnameLength, !draft.hostname.isEmpty,
                draft.hostname == draft.hostname.lowercased()
            else { throw CatalogError.invalidInput("the host name '\(draft.hostname.prefix(80))' is not normalized") }
            guard !draft.verificationToken.isEmpty, draft.verificationToken.utf8.count <= 64 else {
                throw CatalogError.invalidInput("a domain's verification token must be 1 to 64 characters")
            }
            if let age = draft.hstsMaxAge, !(0...maxHSTSMaxAge).contains(age) {
                throw CatalogError.invalidInput(
                    "hstsMaxAge is \(age); give 0 to \(maxHSTSMaxAge) seconds, or null for none")
            }
        }
        guard limit >= 1 else { throw CatalogError.invalidInput("the domain limit must be at least 1") }
    }

    /// Checks a domain after a change, before it is written back.
    package static func check(changed domain: CustomDomain, original: CustomDomain) throws {
        guard domain.hostname == original.hostname, domain.siteID == original.siteID,
            domain.verificationToken == original.verificationToken, domain.createdAt == original.createdAt
        else {
            throw CatalogError.invalidInput("a domain's host name, deployment, token and creation time never change")
        }
        if let age = domain.hstsMaxAge, !(0...maxHSTSMaxAge).contains(age) {
            throw CatalogError.invalidInput(
                "hstsMaxAge is \(age); give 0 to \(maxHSTSMaxAge) seconds, or null for none")
        }
        guard domain.checkAttempts >= 0 else { throw CatalogError.invalidInput("checkAttempts may not be negative") }
    }

    /// The problem with its detail bounded.
    package static func bounded(_ problem: DomainProblem?) -> DomainProblem? {
        problem.map {
            DomainProblem(
                code: String($0.code.prefix(200)), detail: String($0.detail.prefix(maxDetailLength)), at: $0.at)
        }
    }

    /// Refuses a lease name or owner that is empty or long.
    package static func check(leaseName name: String, owner: String, duration: Duration) throws {
        guard (1...100).contains(name.utf8.count), (1...200).contains(owner.utf8.count) else {
            throw CatalogError.invalidInput("a lease's name (1–100 bytes) and owner (1–200 bytes) must be given")
        }
        guard duration > .zero else { throw CatalogError.invalidInput("a lease lasts more than zero") }
    }
}

/// A `custom_domain` row as plain column values (times in milliseconds),
/// the same in both catalogs: each maps its database row to this and back.
package struct DomainRow: Sendable {
    package static let columns = [
        "hostname", "site_id", "apex", "paired_with", "redirect_to", "verify_token", "status", "cert_status",
        "error_code", "error_detail", "error_at", "check_attempts", "next_check_at", "verified_at", "cert_chain_key",
        "cert_key_key", "cert_sha256", "cert_not_before", "cert_not_after", "cert_renew_at", "cert_source",
        "https_redirect", "hsts_max_age", "created_at", "updated_at",
    ]

    package var hostname: String
    package var siteID: String
    package var apex: Bool
    package var pairedWith: String?
    package var redirectTo: String?
    package var verifyToken: String
    package var status: String
    package var certStatus: String
    package var errorCode: String?
    package var errorDetail: String?
    package var errorAt: Int64?
    package var checkAttempts: Int
    package var nextCheckAt: Int64?
    package var verifiedAt: Int64?
    package var certChainKey: String?
    package var certKeyKey: String?
    package var certSHA256: String?
    package var certNotBefore: Int64?
    package var certNotAfter: Int64?
    package var certRenewAt: Int64?
    package var certSource: String?
    package var httpsRedirect: Bool
    package var hstsMaxAge: Int?
    package var createdAt: Int64
    package var updatedAt: Int64

    package init(
        hostname: String, siteID: String, apex: Bool, pairedWith: String?, redirectTo: String?, verifyToken: String,
        status: String, certStatus: String, errorCode: String?, errorDetail: String?, errorAt: Int64?,
        checkAttempts: Int, nextCheckAt: Int64?, verifiedAt: Int64?, certChainKey: String?, certKeyKey: String?,
        certSHA256: String?, certNotBefore: Int64?, certNotAfter: Int64?, certRenewAt: Int64?, certSource: String?,
        httpsRedirect: Bool, hstsMaxAge: Int?, createdAt: Int64, updatedAt: Int64
    ) {
        self.hostname = hostname
        self.siteID = siteID
        self.apex = apex
        self.pairedWith = pairedWith
        self.redirectTo = redirectTo
        self.verifyToken = verifyToken
        self.status = status
        self.certStatus = certStatus
        self.errorCode = errorCode
        self.errorDetail = errorDetail
        self.errorAt = errorAt
        self.checkAttempts = checkAttempts
        self.nextCheckAt = nextCheckAt
        self.verifiedAt = verifiedAt
        self.certChainKey = certChainKey
        self.certKeyKey = certKeyKey
        self.certSHA256 = certSHA256
        self.certNotBefore = certNotBefore
        self.certNotAfter = certNotAfter
        self.certRenewAt = certRenewAt
        self.certSource = certSource
        self.httpsRedirect = httpsRedirect
        self.hstsMaxAge = hstsMaxAge
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    package init(_ domain: CustomDomain) {
        let problem = CustomDomains.bounded(domain.lastError)
        let certificate = domain.certificate
        self.init(
            hostname: domain.hostname, siteID: domain.siteID.rawValue, apex: domain.apex,
            pairedWith: domain.pairedWith, redirectTo: domain.redirectTo, verifyToken: domain.verificationToken,
            status: domain.status.rawValue, certStatus: domain.certificateStatus.rawValue, errorCode: problem?.code,
            errorDetail: problem?.detail, errorAt: problem.map { Millis.from($0.at) },
            checkAttempts: domain.checkAttempts, nextCheckAt: domain.nextCheckAt.map(Millis.from),
            verifiedAt: domain.verifiedAt.map(Millis.from), certChainKey: certificate?.chainKey,
            certKeyKey: certificate?.keyKey, certSHA256: certificate?.sha256,
            certNotBefore: certificate.map { Millis.from($0.notBefore) },
            certNotAfter: certificate.map { Millis.from($0.notAfter) },
            certRenewAt: certificate?.renewAt.map(Millis.from), certSource: certificate?.source.rawValue,
            httpsRedirect: domain.httpsRedirect, hstsMaxAge: domain.hstsMaxAge,
            createdAt: Millis.from(domain.createdAt), updatedAt: Millis.from(domain.updatedAt))
    }

    /// The values in `columns` order, for an INSERT or UPDATE.
    package var values: [(any Sendable)?] {
        [
            hostname, siteID, apex, pairedWith, redirectTo, verifyToken, status, certStatus, errorCode, errorDetail,
            errorAt, checkAttempts, nextCheckAt, verifiedAt, certChainKey, certKeyKey, certSHA256, certNotBefore,
            certNotAfter, certRenewAt, certSource, httpsRedirect, hstsMaxAge, createdAt, updatedAt,
        ]
    }

    /// The domain; `unavailable` for a row no Slipway writes.
    package func domain() throws -> CustomDomain {
        guard let status = DomainStatus(rawValue: status),
            let certificateStatus = CertificateStatus(rawValue: certStatus)
        else { throw CatalogError.unavailable("the custom domain row of '\(hostname)' holds an unknown state") }
        var certificate: DomainCertificate?
        if let certChainKey, let certKeyKey, let certSHA256, let certNotBefore, let certNotAfter {
            certificate = DomainCertificate(
                chainKey: certChainKey, keyKey: certKeyKey, sha256: certSHA256, notBefore: Millis.date(certNotBefore),
                notAfter: Millis.date(certNotAfter), renewAt: certRenewAt.map(Millis.date),
                source: certSource.flatMap(DomainCertificate.Source.init(rawValue:)) ?? .acme)
        }
        var problem: DomainProblem?
        if let errorCode, let errorDetail, let errorAt {
            problem = DomainProblem(code: errorCode, detail: errorDetail, at: Millis.date(errorAt))
        }
        return CustomDomain(
            hostname: hostname, siteID: SiteID(unchecked: siteID), apex: apex, pairedWith: pairedWith,
            redirectTo: redirectTo, verificationToken: verifyToken, status: status,
            certificateStatus: certificateStatus, lastError: problem, checkAttempts: checkAttempts,
            nextCheckAt: nextCheckAt.map(Millis.date), verifiedAt: verifiedAt.map(Millis.date),
            certificate: certificate, httpsRedirect: httpsRedirect, hstsMaxAge: hstsMaxAge,
            createdAt: Millis.date(createdAt), updatedAt: Millis.date(updatedAt))
    }

    /// A new domain's row.
    package static func new(_ draft: CustomDomainDraft, siteID: SiteID, now: Int64) -> DomainRow {
        DomainRow(
            hostname: draft.hostname, siteID: siteID.rawValue, apex: draft.apex, pairedWith: draft.pairedWith,
            redirectTo: draft.redirectTo, verifyToken: draft.verificationToken, status: DomainStatus.pending.rawValue,
            certStatus: CertificateStatus.none.rawValue, errorCode: nil, errorDetail: nil, errorAt: nil,
            checkAttempts: 0, nextCheckAt: now, verifiedAt: nil, certChainKey: nil, certKeyKey: nil, certSHA256: nil,
            certNotBefore: nil, certNotAfter: nil, certRenewAt: nil, certSource: nil,
            httpsRedirect: draft.httpsRedirect, hstsMaxAge: draft.hstsMaxAge, createdAt: now, updatedAt: now)
    }
}
