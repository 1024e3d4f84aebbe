import Foundation

/// The rules every custom domain follows, wherever it is added: which host
/// names are accepted, which are a zone apex, the ownership record, and the
/// DNS records a person creates.
public enum DomainRules {
    /// The longest host name DNS carries, in bytes (without the trailing dot).
    public static let maxHostnameLength = 253
    /// Domains one deployment may have unless configured otherwise
    /// (`SLIPWAY_MAX_DOMAINS_PER_DEPLOYMENT`); an apex/`www` pair counts two.
    public static let defaultLimitPerDeployment = 20
    /// The label in front of a host name whose TXT record proves ownership.
    public static let ownershipLabel = "_slipway-challenge"

    /// Second-level public suffixes under which a three-label name is still a
    /// zone apex (`example.co.uk`). Deeper or rarer registries: the person
    /// adding the domain says `apex: true`.
    static let secondLevelSuffixes: Set<String> = [
        "co.uk", "org.uk", "me.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "net.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "net.nz",
        "co.jp", "ne.jp", "or.jp", "ac.jp", "co.kr", "or.kr", "co.in", "net.in", "org.in", "firm.in",
        "com.br", "net.br", "org.br", "com.mx", "com.ar", "com.co", "com.tr", "com.cn", "net.cn", "org.cn",
        "com.hk", "com.sg", "com.tw", "com.my", "co.za", "co.il", "co.id", "com.pl", "com.es", "com.ua",
    ]

    /// The host name as stored: lower-case, without a trailing dot.
    /// - Throws: ``CatalogError`` (`invalid_input`, HTTP 422) saying what is
    ///   wrong: not ASCII (give the `xn--` form), an IP address, a wildcard,
    ///   the apps domain or a name under it, a bad label, over 253 bytes.
    public static func normalized(_ raw: String, appsDomain: String) throws -> String {
        var host = raw.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        let shown = String(raw.prefix(80))
        func refuse(_ why: String) -> CatalogError { CatalogError.invalidInput("'\(shown)' \(why)") }
        guard !host.isEmpty else {
            throw CatalogError.invalidInput("the host name is empty; give one like www.example.com")
        }
        guard host.unicodeScalars.allSatisfy(\.isASCII) else {
            throw refuse("is not ASCII; give its punycode form (xn--…), as your registrar shows it")
        }
        guard host.utf8.count <= maxHostnameLength else {
            throw refuse("is longer than \(maxHostnameLength) bytes, the most a DNS name may have")
        }
        if host.contains("*") { throw refuse("is a wildcard; add each host name on its own") }
        if host.contains("/") || host.contains("@") || host.contains(" ") {
            throw refuse("is not a host name; give the name alone, like www.example.com (no scheme, path or port)")
        }
        if host.contains(":") || host.hasPrefix("[") { throw refuse("is an IP address; custom domains are DNS names") }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { throw refuse("is a single label; give a full name like www.example.com") }
        for label in labels {
            guard !label.isEmpty else { throw refuse("has an empty label (two dots in a row)") }
            guard label.utf8.count <= 63 else { throw refuse("has a label longer than 63 bytes") }
            guard label.utf8.allSatisfy({ isLowerAlnum($0) || $0 == UInt8(ascii: "-") }) else {
                throw refuse("may only hold letters a-z, digits, '-' and dots")
            }
            guard label.first != "-", label.last != "-" else {
                throw refuse("has a label that starts or ends with '-'")
            }
        }
        if labels.allSatisfy({ $0.utf8.allSatisfy(isDigit) }) {
            throw refuse("is an IP address; custom domains are DNS names")
        }
        if labels.last!.utf8.allSatisfy(isDigit) {
            throw refuse("ends in a numeric label, which no top-level domain is")
        }
        let apps = appsDomain.lowercased()
        if !apps.isEmpty, host == apps || host.hasSuffix("." + apps) {
            throw refuse("is Slipway's apps domain or a name under it; those are deployments' own hosts already")
        }
        if host == "localhost" || host.hasSuffix(".localhost") {
            throw refuse("is a loopback name; give a name others can resolve")
        }
        return host
    }

