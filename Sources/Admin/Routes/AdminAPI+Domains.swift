import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import Storage

/// Custom domains: `/api/deployments/{slug}/domains[/{hostname}]`.
///
/// Adding a domain records it `pending` with a verification token; the
/// domain checker (`Sources/Domains/`) then looks for the ownership
/// TXT record and the routing, and the certificate issuer takes it from
/// there. Every answer lists the DNS records the person must create.
extension AdminAPI {
    func registerDomains(on router: Router<AdminRequestContext>) {
        router.post("/api/deployments/{slug}/domains") { request, context in try await addDomain(request, context) }
        router.get("/api/deployments/{slug}/domains") { _, context in try await listDomains(context) }
        router.get("/api/deployments/{slug}/domains/{hostname}") { _, context in try await getDomain(context) }
        router.patch("/api/deployments/{slug}/domains/{hostname}") { request, context in
            try await updateDomain(request, context)
        }
        router.delete("/api/deployments/{slug}/domains/{hostname}") { _, context in try await removeDomain(context) }
        router.post("/api/deployments/{slug}/domains/{hostname}/verify") { _, context in
            try await verifyDomain(context)
        }
        router.put("/api/deployments/{slug}/domains/{hostname}/certificate") { request, context in
            try await uploadCertificate(request, context)
        }
        router.delete("/api/deployments/{slug}/domains/{hostname}/certificate") { _, context in
            try await removeUploadedCertificate(context)
        }
    }

    /// `POST /api/deployments/{slug}/domains`: 201 with the domains added
    /// (an apex and its `www`, or one name) and the records to create.
    func addDomain(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let site = try await site(context)
        let body = try await StrictJSON.decode(AddDomainBody.self, from: request, limit: configuration.maxBodyBytes)
        let hostname = try DomainRules.normalized(body.hostname, appsDomain: configuration.appsDomain)
        let apex = body.apex ?? DomainRules.isApex(hostname)
        let pair = body.pairWWW == false ? nil : DomainRules.pairedHost(of: hostname, apex: apex)
        var primary = hostname
        if let wanted = body.primary {
            let chosen = try DomainRules.normalized(wanted, appsDomain: configuration.appsDomain)
            guard chosen == hostname || chosen == pair else {
                throw AdminError.invalidBody(
                    "primary '\(wanted.prefix(80))' must be '\(hostname)'\(pair.map { " or '\($0)'" } ?? "")")
            }
            primary = chosen
        }
        let token = DomainRules.generateToken()
        var drafts = [
            CustomDomainDraft(
                hostname: hostname, apex: apex, pairedWith: pair, redirectTo: primary == hostname ? nil : primary,
                verificationToken: token, httpsRedirect: body.httpsRedirect ?? true, hstsMaxAge: body.hstsMaxAge)
        ]
        if let pair {
            drafts.append(
                CustomDomainDraft(
                    hostname: pair, apex: !apex, pairedWith: hostname, redirectTo: primary == pair ? nil : primary,
                    verificationToken: token, httpsRedirect: body.httpsRedirect ?? true, hstsMaxAge: body.hstsMaxAge))
        }
        let added = try await catalog.addDomains(
            siteID: site.id, drafts, limit: configuration.maxDomainsPerDeployment)
        context.audit.target = "\(site.slug) \(hostname)"
        logger.info(
            "custom domain added",
            metadata: ["slug": "\(site.slug)", "hostname": "\(hostname)", "paired": "\(pair ?? "-")"])
        return try json(
            Envelope(key: "domains", value: added.map { domainJSON($0, slug: site.slug) }), status: .created)
    }

    /// `GET /api/deployments/{slug}/domains`.
    func listDomains(_ context: AdminRequestContext) async throws -> Response {
        let site = try await site(context)
        let domains = try await catalog.domains(siteID: site.id)
        return try json(Envelope(key: "domains", value: domains.map { domainJSON($0, slug: site.slug) }))
    }

