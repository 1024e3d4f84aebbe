import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import Storage
import SwiftASN1
import X509

/// A certificate of the user's own for a custom domain:
/// `PUT|DELETE /api/deployments/{slug}/domains/{hostname}/certificate`.
///
/// An uploaded pair replaces what the CA issued and is never renewed by
/// Slipway (its `renewAt` is null); removing it hands the domain back to
/// the issuer. The key is sealed with `SLIPWAY_SECRET_KEY` in the object
/// store like an issued one and never returned or logged.
extension AdminAPI {
    /// `PUT …/certificate` with `{certificate, privateKey}` (PEM): 200 with the domain.
    func uploadCertificate(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let (site, domain) = try await siteDomain(context)
        guard let objects = services.certificateObjects else {
            throw AdminError(
                status: .serviceUnavailable, code: "certificates_unavailable",
                message:
                    "this node keeps no certificates; upload through a node with the admin role and an object store")
        }
        let body = try await StrictJSON.decode(
            UploadCertificateBody.self, from: request, limit: configuration.maxBodyBytes)
        let now = services.clock()
        let checked = try UploadedCertificate.check(
            chainPEM: body.certificate, keyPEM: body.privateKey, host: domain.hostname, now: now)
        let certificate = try await objects.store(
            host: domain.hostname, chainPEM: body.certificate, keyPEM: body.privateKey, leafSHA256: checked.sha256,
            notBefore: checked.notBefore, notAfter: checked.notAfter, renewAt: nil, source: .uploaded)
        let updated = try await catalog.updateDomain(hostname: domain.hostname) { domain in
            domain.certificate = certificate
            domain.certificateStatus = .active
            if let problem = domain.lastError, problem.code.hasPrefix("acme") || problem.code == "caa_refused" {
                domain.lastError = nil
            }
        }
        context.audit.target = "\(site.slug) \(domain.hostname)"
        logger.info(
            "certificate uploaded",
            metadata: ["host": "\(domain.hostname)", "sha256": "\(checked.sha256)", "notAfter": "\(checked.notAfter)"])
        return try json(domainJSON(updated, slug: site.slug))
    }

    /// `DELETE …/certificate`: the domain goes back to certificates from the CA.
    func removeUploadedCertificate(_ context: AdminRequestContext) async throws -> Response {
        let (site, domain) = try await siteDomain(context)
        guard domain.certificate?.source == .uploaded else {
            throw AdminError.conflict(
                "no_uploaded_certificate",
                "'\(domain.hostname)' has no uploaded certificate; certificates from the CA are renewed by Slipway")
        }
        let updated = try await catalog.updateDomain(hostname: domain.hostname) { domain in
            domain.certificate = nil
            domain.certificateStatus = .none
        }
        context.audit.target = "\(site.slug) \(domain.hostname)"
        return try json(domainJSON(updated, slug: site.slug))
    }
}

/// `PUT …/certificate`.
struct UploadCertificateBody: Decodable, Sendable {
    let certificate: String
    let privateKey: String

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: ["certificate", "privateKey"])
        certificate = try object.required("certificate")
        privateKey = try object.required("privateKey")
    }
}

/// The checks an uploaded pair passes before it is stored.
enum UploadedCertificate {
    struct Checked {
        var sha256: String
        var notBefore: Date
        var notAfter: Date
    }

    /// - Throws: 422 naming what is wrong (never quoting the key).
    static func check(chainPEM: String, keyPEM: String, host: String, now: Date) throws -> Checked {
        let chain: [Certificate]
        do {
            chain = try PEMDocument.parseMultiple(pemString: chainPEM).filter { $0.discriminator == "CERTIFICATE" }
                .map { try Certificate(pemDocument: $0) }
        } catch {
            throw AdminError.invalidBody("certificate is not a PEM chain of certificates: \(error)")
        }
        guard let leaf = chain.first else {
            throw AdminError.invalidBody("certificate holds no CERTIFICATE block; give the chain, leaf first")
        }
        let key: Certificate.PrivateKey
        do { key = try Certificate.PrivateKey(pemEncoded: keyPEM) } catch {
            throw AdminError.invalidBody("privateKey is not a PEM private key (PKCS#8, EC or RSA)")
        }
        guard key.publicKey == leaf.publicKey else {
            throw AdminError.invalidBody("privateKey does not belong to the first certificate of the chain")
        }
        let names =
            ((try? leaf.extensions.subjectAlternativeNames) ?? nil)?.compactMap { name -> String? in
                if case .dnsName(let dns) = name { return dns.lowercased() }
                return nil
            } ?? []
        let parent = host.split(separator: ".", maxSplits: 1).dropFirst().first.map { "*." + $0 }
        guard names.contains(host) || parent.map(names.contains) == true else {
            throw AdminError.invalidBody(
                "the certificate names \(names.isEmpty ? "no DNS name" : names.joined(separator: ", ")), not \(host)")
        }
        guard leaf.notValidAfter > now, leaf.notValidBefore <= now.addingTimeInterval(300) else {
            throw AdminError.invalidBody(
                "the certificate is valid from \(leaf.notValidBefore) to \(leaf.notValidAfter), not now")
        }
        var serializer = DER.Serializer()
        try serializer.serialize(leaf)
        return Checked(
            sha256: Hex.encode(SHA256.hash(data: serializer.serializedBytes)), notBefore: leaf.notValidBefore,
            notAfter: leaf.notValidAfter)
    }
}
