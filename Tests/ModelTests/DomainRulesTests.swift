import Foundation
import Model
import Testing

/// Which host names custom domains accept, which are apexes, and the pairs.
@Suite struct DomainRulesTests {
    @Test func namesAreLowerCasedWithoutTheTrailingDot() throws {
        #expect(try DomainRules.normalized("WWW.Example.COM.", appsDomain: "apps.test") == "www.example.com")
        #expect(try DomainRules.normalized("xn--bcher-kva.example", appsDomain: "apps.test") == "xn--bcher-kva.example")
        #expect(try DomainRules.normalized("a-b.c-d.example.co.uk", appsDomain: "apps.test") == "a-b.c-d.example.co.uk")
        let longest =
            Array(repeating: String(repeating: "a", count: 63), count: 3).joined(separator: ".") + "."
            + String(repeating: "b", count: 61)
        #expect(longest.utf8.count == 253)
        #expect(try DomainRules.normalized(longest, appsDomain: "apps.test") == longest)
    }

    @Test(arguments: [
        "", "192.0.2.1", "10.0.0.1.", "::1", "[::1]", "*.example.com", "a..example.com", "example", "apps.test",
        "x.apps.test", "x.y.APPS.test", "localhost", "a.localhost", "ex ample.com", "example.com/path",
        "user@example.com",
        "example.123", "café.example", " example.com",
    ])
    func refused(_ name: String) {
        #expect(throws: CatalogError.self) { try DomainRules.normalized(name, appsDomain: "apps.test") }
    }

    @Test func apexesAndTheirPairs() {
        #expect(DomainRules.isApex("example.com") && DomainRules.isApex("example.co.uk"))
        #expect(!DomainRules.isApex("www.example.com") && !DomainRules.isApex("a.b.example.co.uk"))
        #expect(DomainRules.pairedHost(of: "example.com", apex: true) == "www.example.com")
        #expect(DomainRules.pairedHost(of: "www.example.co.uk", apex: false) == "example.co.uk")
        #expect(DomainRules.pairedHost(of: "docs.example.com", apex: false) == nil)
        #expect(DomainRules.pairedHost(of: "www.docs.example.com", apex: false) == nil)
    }

    @Test func tokensAreRandomAndRecordsNameTheApexOfAPair() {
        let tokens = Set((0..<100).map { _ in DomainRules.generateToken() })
        #expect(tokens.count == 100 && tokens.allSatisfy { $0.count == 26 })
        let now = Date()
        let www = CustomDomain(
            hostname: "www.example.com", siteID: SiteID.generate(), apex: false, pairedWith: "example.com",
            verificationToken: "tok", createdAt: now, updatedAt: now)
        #expect(www.ownershipRecordName == "_slipway-challenge.example.com")
        var single = www
        single.pairedWith = nil
        #expect(single.ownershipRecordName == "_slipway-challenge.www.example.com")
        let onlyName = DomainTarget(hostname: "edge.example.net", addresses: []).records(
            for: CustomDomain(
                hostname: "example.com", siteID: SiteID.generate(), apex: true, verificationToken: "tok",
                createdAt: now, updatedAt: now))
        #expect(onlyName.map(\.type) == ["TXT", "ALIAS"])
        #expect(onlyName[0].value == "slipway-verify=tok")
    }
}