    /// Whether `hostname` (normalized) is a zone apex: two labels, or three
    /// under a known second-level suffix (`example.co.uk`).
    public static func isApex(_ hostname: String) -> Bool {
        let labels = hostname.split(separator: ".")
        if labels.count == 2 { return true }
        return labels.count == 3 && secondLevelSuffixes.contains(labels.suffix(2).joined(separator: "."))
    }

    /// The other half of an apex/`www` pair: `www.<apex>` for an apex,
    /// the apex for `www.<apex>`; nil for other names.
    public static func pairedHost(of hostname: String, apex: Bool) -> String? {
        if apex { return "www." + hostname }
        guard hostname.hasPrefix("www.") else { return nil }
        let rest = String(hostname.dropFirst(4))
        return isApex(rest) ? rest : nil
    }

    /// Whether `text` is an IPv4 or IPv6 address (without brackets or port).
    public static func isIPAddress(_ text: String) -> Bool { TrustedProxies.bytes(text) != nil }

    /// The TXT record name that proves ownership of `hostname`.
    public static func ownershipRecordName(for hostname: String) -> String { "\(ownershipLabel).\(hostname)" }

    /// The TXT record's value for a domain's token.
    public static func ownershipRecordValue(token: String) -> String { "slipway-verify=\(token)" }

    /// A new verification token: 128 random bits, base32 (lower-case).
    public static func generateToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
        return String(decoding: (0..<26).map { _ in alphabet[Int(generator.next() % 32)] }, as: UTF8.self)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }
}

/// A DNS record a person creates for a custom domain, as the API, the CLI
/// and the dashboard show it.
public struct DomainDNSRecord: Sendable, Hashable, Codable {
    /// `TXT`, `CNAME`, `A`, `AAAA` or `ALIAS`.
    public var type: String
    public var name: String
    public var value: String
    /// Why the record is needed.
    public var purpose: String

    public init(type: String, name: String, value: String, purpose: String) {
        self.type = type
        self.name = name
        self.value = value
        self.purpose = purpose
    }
}

/// Where custom domains must point, an installation's setting: a host name
/// for CNAME records (`SLIPWAY_DOMAIN_TARGET`) and the addresses for apex
/// A/AAAA records (`SLIPWAY_DOMAIN_ADDRESSES`).
public struct DomainTarget: Sendable, Hashable {
    public var hostname: String?
    public var addresses: [String]

    public init(hostname: String?, addresses: [String]) {
        self.hostname = hostname
        self.addresses = addresses
    }

    /// The records `domain` needs: the ownership TXT record, then the
    /// routing records (CNAME for a subdomain; A/AAAA, or ALIAS to the
    /// target, for an apex).
    public func records(for domain: CustomDomain) -> [DomainDNSRecord] {
        var records = [
            DomainDNSRecord(
                type: "TXT", name: domain.ownershipRecordName,
                value: DomainRules.ownershipRecordValue(token: domain.verificationToken),
                purpose: "proves that you own the domain; keep it while the domain is in use")
        ]
        if domain.apex {
            for address in addresses {
                records.append(
                    DomainDNSRecord(
                        type: address.contains(":") ? "AAAA" : "A", name: domain.hostname, value: address,
                        purpose: "routes the apex to Slipway"))
            }
            if addresses.isEmpty, let hostname {
                records.append(
                    DomainDNSRecord(
                        type: "ALIAS", name: domain.hostname, value: hostname,
                        purpose:
                            "routes the apex to Slipway (ALIAS, ANAME or CNAME flattening, as your DNS host calls it)"
                    ))
            }
        } else if let hostname {
            records.append(
                DomainDNSRecord(
                    type: "CNAME", name: domain.hostname, value: hostname, purpose: "routes the name to Slipway"))
        } else {
            for address in addresses {
                records.append(
                    DomainDNSRecord(
                        type: address.contains(":") ? "AAAA" : "A", name: domain.hostname, value: address,
                        purpose: "routes the name to Slipway"))
            }
        }
        return records
    }
}