    /// `GET /api/deployments/{slug}/domains/{hostname}`.
    func getDomain(_ context: AdminRequestContext) async throws -> Response {
        let (site, domain) = try await siteDomain(context)
        return try json(domainJSON(domain, slug: site.slug))
    }

    /// `PATCH /api/deployments/{slug}/domains/{hostname}`: `httpsRedirect`
    /// and `hstsMaxAge` (null turns HSTS off).
    func updateDomain(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let (site, domain) = try await siteDomain(context)
        let body = try await StrictJSON.decode(UpdateDomainBody.self, from: request, limit: configuration.maxBodyBytes)
        let updated = try await catalog.updateDomain(hostname: domain.hostname) { domain in
            if let redirect = body.httpsRedirect { domain.httpsRedirect = redirect }
            switch body.hstsMaxAge {
            case .absent: break
            case .null: domain.hstsMaxAge = nil
            case .value(let age): domain.hstsMaxAge = age
            }
        }
        context.audit.target = "\(site.slug) \(domain.hostname)"
        return try json(domainJSON(updated, slug: site.slug))
    }

    /// `DELETE /api/deployments/{slug}/domains/{hostname}`: removes it and
    /// the other half of its pair; every proxy stops routing them and drops
    /// their certificate at once.
    func removeDomain(_ context: AdminRequestContext) async throws -> Response {
        let (site, domain) = try await siteDomain(context)
        let removed = try await catalog.removeDomain(siteID: site.id, hostname: domain.hostname)
        context.audit.target = "\(site.slug) \(domain.hostname)"
        logger.info(
            "custom domain removed", metadata: ["slug": "\(site.slug)", "hostname": "\(removed.map(\.hostname))"])
        return try json(Envelope(key: "domains", value: removed.map { domainJSON($0, slug: site.slug) }))
    }

    /// `POST /api/deployments/{slug}/domains/{hostname}/verify`: 202; the
    /// next check runs now, and a domain whose checks gave up starts again.
    func verifyDomain(_ context: AdminRequestContext) async throws -> Response {
        let (site, domain) = try await siteDomain(context)
        let now = services.clock()
        let updated = try await catalog.updateDomain(hostname: domain.hostname) { domain in
            if domain.status == .failed {
                domain.status = .pending
                domain.checkAttempts = 0
            }
            domain.nextCheckAt = now
        }
        context.audit.target = "\(site.slug) \(domain.hostname)"
        return try json(domainJSON(updated, slug: site.slug), status: .accepted)
    }

    /// The site of `{slug}` and its domain `{hostname}`.
    func siteDomain(_ context: AdminRequestContext) async throws -> (Site, CustomDomain) {
        let site = try await site(context)
        let raw = try context.parameters.require("hostname")
        // A name that cannot be a custom domain is none of this deployment's.
        guard
            let hostname = try? DomainRules.normalized(
                raw.removingPercentEncoding ?? raw, appsDomain: configuration.appsDomain)
        else { throw CatalogError.domainNotFound(String(raw.prefix(253))) }
        guard let domain = try await catalog.domain(hostname: hostname), domain.siteID == site.id else {
            throw CatalogError.domainNotFound(hostname)
        }
        return (site, domain)
    }

    func domainJSON(_ domain: CustomDomain, slug: String) -> DomainJSON {
        DomainJSON(
            domain: domain, slug: slug, records: configuration.domainTarget.records(for: domain), now: services.clock())
    }
}

/// `POST /api/deployments/{slug}/domains`.
struct AddDomainBody: Decodable, Sendable {
    let hostname: String
    /// Overrides the apex guess (two labels, or three under a known
    /// second-level suffix such as `co.uk`).
    let apex: Bool?
    /// False adds the name alone, without its `www`/apex partner.
    let pairWWW: Bool?
    /// Which of the pair serves; the other redirects to it.
    let primary: String?
    let httpsRedirect: Bool?
    let hstsMaxAge: Int?

