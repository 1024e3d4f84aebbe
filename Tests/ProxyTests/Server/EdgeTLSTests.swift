import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS
import Testing

@testable import Proxy

/// The edge's certificates by name, what a certificate file must hold, and
/// the handshake's timeout, without sockets.
@Suite struct EdgeTLSTests {
    static func certificate(_ authority: TestCertificateAuthority, _ names: [String]) throws -> EdgeCertificate {
        let (chain, key) = try authority.issue(names)
        return try EdgeCertificate(chainPEM: chain, keyPEM: key)
    }

    @Test func namesAreMatchedExactlyThenByAWildcardOneLabelUp() throws {
        let authority = try TestCertificateAuthority()
        let certificates = EdgeCertificates()
        let wildcard = try Self.certificate(authority, ["*.Apps.Test", "apps.test"])
        #expect(wildcard.names == ["*.apps.test", "apps.test"])
        certificates.replace(source: "files", with: wildcard)
        #expect(certificates.certificate(forServerName: "docs.apps.test")?.serial == wildcard.serial)
        #expect(certificates.certificate(forServerName: "DOCS.apps.test.")?.serial == wildcard.serial)
        #expect(certificates.certificate(forServerName: "apps.test")?.serial == wildcard.serial)
        #expect(certificates.certificate(forServerName: "a.docs.apps.test") == nil)
        #expect(certificates.certificate(forServerName: "example.test") == nil)
        #expect(certificates.certificate(forServerName: "") == nil)

        // An exact name wins over the wildcard.
        let exact = try Self.certificate(authority, ["docs.apps.test"])
        certificates.replace(source: "domain:docs", with: exact)
        #expect(certificates.certificate(forServerName: "docs.apps.test")?.serial == exact.serial)
        #expect(certificates.certificate(forServerName: "blog.apps.test")?.serial == wildcard.serial)

        // A source's replacement drops the names it no longer covers.
        let renewed = try Self.certificate(authority, ["*.apps.test"])
        certificates.replace(source: "files", with: renewed)
        #expect(certificates.certificate(forServerName: "apps.test") == nil)
        #expect(certificates.certificate(forServerName: "blog.apps.test")?.serial == renewed.serial)
        certificates.replace(source: "domain:docs", with: nil)
        #expect(certificates.certificate(forServerName: "docs.apps.test")?.serial == renewed.serial)
    }

    /// A custom domain's certificate is held under its own name alone, and
    /// a source letting go of a name another source also claims leaves the
    /// other's certificate in place.
    @Test func aSourceHoldsOnlyTheNamesItIsGivenAndLettingGoRestoresAnotherClaim() throws {
        let authority = try TestCertificateAuthority()
        let certificates = EdgeCertificates()
        let files = try Self.certificate(authority, ["*.apps.test", "shop.example.test"])
        certificates.replace(source: "files", with: files)
        // An uploaded certificate naming more than its domain (even the apps domain).
        let uploaded = try Self.certificate(authority, ["shop.example.test", "*.apps.test"])
        #expect(uploaded.covers("shop.example.test") && uploaded.covers("blog.apps.test"))
        #expect(!uploaded.covers("a.blog.apps.test") && !uploaded.covers("example.test"))
        certificates.replace(source: "domain:shop.example.test", with: uploaded, names: ["shop.example.test"])
        #expect(certificates.certificate(forServerName: "shop.example.test")?.serial == uploaded.serial)
        #expect(certificates.certificate(forServerName: "blog.apps.test")?.serial == files.serial)

        certificates.replace(source: "domain:shop.example.test", with: nil)
        #expect(certificates.certificate(forServerName: "shop.example.test")?.serial == files.serial)
        certificates.replace(source: "domain:shop.example.test", with: uploaded, names: ["shop.example.test"])
        certificates.replace(source: "files", with: nil)
        #expect(certificates.certificate(forServerName: "shop.example.test")?.serial == uploaded.serial)
        #expect(certificates.certificate(forServerName: "blog.apps.test") == nil)
        certificates.replace(source: "domain:shop.example.test", with: nil)
        #expect(certificates.isEmpty)
    }

    @Test func aCertificateFileMustHoldALeafWithNamesAndItsOwnKey() throws {
        let authority = try TestCertificateAuthority()
        let (chain, key) = try authority.issue(["*.apps.test"])
        let (_, otherKey) = try authority.issue(["*.apps.test"])
        #expect(throws: EdgeTLSError.self) { _ = try EdgeCertificate(chainPEM: chain, keyPEM: otherKey) }
        #expect(throws: EdgeTLSError.self) { _ = try EdgeCertificate(chainPEM: "", keyPEM: key) }
        #expect(throws: EdgeTLSError.self) { _ = try EdgeCertificate(chainPEM: "garbage", keyPEM: key) }
        do {
            _ = try EdgeCertificate(
                chainPEM: chain, keyPEM: "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")
            Issue.record("a broken key was accepted")
        } catch {
            // The message says what is wrong without repeating the key's bytes.
            #expect(!"\(error)".contains("c2VjcmV0"))
        }
    }

    @Test func aHandshakeThatTakesTooLongIsClosedAndOneThatCompletesIsLeftAlone() throws {
        let loop = EmbeddedEventLoop()
        var reported: [TLSHandshakeFailure] = []
        let slow = EmbeddedChannel(
            handler: TLSHandshakeGuard(timeout: .seconds(10)) { reported.append($0) }, loop: loop)
        try slow.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        loop.advanceTime(by: .seconds(9))
        #expect(slow.isActive)
        loop.advanceTime(by: .seconds(1))
        #expect(!slow.isActive)
        #expect(reported == [.timeout])

        let done = EmbeddedChannel(
            handler: TLSHandshakeGuard(timeout: .seconds(10)) { reported.append($0) }, loop: loop)
        try done.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        done.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: "http/1.1"))
        loop.advanceTime(by: .seconds(60))
        #expect(done.isActive)
        #expect(reported == [.timeout])
        #expect(throws: Never.self) { _ = try done.finish() }
    }
}
