import NIOCore
import Testing

@testable import DNS

/// Where the resolver's servers come from: resolv.conf text and the
/// comma-separated SLIPWAY_DNS_RESOLVERS form.
@Suite struct DNSConfigurationTests {
    typealias Configuration = DNSResolver.Configuration

    private func described(_ servers: [SocketAddress]) -> [String] { servers.map(DNSResolver.describe) }

    @Test func resolvConfNameserverLinesAreReadInOrder() {
        let text = """
            # written by the DHCP client
            search example.com
            nameserver 192.0.2.53
            nameserver   2001:db8::53   # the IPv6 one
            ; nameserver 192.0.2.99
            options ndots:1 timeout:2
            nameserver\t198.51.100.1
            nameserver resolver.example.com
            nameserver fe80::1%eth0
            nameserver
            """
        #expect(
            described(Configuration.parseResolvConf(text)) == ["192.0.2.53:53", "[2001:db8::53]:53", "198.51.100.1:53"])
    }

    @Test func systemFallsBackToLocalhostWithoutNameservers() throws {
        let configuration = try Configuration.system(path: "/nonexistent/resolv.conf")
        #expect(described(configuration.servers) == ["127.0.0.1:53"])
        #expect(configuration.attempts == 2)
        #expect(configuration.timeout == .seconds(2))
    }

    @Test func commaListTakesIPv4IPv6AndPorts() throws {
        let servers = try Configuration.parseServers("127.0.0.1:8053,[::1]:53, 192.0.2.1 ,[2001:db8::1],2001:db8::2")
        #expect(
            described(servers) == [
                "127.0.0.1:8053", "[::1]:53", "192.0.2.1:53", "[2001:db8::1]:53", "[2001:db8::2]:53",
            ])
        let configuration = try Configuration(servers: "127.0.0.1:8053", timeout: .milliseconds(250), attempts: 1)
        #expect(described(configuration.servers) == ["127.0.0.1:8053"])
    }

    @Test(arguments: [
        ("", "empty"),
        ("127.0.0.1,,::1", "empty entry"),
        ("dns.example.com", "not an IPv4 or IPv6 address"),
        ("127.0.0.1:0", "port \"0\""),
        ("127.0.0.1:65536", "port \"65536\""),
        ("127.0.0.1:dns", "port \"dns\""),
        ("[::1", "never closed"),
        ("[::1]53", "after \"]\""),
        ("[::1]:", "port \"\""),
        ("[]:53", "address is missing"),
        ("300.1.1.1", "not an IPv4 or IPv6 address"),
    ])
    func badServerListsSayWhatIsWrong(list: String, expected: String) async {
        await expectDNSError("invalid_configuration", containing: expected) { _ = try Configuration.parseServers(list) }
    }

    @Test func configurationRefusesNoServersAndNonPositiveLimits() throws {
        let server = try SocketAddress(ipAddress: "127.0.0.1", port: 53)
        #expect(throws: DNSError.self) { try Configuration(servers: []) }
        #expect(throws: DNSError.self) { try Configuration(servers: [server], timeout: .zero) }
        #expect(throws: DNSError.self) { try Configuration(servers: [server], attempts: 0) }
    }

    @Test func namesAreLowercasedWithoutTheTrailingDot() throws {
        #expect(try DNSName.normalize("_Slipway-Challenge.Example.COM.") == "_slipway-challenge.example.com")
        #expect(try DNSName.normalize("xn--bcher-kva.example") == "xn--bcher-kva.example")
        #expect(try DNSName.normalize("*.example.com") == "*.example.com")
    }

    @Test(arguments: [
        ("", "empty"),
        (".", "empty"),
        ("a..example.com", "empty label"),
        (".example.com", "empty label"),
        ("exa mple.com", "\" \""),
        ("bücher.example", "non-ASCII"),
        (String(repeating: "a", count: 64) + ".com", "longer than 63"),
        (Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: "."), "longer than 255"),
    ])
    func invalidNamesAreRefused(name: String, expected: String) async {
        await expectDNSError("invalid_name", containing: expected) { _ = try DNSName.normalize(name) }
    }

    @Test func durationsInMessagesAreShort() {
        #expect(DNSError.format(.seconds(2)) == "2s")
        #expect(DNSError.format(.milliseconds(1500)) == "1.5s")
        #expect(DNSError.format(.milliseconds(200)) == "200ms")
    }
}
