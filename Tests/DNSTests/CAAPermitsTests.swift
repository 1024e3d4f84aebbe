import Testing

@testable import DNS

/// Whether a CAA record set allows a certificate authority (RFC 8659).
@Suite struct CAAPermitsTests {
    private func issue(_ value: String, flags: UInt8 = 0) -> CAARecord {
        CAARecord(flags: flags, tag: "issue", value: value)
    }

    @Test func noRecordsAllowEveryone() {
        #expect(caaPermits(records: [], issuerDomain: "letsencrypt.org"))
    }

    @Test func issueRecordsAllowOnlyTheIssuersTheyName() {
        let records = [issue("letsencrypt.org"), issue("digicert.com; cansignhttpexchanges=yes")]
        #expect(caaPermits(records: records, issuerDomain: "letsencrypt.org"))
        #expect(caaPermits(records: records, issuerDomain: "DigiCert.com."))
        #expect(!caaPermits(records: records, issuerDomain: "sectigo.com"))
        #expect(
            caaPermits(records: [issue("  LetsEncrypt.org ; accounturi=https://x/1")], issuerDomain: "letsencrypt.org"))
    }

    @Test func anIssueValueOfSemicolonAllowsNobody() {
        #expect(!caaPermits(records: [issue(";")], issuerDomain: "letsencrypt.org"))
        #expect(issue(";").issuerDomain == "")
    }

    @Test func recordsWithoutIssueAllowEveryone() {
        let records = [CAARecord(flags: 0, tag: "iodef", value: "mailto:security@example.com")]
        #expect(caaPermits(records: records, issuerDomain: "letsencrypt.org"))
    }

    @Test func aCriticalUnknownTagAllowsNobody() {
        let records = [issue("letsencrypt.org"), CAARecord(flags: 128, tag: "futuretag", value: "x")]
        #expect(!caaPermits(records: records, issuerDomain: "letsencrypt.org"))
        // Not critical: ignored.
        let relaxed = [issue("letsencrypt.org"), CAARecord(flags: 0, tag: "futuretag", value: "x")]
        #expect(caaPermits(records: relaxed, issuerDomain: "letsencrypt.org"))
        // Critical but known: fine.
        #expect(caaPermits(records: [issue("letsencrypt.org", flags: 128)], issuerDomain: "letsencrypt.org"))
    }

    @Test func issuewildGovernsWildcardNamesWhenPresent() {
        let records = [issue("letsencrypt.org"), CAARecord(flags: 0, tag: "issuewild", value: ";")]
        #expect(caaPermits(records: records, issuerDomain: "letsencrypt.org"))
        #expect(!caaPermits(records: records, issuerDomain: "letsencrypt.org", wildcard: true))
        #expect(caaPermits(records: [issue("letsencrypt.org")], issuerDomain: "letsencrypt.org", wildcard: true))
    }

    @Test func tagsCompareCaseInsensitively() {
        let records = [CAARecord(flags: 0, tag: "ISSUE", value: "digicert.com")]
        #expect(!caaPermits(records: records, issuerDomain: "letsencrypt.org"))
    }
}
