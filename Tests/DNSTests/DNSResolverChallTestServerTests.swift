import Logging
import SlipwayTestSupport
import Testing

@testable import DNS

/// The resolver against a real DNS server: pebble-challtestsrv, the mock DNS
/// server Slipway's domain and certificate tests use, with records set
/// through its management API.
@Suite(.enabled(if: ChallTestServer.shouldRun, "needs pebble-challtestsrv: run scripts/test"))
struct DNSResolverChallTestServerTests {
    /// Runs `body` with a fresh server and a resolver pointed at it.
    private func withChallTestServer(_ body: (ChallTestServer, DNSResolver) async throws -> Void) async throws {
        let server = try await ChallTestServer.start()
        defer { server.stop() }
        let resolver = DNSResolver(
            configuration: try .init(servers: server.dnsAddress, timeout: .seconds(2), attempts: 1),
            logger: Logger(label: "slipway.dns.test"))
        try await body(server, resolver)
    }

    @Test func txtRecordsAppearWhenSetAndGoWhenCleared() async throws {
        try await withChallTestServer { server, resolver in
            let name = "_slipway-challenge.app.example.test"
            #expect(try await resolver.txt(name) == [])
            try await server.setTXT(name, "slipway-verify=0123456789abcdef")
            #expect(try await resolver.txt(name) == ["slipway-verify=0123456789abcdef"])
            #expect(
                try await resolver.txt("_Slipway-Challenge.App.Example.Test.") == ["slipway-verify=0123456789abcdef"])
            try await server.clearTXT(name)
            #expect(try await resolver.txt(name) == [])
        }
    }

    @Test func aNameWithoutRecordsAnswersTheDefaultIPv4Address() async throws {
        try await withChallTestServer { _, resolver in
            let addresses = try await resolver.addresses("anything.example.test")
            #expect(addresses.map(\.description) == ["127.0.0.1"])
        }
    }

    @Test func aAndAAAARecordsAreBothReturned() async throws {
        try await withChallTestServer { server, resolver in
            try await server.addA("dual.example.test", ["192.0.2.10", "192.0.2.11"])
            try await server.addAAAA("dual.example.test", ["2001:db8::10"])
            #expect(
                try await resolver.addresses("dual.example.test").map(\.description) == [
                    "192.0.2.10", "192.0.2.11", "2001:db8::10",
                ])
        }
    }

    @Test func cnameChainsAreFollowedToTheAddresses() async throws {
        try await withChallTestServer { server, resolver in
            try await server.setCNAME("www.customer.test", "edge.customer.test")
            try await server.setCNAME("edge.customer.test", "apps.slipway.test")
            try await server.addA("apps.slipway.test", ["192.0.2.80"])
            try await server.addAAAA("apps.slipway.test", ["2001:db8::80"])
            #expect(try await resolver.cname("www.customer.test") == "edge.customer.test")
            #expect(try await resolver.cname("apps.slipway.test") == nil)
            // challtestsrv follows one CNAME itself, then answers A queries
            // for a name without A records with its default 127.0.0.1, so
            // the IPv6 side shows the chain: www's AAAA answer stops at
            // edge, and the resolver asks again for edge.
            let addresses = try await resolver.addresses("www.customer.test")
            #expect(addresses.filter(\.isIPv6).map(\.description) == ["2001:db8::80"])
            let direct = try await resolver.addresses("edge.customer.test")
            #expect(direct.map(\.description) == ["192.0.2.80", "2001:db8::80"])
        }
    }

    @Test func caaRecordsAndTheRelevantSet() async throws {
        try await withChallTestServer { server, resolver in
            try await server.addCAA("customer.test", issuer: "letsencrypt.org")
            #expect(
                try await resolver.caa("customer.test") == [CAARecord(flags: 0, tag: "issue", value: "letsencrypt.org")]
            )
            let policy = try await resolver.relevantCAA(for: "shop.www.customer.test")
            #expect(policy?.domain == "customer.test")
            #expect(caaPermits(records: policy?.records ?? [], issuerDomain: "letsencrypt.org"))
            #expect(!caaPermits(records: policy?.records ?? [], issuerDomain: "pki.goog"))
            #expect(try await resolver.relevantCAA(for: "elsewhere.test") == nil)
        }
    }

    @Test func servfailIsAnErrorNamingTheServerAndTheName() async throws {
        try await withChallTestServer { server, resolver in
            try await server.setServfail("broken.example.test")
            let error = await dnsError { _ = try await resolver.txt("broken.example.test") }
            #expect(error?.label == "server_failure")
            #expect(
                error?.message.hasPrefix(
                    "the DNS server \(server.dnsAddress) answered SERVFAIL for broken.example.test") == true)
        }
    }
}