    static let fields = ["hostname", "apex", "pairWww", "primary", "httpsRedirect", "hstsMaxAge"]

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: Self.fields)
        hostname = try object.required("hostname")
        apex = try object.optional("apex")
        pairWWW = try object.optional("pairWww")
        primary = try object.optional("primary")
        httpsRedirect = try object.optional("httpsRedirect")
        hstsMaxAge = try object.optional("hstsMaxAge")
    }
}

/// `PATCH /api/deployments/{slug}/domains/{hostname}`.
struct UpdateDomainBody: Decodable, Sendable {
    let httpsRedirect: Bool?
    let hstsMaxAge: FieldPatch<Int>

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: ["httpsRedirect", "hstsMaxAge"])
        httpsRedirect = try object.nonNullPatch("httpsRedirect")
        hstsMaxAge = try object.patch("hstsMaxAge")
    }
}

/// A custom domain as the API shows it: its states, the records to
/// create, its certificate's dates (never its key) and a warning when the
/// certificate is close to expiry while renewals fail.
struct DomainJSON: Encodable, Sendable {
    let domain: CustomDomain
    let slug: String
    let records: [DomainDNSRecord]
    let now: Date

    /// Days before expiry from which a failing renewal is a warning.
    static let warningWindow: TimeInterval = 14 * 86_400

    var warning: String? {
        guard let certificate = domain.certificate, domain.lastError != nil,
            domain.certificateStatus == .renewing || domain.certificateStatus == .error,
            certificate.notAfter.timeIntervalSince(now) < Self.warningWindow
        else { return nil }
        let days = max(0, Int(certificate.notAfter.timeIntervalSince(now) / 86_400))
        return
            "the certificate expires in \(days) day(s) and its renewal keeps failing: \(domain.lastError?.detail ?? "")"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        func put<T: Encodable>(_ value: T, _ key: String) throws {
            try container.encode(value, forKey: AnyCodingKey(key))
        }
        try put(domain.hostname, "hostname")
        try put(slug, "deployment")
        try put(domain.apex, "apex")
        try put(domain.pairedWith, "pairedWith")
        try put(domain.redirectTo, "redirectTo")
        try put(domain.status.rawValue, "status")
        try put(domain.certificateStatus.rawValue, "certificateStatus")
        try put(domain.lastError, "lastError")
        try put(domain.verifiedAt, "verifiedAt")
        try put(domain.nextCheckAt, "nextCheckAt")
        try put(domain.certificate.map(CertificateJSON.init), "certificate")
        try put(domain.httpsRedirect, "httpsRedirect")
        try put(domain.hstsMaxAge, "hstsMaxAge")
        try put(records, "dnsRecords")
        try put(warning, "warning")
        let secure = domain.certificateStatus == .active || domain.certificateStatus == .renewing
        try put("\(secure ? "https" : "http")://\(domain.hostname)", "url")
        try put(domain.createdAt, "createdAt")
        try put(domain.updatedAt, "updatedAt")
    }

    struct CertificateJSON: Encodable, Sendable {
        let notBefore: Date
        let notAfter: Date
        let renewAt: Date?
        let source: String
        let sha256: String
        init(_ certificate: DomainCertificate) {
            notBefore = certificate.notBefore
            notAfter = certificate.notAfter
            renewAt = certificate.renewAt
            source = certificate.source.rawValue
            sha256 = certificate.sha256
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: AnyCodingKey.self)
            try container.encode(notBefore, forKey: AnyCodingKey("notBefore"))
            try container.encode(notAfter, forKey: AnyCodingKey("notAfter"))
            // Null rather than absent: an uploaded certificate is never renewed.
            try container.encode(renewAt, forKey: AnyCodingKey("renewAt"))
            try container.encode(source, forKey: AnyCodingKey("source"))
            try container.encode(sha256, forKey: AnyCodingKey("sha256"))
        }
    }
}
