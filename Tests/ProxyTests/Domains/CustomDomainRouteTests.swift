import Foundation
import Model
import NIOCore
import NIOHTTP1
import Storage
import Testing

@testable import Proxy

/// What requests for the users' own host names get, by the domain's state:
/// challenge answers for any known domain, nothing until ownership is
/// proven, the primary host's redirect, and the deployment once active.
@Suite struct CustomDomainRouteTests {
    let table = SiteTable()
    let site: Site
    let now = Date(timeIntervalSince1970: 1_750_000_000)

    init() {
        site = Site(
            id: SiteID.generate(), slug: "blog", repoURL: "https://github.com/example/blog", branch: "main",
            rootDir: nil, installCommand: nil, buildCommand: nil, outputDir: nil, spa: .auto, env: [],
            activeBuildID: nil, createdAt: now, updatedAt: now)
        table.apply(.siteCreated(site))
    }

    func domain(_ hostname: String, _ status: DomainStatus, redirectTo: String? = nil) -> CustomDomain {
        CustomDomain(
            hostname: hostname, siteID: site.id, apex: false, redirectTo: redirectTo, verificationToken: "t",
            status: status, createdAt: now, updatedAt: now)
    }

    func request(_ target: String, host: String, method: HTTPMethod = .GET, secure: Bool = false) -> IncomingRequest {
        var request = IncomingRequest(
            method: method, target: target, host: host, headers: ["Host": host], version: .http1_1, isKeepAlive: true)
        request.isSecure = secure
        return request
    }

    func route(_ request: IncomingRequest, thumbprint: String? = "THUMB") -> CustomDomainRoute? {
        CustomDomainRoute.route(
            host: HostRoute.normalizedHost(request.host)!, request: request, table: table, acmeThumbprint: thumbprint)
    }

    @Test func challengesAreAnsweredStatelesslyForAnyKnownDomainWhateverItsState() {
        table.apply(.domainChanged(domain("app.example.com", .pending)))
        let answer = route(request("/.well-known/acme-challenge/Tok-en_123", host: "APP.example.com:5002"))
        guard case .answer(let status, let headers, let body) = answer else {
            Issue.record("no answer: \(String(describing: answer))")
            return
        }
        #expect(status == .ok && body == "Tok-en_123.THUMB")
        #expect(headers["Content-Type"] == ["text/plain"] && headers["Cache-Control"] == ["no-store"])
        // Malformed tokens, other methods, unknown hosts and no account: no answer.
        #expect(route(request("/.well-known/acme-challenge/bad%2Ftoken", host: "app.example.com")) == nil)
        #expect(route(request("/.well-known/acme-challenge/", host: "app.example.com")) == nil)
        #expect(route(request("/.well-known/acme-challenge/tok", host: "app.example.com", method: .POST)) == nil)
        #expect(route(request("/.well-known/acme-challenge/tok", host: "other.example.com")) == nil)
        #expect(route(request("/.well-known/acme-challenge/tok", host: "app.example.com"), thumbprint: nil) == nil)
    }

    @Test func aDomainRoutesOnlyOnceOwnershipIsProvenAndUntilRemoved() {
        table.apply(.domainChanged(domain("app.example.com", .pending)))
        #expect(route(request("/", host: "app.example.com")) == nil, "pending serves nothing")
        table.apply(.domainChanged(domain("app.example.com", .failed)))
        #expect(route(request("/", host: "app.example.com")) == nil, "failed serves nothing")
        table.apply(.domainChanged(domain("app.example.com", .active)))
        #expect(route(request("/docs?x=1", host: "app.example.com")) == .site(slug: "blog"))
        table.apply(.domainChanged(domain("app.example.com", .moved)))
        #expect(route(request("/", host: "app.example.com")) == .site(slug: "blog"), "a moved domain still answers")
        table.apply(.domainRemoved(domain("app.example.com", .moved)))
        #expect(route(request("/", host: "app.example.com")) == nil)
        #expect(!table.hasDomains)
        table.apply(.domainChanged(domain("app.example.com", .active)))
        table.apply(.siteDeleted(site))
        #expect(table.domain(host: "app.example.com") == nil, "a deleted site's domains go with it")
    }

    @Test func theHalfOfAPairThatIsNotPrimaryRedirectsKeepingSchemePortPathAndQuery() {
        table.apply(.domainChanged(domain("example.com", .active, redirectTo: "www.example.com")))
        let plain = route(request("/a/b?c=d", host: "example.com:8080"))
        guard case .answer(let status, let headers, _) = plain else {
            Issue.record("no redirect")
            return
        }
        #expect(status == .permanentRedirect)
        #expect(headers["Location"] == ["http://www.example.com:8080/a/b?c=d"])
        guard case .answer(_, let secure, _) = route(request("/", host: "example.com", secure: true)) else {
            Issue.record("no redirect")
            return
        }
        #expect(secure["Location"] == ["https://www.example.com/"])
    }

    @Test func theSitesPipelineServesAnActiveDomainAsItsDeployment() throws {
        let pipeline = ServingPipeline(
            appsDomain: "apps.test", siteTable: table, pages: try SlipwayPages(directory: TestProxy.pagesDirectory),
            maxCachedBodyBytes: 1 << 20, acmeThumbprint: "THUMB")
        table.apply(.domainChanged(domain("app.example.com", .active)))
        guard case .reply(.immediate(let status, _, _)) = pipeline.route(request("/", host: "app.example.com")) else {
            Issue.record("the site's page was expected (it has no build yet)")
            return
        }
        #expect(status.code == 404 || status.code == 200 || status.code == 503)
        guard
            case .reply(.immediate(let challenge, _, let body)) = pipeline.route(
                request("/.well-known/acme-challenge/abc", host: "app.example.com"))
        else {
            Issue.record("no challenge answer")
            return
        }
        #expect(challenge == .ok && body.map { String(buffer: $0) } == "abc.THUMB")
        guard case .reply(.immediate(let unknown, _, _)) = pipeline.route(request("/", host: "nobody.example.com"))
        else {
            Issue.record("no page")
            return
        }
        #expect(unknown == .notFound)
    }
}
