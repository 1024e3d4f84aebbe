import ACME
import AsyncHTTPClient
import Crypto
import DNS
import Domains
import Foundation
import Logging
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import SwiftASN1
import Synchronization
import Testing
import X509

@testable import Proxy

/// Custom domains end to end against a real ACME CA (Pebble) and a real
/// mock DNS (pebble-challtestsrv): a real proxy answers the routing probe
/// and the HTTP-01 challenges, the domain service checks DNS and gets the
/// certificate, stored in the object store and recorded in the catalog.
@Suite(
    .serialized, .enabled(if: PebbleServer.shouldRun, "needs pebble and pebble-challtestsrv: run scripts/test"),
    .timeLimit(.minutes(5)))
struct CustomDomainCertificateTests {
    /// A wall clock a test can move forward.
    final class Clock: Sendable {
        private let offset = Mutex<TimeInterval>(0)
        func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }
        var now: Date { Date().addingTimeInterval(offset.withLock { $0 }) }
    }

    /// A proxy, a Pebble validating on the proxy's plain port, and the
    /// domain service wired to both.
    struct Setup {
        let proxy: TestProxy
        let pebble: PebbleServer
        let service: CustomDomainService
        let issuer: CertificateIssuer
        let acme: ACMEClient
        let keyring: SecretKeyring
        let clock: Clock
        let acmeHTTP: HTTPClient
        let probeHTTP: HTTPClient

        func stop() async {
            try? await acmeHTTP.shutdown()
            try? await probeHTTP.shutdown()
            pebble.stop()
            await proxy.stop()
        }
    }

    static func withSetup(
        validity: Int = 3600, pebbleEnvironment: [String: String] = [:], wrongThumbprint: Bool = false,
        _ body: (Setup) async throws -> Void
    ) async throws {
        let keyring = try SecretKeyring(parsing: SecretKeyring.generateKeyText())
        let accountKey = ACMEAccountKeys.derive(keyring: keyring)
        let proxy = try await TestProxy.start(configure: { configuration in
            configuration.domainProbeKeys = .init(DomainProbe.keys(keyring))
            configuration.acmeThumbprint = wrongThumbprint ? "not-our-account" : accountKey.thumbprint
        })
        let plainPort = proxy.server.port!
        let pebble: PebbleServer
        do {
            pebble = try await PebbleServer.start(
                httpPort: plainPort, certificateValidity: validity, environment: pebbleEnvironment)
        } catch {
            await proxy.stop()
            throw error
        }
        let clock = Clock()
        let logger = Logger(label: "slipway.test.domains")
        let acmeHTTP = try pebble.makeHTTPClient()
        let probeHTTP = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        let acme = ACMEClient(
            directoryURL: pebble.directoryURL, accountKey: accountKey, httpClient: acmeHTTP, logger: logger)
        let issuer = CertificateIssuer(
            client: acme, objects: DomainCertificateObjects(store: proxy.store, keyring: keyring),
            catalog: proxy.catalog, logger: logger)
        let resolver = DNSResolver(
            configuration: try DNSResolver.Configuration(servers: pebble.dns.dnsAddress, timeout: .seconds(2)),
            logger: logger)
        let verifier = DomainVerifier(
            resolver: resolver, httpClient: probeHTTP, probePort: plainPort,
            probeKeys: DomainProbe.keys(keyring).map { $0.withUnsafeBytes { Data($0) } })
        var configuration = CustomDomainService.Configuration(nodeID: "test-node")
        configuration.tick = .seconds(3600)
        let service = CustomDomainService(
            configuration: configuration, catalog: proxy.catalog, bus: proxy.bus, verifier: verifier,
            issuer: issuer, now: { clock.now }, logger: logger)
        let setup = Setup(
            proxy: proxy, pebble: pebble, service: service, issuer: issuer, acme: acme, keyring: keyring,
            clock: clock, acmeHTTP: acmeHTTP, probeHTTP: probeHTTP)
        do {
            try await body(setup)
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }

    /// Adds `host` alone to a new deployment `slug`.
    static func addDomain(_ host: String, slug: String, to setup: Setup) async throws -> CustomDomain {
        let site = try await setup.proxy.createSite(slug)
        let added = try await setup.proxy.catalog.addDomains(
            siteID: site.id, [CustomDomainDraft(hostname: host, apex: false)], limit: 10)
        return added[0]
    }

    /// Adds `host` to a new deployment and publishes its ownership record.
    static func addOwnedDomain(_ host: String, slug: String, to setup: Setup) async throws -> CustomDomain {
        let domain = try await addDomain(host, slug: slug, to: setup)
        try await setup.pebble.dns.setTXT(
            domain.ownershipRecordName, DomainRules.ownershipRecordValue(token: domain.verificationToken))
        return domain
    }

    /// Makes the next check of `host` due now (what `POST …/verify` does).
    static func checkNow(_ host: String, _ setup: Setup) async throws {
        let now = setup.clock.now
        try await setup.proxy.catalog.updateDomain(hostname: host) { $0.nextCheckAt = now }
    }

    /// The chain stored for `domain`, verified against Pebble's root for its host.
    static func verifiedLeaf(_ domain: CustomDomain, _ setup: Setup) async throws -> Certificate {
        let stored = try #require(domain.certificate)
        let objects = DomainCertificateObjects(store: setup.proxy.store, keyring: setup.keyring)
        let (chainPEM, keyPEM) = try await objects.load(stored, host: domain.hostname)
        let chain = try PEMDocument.parseMultiple(pemString: chainPEM).map { try Certificate(pemDocument: $0) }
        let roots = try PEMDocument.parseMultiple(pemString: try await setup.pebble.issuingRoots())
            .map { try Certificate(pemDocument: $0) }
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy()
            ServerIdentityPolicy(serverHostname: domain.hostname, serverIP: nil)
        }
        let result = await verifier.validate(leaf: chain[0], intermediates: CertificateStore(Array(chain.dropFirst())))
        guard case .validCertificate = result else { throw TestFailure("the chain does not verify: \(result)") }
        let key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        #expect(chain[0].publicKey == Certificate.PublicKey(key.publicKey), "the sealed key is the leaf's")
        #expect(
            !(try await setup.proxy.store.getBytes(stored.keyKey).readableBytesView.contains(Array("PRIVATE".utf8))))
        return chain[0]
    }

    @Test func aCertificateIsIssuedOnlyOnceTheOwnershipRecordMatches() async throws {
        try await Self.withSetup { setup in
            let host = "app.example.test"
            let domain = try await Self.addDomain(host, slug: "blog", to: setup)
            let record = domain.ownershipRecordName

            // No record, then a record with another token: pending, and no order is ever made.
            #expect(await setup.service.runOnce())
            var seen = try #require(try await setup.proxy.catalog.domain(hostname: host))
            #expect(seen.status == .pending && seen.lastError?.code == "ownership_record_missing")
            #expect(seen.lastError?.detail.contains(record) == true)
            try await setup.pebble.dns.setTXT(record, "slipway-verify=someone-elses-token")
            try await Self.checkNow(host, setup)
            #expect(await setup.service.runOnce())
            seen = try #require(try await setup.proxy.catalog.domain(hostname: host))
            #expect(seen.status == .pending && seen.lastError?.code == "ownership_record_mismatch", "\(seen)")
            #expect(seen.certificateStatus == .none && setup.acme.accountURL == nil, "the CA was never asked")

            // The right record: active, then a real certificate from Pebble.
            try await setup.pebble.dns.clearTXT(record)
            try await setup.pebble.dns.setTXT(record, DomainRules.ownershipRecordValue(token: domain.verificationToken))
            try await Self.checkNow(host, setup)
            #expect(await setup.service.runOnce())
            seen = try #require(try await setup.proxy.catalog.domain(hostname: host))
            #expect(seen.status == .active && seen.verifiedAt != nil, "\(seen.lastError?.detail ?? "")")
            #expect(seen.certificateStatus == .active, "\(seen.lastError?.detail ?? "")")
            #expect(seen.lastError == nil)
            let leaf = try await Self.verifiedLeaf(seen, setup)
            let certificate = try #require(seen.certificate)
            #expect(certificate.notAfter == leaf.notValidAfter && certificate.source == .acme)
            let renewAt = try #require(certificate.renewAt)
            let lifetime = certificate.notAfter.timeIntervalSince(certificate.notBefore)
            #expect(abs(renewAt.timeIntervalSince(certificate.notBefore) - lifetime * 2 / 3) < 2, "two thirds")
            #expect(!setup.issuer.isDue(seen, at: setup.clock.now))
        }
    }

    @Test func aRenewalDueByTheClockReplacesThePairAndAShortCertificateRenewsForReal() async throws {
        try await Self.withSetup(validity: 9) { setup in
            let host = "renew.example.test"
            _ = try await Self.addOwnedDomain(host, slug: "shop", to: setup)
            #expect(await setup.service.runOnce())
            let first = try #require(try await setup.proxy.catalog.domain(hostname: host)?.certificate)

            // An injected clock past renewAt: renewed at the next tick.
            setup.clock.advance(by: first.renewAt!.timeIntervalSince(setup.clock.now) + 1)
            #expect(await setup.service.runOnce())
            let second = try #require(try await setup.proxy.catalog.domain(hostname: host))
            #expect(second.certificateStatus == .active && second.certificate?.sha256 != first.sha256)
            _ = try await Self.verifiedLeaf(second, setup)

            // Real time: a 9-second certificate is renewed at two thirds of its life.
            setup.clock.advance(by: -setup.clock.now.timeIntervalSince(Date()))
            let renewAt = try #require(second.certificate?.renewAt)
            #expect(renewAt.timeIntervalSince(Date()) < 9)
            var third = second
            let deadline = Date().addingTimeInterval(30)
            while third.certificate?.sha256 == second.certificate?.sha256, Date() < deadline {
                try await Task.sleep(for: .milliseconds(250))
                await setup.service.runOnce()
                third = try #require(try await setup.proxy.catalog.domain(hostname: host))
            }
            #expect(third.certificate?.sha256 != second.certificate?.sha256, "renewed for real")
            #expect(third.certificate!.notBefore >= renewAt.addingTimeInterval(-1))
        }
    }

    @Test func aFailedValidationLeavesTheCertificateInErrorWithTheCAsDetailAndRetriesLater() async throws {
        try await Self.withSetup(wrongThumbprint: true) { setup in
            let host = "bad.example.test"
            _ = try await Self.addOwnedDomain(host, slug: "guide", to: setup)
            #expect(await setup.service.runOnce())
            let failed = try #require(try await setup.proxy.catalog.domain(hostname: host))
            #expect(failed.status == .active, "the domain itself is fine")
            #expect(failed.certificateStatus == .error && failed.certificate == nil)
            let problem = try #require(failed.lastError)
            #expect(problem.code == "acme:unauthorized", "\(problem)")
            #expect(problem.detail.contains(host) && problem.detail.contains("acme-challenge"), "\(problem.detail)")
            #expect(!setup.issuer.isDue(failed, at: setup.clock.now), "no retry at once")
            #expect(setup.issuer.isDue(failed, at: setup.clock.now.addingTimeInterval(3601)))
        }
    }

    @Test func halfOfTheNoncesRejectedStillIssues() async throws {
        try await Self.withSetup(pebbleEnvironment: ["PEBBLE_WFE_NONCEREJECT": "50"]) { setup in
            let host = "nonce.example.test"
            _ = try await Self.addOwnedDomain(host, slug: "nonce", to: setup)
            #expect(await setup.service.runOnce())
            let issued = try #require(try await setup.proxy.catalog.domain(hostname: host))
            #expect(issued.certificateStatus == .active, "\(issued.lastError?.detail ?? "")")
            #expect(setup.acme.badNonceRetries > 0)
        }
    }

    @Test func aNamePointingElsewhereIsNotRoutedAndAnActiveOneThatMovesIsMarkedMoved() async throws {
        try await Self.withSetup { setup in
            let host = "moving.example.test"
            let domain = try await Self.addOwnedDomain(host, slug: "moving", to: setup)
            // Nothing listens on 127.0.0.2 (the proxy is bound to 127.0.0.1): refused at once.
            try await setup.pebble.dns.addA(host, ["127.0.0.2"])
            #expect(await setup.service.runOnce())
            var seen = try #require(try await setup.proxy.catalog.domain(hostname: host))
            #expect(seen.status == .pending && seen.lastError?.code == "not_routed", "\(seen.lastError?.detail ?? "")")
            try await setup.pebble.dns.clearA(host)
            try await setup.pebble.dns.addA(host, ["127.0.0.1"])
            try await Self.checkNow(host, setup)
            #expect(await setup.service.runOnce())
            seen = try #require(try await setup.proxy.catalog.domain(hostname: host))
            #expect(seen.status == .active, "\(seen.lastError?.detail ?? "")")
            // The ownership record goes: the next check marks it moved, and it is not renewed.
            try await setup.pebble.dns.clearTXT(domain.ownershipRecordName)
            setup.clock.advance(by: 3601)
            #expect(await setup.service.runOnce())
            seen = try #require(try await setup.proxy.catalog.domain(hostname: host))
            #expect(seen.status == .moved && seen.lastError?.code == "ownership_record_missing")
            var renewal = seen
            renewal.certificate?.renewAt = setup.clock.now.addingTimeInterval(-1)
            #expect(!setup.issuer.isDue(renewal, at: setup.clock.now), "a moved domain is not renewed")
        }
    }
}
