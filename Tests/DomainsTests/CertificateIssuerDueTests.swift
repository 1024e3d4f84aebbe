import ACME
import AsyncHTTPClient
import Domains
import Foundation
import Logging
import Model
import Storage
import Testing

/// When the issuer takes a domain up: the certificate axis's schedule,
/// including an issuance left half-way by a node that died.
@Suite struct CertificateIssuerDueTests {
    let now = Date(timeIntervalSince1970: 1_750_000_000)

    func withIssuer(_ body: (CertificateIssuer) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-issuer-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let catalog = try SQLiteCatalog(dataDirectory: directory)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let keyring = try SecretKeyring(parsing: SecretKeyring.generateKeyText())
        let client = ACMEClient(
            directoryURL: "https://ca.invalid/directory", accountKey: ACMEAccountKeys.derive(keyring: keyring),
            httpClient: http, logger: Logger(label: "test"))
        let issuer = CertificateIssuer(
            client: client,
            objects: DomainCertificateObjects(
                store: try DiskObjectStore(root: directory + "/objects"), keyring: keyring),
            catalog: catalog, logger: Logger(label: "test"))
        try await body(issuer)
        try await http.shutdown()
        try await catalog.close()
    }

    func domain(_ status: DomainStatus, _ certificate: CertificateStatus, problem: String? = nil, renewAt: Date? = nil)
        -> CustomDomain
    {
        var domain = CustomDomain(
            hostname: "app.example.com", siteID: SiteID.generate(), apex: false, verificationToken: "t",
            status: status, certificateStatus: certificate, createdAt: now, updatedAt: now)
        if let problem { domain.lastError = DomainProblem(code: problem, detail: "x", at: now) }
        if let renewAt {
            domain.certificate = DomainCertificate(
                chainKey: "c", keyKey: "k", sha256: "s", notBefore: now, notAfter: now.addingTimeInterval(90 * 86_400),
                renewAt: renewAt, source: .acme)
        }
        return domain
    }

    @Test func onlyActiveDomainsGetCertificatesAndFailuresWaitAnHour() async throws {
        try await withIssuer { issuer in
            #expect(issuer.isDue(domain(.active, .none), at: now))
            #expect(!issuer.isDue(domain(.pending, .none), at: now))
            #expect(!issuer.isDue(domain(.failed, .none), at: now))
            #expect(!issuer.isDue(domain(.moved, .active, renewAt: now.addingTimeInterval(-1)), at: now), "not renewed")
            let failed = domain(.active, .error, problem: "acme:unauthorized")
            #expect(!issuer.isDue(failed, at: now.addingTimeInterval(3599)))
            #expect(issuer.isDue(failed, at: now.addingTimeInterval(3600)))
            // A DNS problem is the other axis's: it does not hold the certificate back.
            #expect(issuer.isDue(domain(.active, .none, problem: "dns_error"), at: now))
        }
    }

    @Test func renewalsComeAtRenewAtAndAnIssuanceLeftHalfWayIsTakenUpAgain() async throws {
        try await withIssuer { issuer in
            let serving = domain(.active, .active, renewAt: now.addingTimeInterval(60))
            #expect(!issuer.isDue(serving, at: now))
            #expect(issuer.isDue(serving, at: now.addingTimeInterval(60)))
            // A node killed between `issuing` and the result: no problem recorded, due at once.
            #expect(issuer.isDue(domain(.active, .issuing), at: now))
            #expect(issuer.isDue(domain(.active, .renewing, renewAt: now.addingTimeInterval(-10)), at: now))
            // A renewal that failed waits like any failure, the old certificate serving.
            let failedRenewal = domain(.active, .renewing, problem: "acme:rateLimited", renewAt: now)
            #expect(!issuer.isDue(failedRenewal, at: now.addingTimeInterval(10)))
        }
    }
}
