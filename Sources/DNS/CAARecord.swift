/// Certification Authority Authorization (RFC 8659): which certificate
/// authorities a domain's owner allows to issue for it.
///
/// Slipway reads CAA to explain why a certificate authority refused to issue
/// for a custom domain ("CAA at example.com allows only digicert.com"), and
/// to say so before asking. ``DNSResolver/relevantCAA(for:)`` finds the
/// relevant record set; ``caaPermits(records:issuerDomain:wildcard:)``
/// decides, without I/O, whether it allows a given authority.
///
/// This is one CAA record (RFC 8659 §4.1).
public struct CAARecord: Hashable, Sendable {
    /// The flags byte; bit 128 is Issuer Critical.
    public let flags: UInt8
    /// The property tag as sent (`issue`, `issuewild`, `iodef`, ...); compare
    /// case-insensitively.
    public let tag: String
    /// The property value as sent.
    public let value: String

    public init(flags: UInt8, tag: String, value: String) {
        self.flags = flags
        self.tag = tag
        self.value = value
    }

    /// Whether the Issuer Critical flag is set (RFC 8659 §4.1): a CA that
    /// does not understand the tag must not issue.
    public var isCritical: Bool { flags & 0x80 != 0 }

    /// For `issue` and `issuewild`: the issuer domain name the value
    /// names, lowercased and without a trailing dot; "" for a value naming
    /// no one (`;`, RFC 8659 §4.2); nil for other tags or a value that is not
    /// an issuer domain name followed by parameters.
    public var issuerDomain: String? {
        let tag = tag.lowercased()
        guard tag == "issue" || tag == "issuewild" else { return nil }
        let domain = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var trimmed = domain.trimmingSpacesAndTabs()
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        if trimmed.isEmpty { return "" }
        return (try? DNSName.normalize(String(trimmed))) == nil ? nil : trimmed.lowercased()
    }

    /// The property tags defined by RFC 8659 and the CA/Browser Forum, which
    /// a critical flag does not make a CA refuse.
    static let knownTags: Set<String> = [
        "issue", "issuewild", "iodef", "issuemail", "issuevmc", "contactemail", "contactphone",
    ]
}

/// The CAA record set that applies to a name, and where it was found.
public struct CAAPolicy: Hashable, Sendable {
    /// The name that holds the records: the hostname or one of its parents.
    public let domain: String
    /// The records (never empty).
    public let records: [CAARecord]

    public init(domain: String, records: [CAARecord]) {
        self.domain = domain
        self.records = records
    }
}

/// Whether the relevant CAA record set `records` allows the certificate
/// authority `issuerDomain` (such as `letsencrypt.org`) to issue for a name
/// (RFC 8659 §4.2, §4.3):
/// - no records: anyone may issue;
/// - a critical record with a tag outside the known ones: nobody may
///   (a CA must refuse what it does not understand);
/// - otherwise, when there is no `issue` record, anyone may; when there are,
///   only the issuers they name (`issue ";"` names nobody). For a wildcard
///   name, `issuewild` records take precedence when present.
/// Issuer domains compare case-insensitively, ignoring a trailing dot;
/// parameters after `;` (such as `accounturi`) are not checked.
public func caaPermits(records: [CAARecord], issuerDomain: String, wildcard: Bool = false) -> Bool {
    if records.contains(where: { $0.isCritical && !CAARecord.knownTags.contains($0.tag.lowercased()) }) {
        return false
    }
    let issue = records.filter { $0.tag.lowercased() == "issue" }
    let issueWild = records.filter { $0.tag.lowercased() == "issuewild" }
    let applicable = wildcard && !issueWild.isEmpty ? issueWild : issue
    if applicable.isEmpty { return true }
    var wanted = Substring(issuerDomain.lowercased())
    if wanted.hasSuffix(".") { wanted = wanted.dropLast() }
    guard !wanted.isEmpty else { return false }
    return applicable.contains { $0.issuerDomain == String(wanted) }
}

extension Substring {
    func trimmingSpacesAndTabs() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
