import Model
import Testing

@Suite struct TrustedProxiesTests {
    let trusted = try! TrustedProxies(parsing: "10.0.0.0/8, 192.0.2.7 ,fd00::/8")

    @Test func addressesAndRanges() {
        #expect(trusted.contains(ipAddress: "10.1.2.3"))
        #expect(trusted.contains(ipAddress: "192.0.2.7"))
        #expect(!trusted.contains(ipAddress: "192.0.2.8"))
        #expect(trusted.contains(ipAddress: "fd00::1"))
        #expect(trusted.contains(ipAddress: "::ffff:10.0.0.1"))
        #expect(!trusted.contains(ipAddress: "fe80::1"))
        #expect(!trusted.contains(ipAddress: nil) && !trusted.contains(ipAddress: "-"))
        #expect(!TrustedProxies.none.contains(ipAddress: "10.0.0.1"))
    }

    @Test func forwardedForIsBelievedOnlyFromTrustedPeers() {
        // An untrusted peer: the header is ignored whatever it says.
        #expect(trusted.client(peer: "198.51.100.1", forwardedFor: ["1.2.3.4"]) == "198.51.100.1")
        // A trusted peer: the rightmost address that is not a trusted proxy.
        #expect(trusted.client(peer: "10.0.0.1", forwardedFor: ["203.0.113.9"]) == "203.0.113.9")
        #expect(trusted.client(peer: "10.0.0.1", forwardedFor: ["6.6.6.6, 203.0.113.9, 10.0.0.2"]) == "203.0.113.9")
        #expect(trusted.client(peer: "10.0.0.1", forwardedFor: ["6.6.6.6", "203.0.113.9"]) == "203.0.113.9")
        #expect(trusted.client(peer: "10.0.0.1", forwardedFor: ["[2001:db8::1]:443"]) == "2001:db8::1")
        #expect(trusted.client(peer: "10.0.0.1", forwardedFor: ["203.0.113.9:1234"]) == "203.0.113.9")
        // Nothing readable: the nearest readable hop, else the peer.
        #expect(trusted.client(peer: "10.0.0.1", forwardedFor: ["unknown"]) == "10.0.0.1")
        #expect(trusted.client(peer: "10.0.0.1", forwardedFor: ["6.6.6.6, garbage, 10.0.0.3"]) == "10.0.0.3")
        #expect(trusted.client(peer: "10.0.0.1", forwardedFor: []) == "10.0.0.1")
    }

    @Test func forwardedProtoIsBelievedOnlyFromTrustedPeers() {
        #expect(!trusted.isSecure(peer: "198.51.100.1", connectionIsSecure: false, forwardedProto: ["https"]))
        #expect(trusted.isSecure(peer: "10.0.0.1", connectionIsSecure: false, forwardedProto: ["https"]))
        #expect(!trusted.isSecure(peer: "10.0.0.1", connectionIsSecure: true, forwardedProto: ["https, http"]))
        #expect(trusted.isSecure(peer: "10.0.0.1", connectionIsSecure: true, forwardedProto: ["bogus"]))
        #expect(!trusted.isSecure(peer: "10.0.0.1", connectionIsSecure: false, forwardedProto: []))
    }
}
