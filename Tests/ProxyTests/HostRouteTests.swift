import Testing

@testable import Proxy

@Suite struct HostRouteTests {
    let domain = "apps.example.com"

    @Test func slugSubdomainRoutesToTheSite() {
        #expect(HostRoute(host: "blog.apps.example.com", appsDomain: domain) == .site(slug: "blog"))
    }

    @Test func caseTrailingDotAndPortAreIgnored() {
        #expect(HostRoute(host: "BLOG.Apps.Example.COM", appsDomain: domain) == .site(slug: "blog"))
        #expect(HostRoute(host: "blog.apps.example.com.", appsDomain: domain) == .site(slug: "blog"))
        #expect(HostRoute(host: "blog.apps.example.com:8080", appsDomain: domain) == .site(slug: "blog"))
        #expect(HostRoute(host: "blog.apps.example.com.:443", appsDomain: domain) == .site(slug: "blog"))
    }

    @Test func previewHostRoutesToOneBuild() {
        #expect(HostRoute(host: "12--blog.apps.example.com", appsDomain: domain) == .preview(slug: "blog", build: 12))
    }

    @Test func malformedPreviewHostsAreNoSite() {
        for host in [
            "--blog.apps.example.com", "x--blog.apps.example.com", "0--blog.apps.example.com",
            "1--.apps.example.com", "1---blog.apps.example.com", "9999999999--blog.apps.example.com",
        ] {
            #expect(HostRoute(host: host, appsDomain: domain) == .noSite, "\(host)")
        }
    }

    @Test func apexNestedForeignAndIPHostsAreNoSite() {
        for host in [
            "apps.example.com", "a.b.apps.example.com", "blog.example.org", "127.0.0.1", "[::1]:8080",
            "xapps.example.com", "admin.apps.example.com", "-blog.apps.example.com",
        ] {
            #expect(HostRoute(host: host, appsDomain: domain) == .noSite, "\(host)")
        }
    }

    @Test func malformedHostsAreInvalid() {
        for host in [
            "", "blog/x.apps.example.com", "blog\\x.apps.example.com", "bl og.apps.example.com",
            "blög.apps.example.com", "blog.apps.example.com:", "blog.apps.example.com:80x", "[::1",
            "blog\u{0}.apps.example.com", String(repeating: "a", count: 300),
        ] {
            #expect(HostRoute(host: host, appsDomain: domain) == .invalid, "\(host)")
        }
    }

    @Test func localhostIsTheDefaultShape() {
        #expect(HostRoute(host: "demo.localhost:8080", appsDomain: "localhost") == .site(slug: "demo"))
        #expect(HostRoute(host: "localhost:8080", appsDomain: "localhost") == .noSite)
    }
}
