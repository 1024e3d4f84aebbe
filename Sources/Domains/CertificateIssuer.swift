public import ACME
import Crypto
public import Foundation
public import Logging
public import Model
public import Storage
import SwiftASN1
import X509

/// Gets and renews custom domains' certificates: the certificate axis of
/// the two (``CertificateStatus``), `none → issuing → active → renewing →
/// active`, `error` when an issuance failed with no certificate to serve.
///
/// One host name per certificate (Let's Encrypt's limits count per name),
/// a new P-256 key for each, HTTP-01 answered by every proxy statelessly.
/// The chain and the sealed key go to the object store first
/// (``DomainCertificateObjects``), then the catalog row points at them: a
/// proxy never sees half a pair. A failure keeps the certificate that
/// serves (`renewing` with the problem in ``CustomDomain/lastError``) and
/// is retried after ``retryAfterFailure`` (a failed validation counts
/// against the CA's limits, so never at once).
public struct CertificateIssuer: Sendable {
    public let client: ACMEClient
    public let objects: DomainCertificateObjects
    public let catalog: any Catalog
    /// How long after a failure the next attempt waits (1 hour by default).
    public let retryAfterFailure: Duration
    let logger: Logger

    public init(
        client: ACMEClient, objects: DomainCertificateObjects, catalog: any Catalog,
        retryAfterFailure: Duration = .seconds(3600), logger: Logger
    ) {
        self.client = client
        self.objects = objects
        self.catalog = catalog
        self.retryAfterFailure = retryAfterFailure
        self.logger = logger
    }

    /// Whether `domain` needs a certificate issued or renewed at `now`.
    /// Only active domains get one; a moved domain is not renewed.
    public func isDue(_ domain: CustomDomain, at now: Date) -> Bool {
        guard domain.status == .active else { return false }
        let retryAt = domain.lastError.map { $0.at.addingTimeInterval(DomainCheckSchedule.seconds(retryAfterFailure)) }
        switch domain.certificateStatus {
        case .none, .issuing, .error, .renewing:
            // `issuing`/`renewing` without a problem: an issuer stopped half-way; resumed.
            guard let problem = domain.lastError, Self.isCertificateProblem(problem) else { return true }
            return retryAt.map { $0 <= now } ?? true
        case .active:
            return domain.certificate?.renewAt.map { $0 <= now } ?? false
        }
    }

    /// Issues (or renews) the certificate of `domain`, recording the outcome.
    public func issue(_ domain: CustomDomain, now: @Sendable () -> Date) async {
        let host = domain.hostname
        let previous = domain.certificate
        do {
            try await catalog.updateDomain(hostname: host) { current in
                current.certificateStatus = current.certificate == nil ? .issuing : .renewing
            }
        } catch {
            logger.warning("cannot start the certificate of \(host): \(error)")
            return
        }
        do {
            var replacing: String?
            if let previous { replacing = await renewalIdentifier(of: previous, host: host) }
            let key = P256.Signing.PrivateKey()
            let issued = try await client.issueCertificate(for: [host], certificateKey: key, replacing: replacing)
            var window: ACMERenewalWindow?
            if let info = try? await client.renewalInfo(for: issued.leaf) { window = info.suggestedWindow }
            let renewAt = ACMERenewalPolicy.renewalTime(
                notBefore: issued.notBefore, notAfter: issued.notAfter, window: window, now: now(),
                jitter: Double.random(in: 0...1))
            var serializer = DER.Serializer()
            try serializer.serialize(issued.leaf)
            let digest = SHA256.hash(data: serializer.serializedBytes).map { $0 }
            let certificate = try await objects.store(
                host: host, chainPEM: issued.chainPEM, keyPEM: key.pemRepresentation, leafSHA256: Hex.encode(digest),
                notBefore: issued.notBefore, notAfter: issued.notAfter, renewAt: renewAt, source: .acme)
            try await catalog.updateDomain(hostname: host) { current in
                current.certificate = certificate
                current.certificateStatus = .active
                if let problem = current.lastError, Self.isCertificateProblem(problem) { current.lastError = nil }
            }
            logger.info(
                "certificate issued",
                metadata: [
                    "host": "\(host)", "serial": "\(issued.serialNumber)", "notAfter": "\(issued.notAfter)",
                    "renewAt": "\(renewAt)",
                ])
        } catch let problem as ACMEProblem {
            await record(
                DomainProblem(
                    code: problem.isCAA ? "caa_refused" : "acme:\(problem.name)", detail: problem.userMessage,
                    at: now()), host: host, now: now())
        } catch {
            await record(
                DomainProblem(
                    code: "acme_error",
                    detail: "the certificate for \(host) could not be obtained: \(error); Slipway tries again later",
                    at: now()), host: host, now: now())
        }
    }

    /// Records a failed issuance: the serving certificate stays (`renewing`), else `error`.
    private func record(_ problem: DomainProblem, host: String, now: Date) async {
        logger.warning("certificate not issued", metadata: ["host": "\(host)", "problem": "\(problem.detail)"])
        do {
            try await catalog.updateDomain(hostname: host) { current in
                current.lastError = problem
                let serves = current.certificate.map { $0.notAfter > now } ?? false
                current.certificateStatus = serves ? .renewing : .error
            }
        } catch {
            logger.error("cannot record the certificate problem of \(host): \(error)")
        }
    }

    /// The ARI identifier of the certificate being replaced, when it can be read.
    private func renewalIdentifier(of certificate: DomainCertificate, host: String) async -> String? {
        guard let (chain, _) = try? await objects.load(certificate, host: host),
            let first = try? PEMDocument.parseMultiple(pemString: chain).first,
            let leaf = try? Certificate(pemDocument: first)
        else { return nil }
        return try? ACMERenewalInfo.certificateIdentifier(for: leaf)
    }

    /// Problems of the certificate axis (cleared by a successful issuance).
    static func isCertificateProblem(_ problem: DomainProblem) -> Bool {
        problem.code.hasPrefix("acme") || problem.code == "caa_refused"
    }
}
