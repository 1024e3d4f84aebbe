import Model
import Storage

/// Where a request's `Host` header sends it, as `docs/site-rules.md` defines:
/// `<slug>.<apps-domain>` is a site's active build, `<n>--<slug>.<apps-domain>`
/// is build `n` of that site (its preview URL), anything else is no site.
public enum HostRoute: Sendable, Hashable {
    /// The active build of the site with this slug.
    case site(slug: String)
    /// Build number `build` of the site with this slug.
    case preview(slug: String, build: Int)
    /// A well-formed host that names no site: the apex, a deeper subdomain,
    /// another domain or an IP literal. Answered with the 404 page.
    case noSite
    /// A Host value that is not a valid host name at all. Answered with 400.
    case invalid

    /// Routes a raw `Host` header value for sites under `appsDomain`.
    ///
    /// Matching is case-insensitive and ignores a port and one trailing dot.
    /// `/`, `\`, control characters, spaces and non-ASCII bytes make the
    /// value invalid.
    /// - Parameter appsDomain: lower-case, without a leading or trailing dot.
    public init(host raw: String, appsDomain: String) {
        guard let host = HostRoute.normalizedHost(raw) else {
            self = .invalid
            return
        }
        // `<label>.<appsDomain>`, compared byte by byte.
        let hostBytes = host.utf8
        let domainBytes = appsDomain.utf8
        let labelCount = hostBytes.count - domainBytes.count - 1
        guard labelCount > 0, hostBytes.suffix(domainBytes.count).elementsEqual(domainBytes),
            hostBytes[hostBytes.index(hostBytes.startIndex, offsetBy: labelCount)] == UInt8(ascii: ".")
        else {
            self = .noSite
            return
        }
        let labelBytes = Array(hostBytes.prefix(labelCount))
        // One label only: deeper subdomains are not sites.
        guard !labelBytes.contains(UInt8(ascii: ".")) else {
            self = .noSite
            return
        }
        if let dash = labelBytes.indices.dropLast().first(where: {
            labelBytes[$0] == UInt8(ascii: "-") && labelBytes[$0 + 1] == UInt8(ascii: "-")
        }) {
            let number = String(decoding: labelBytes[..<dash], as: UTF8.self)
            let slug = String(decoding: labelBytes[(dash + 2)...], as: UTF8.self)
            guard !number.isEmpty, number.utf8.count <= 9, number.utf8.allSatisfy(isDigit),
                let build = Int(number), build > 0, SlugRules.isValid(slug)
            else {
                self = .noSite
                return
            }
            self = .preview(slug: slug, build: build)
        } else {
            let slug = String(decoding: labelBytes, as: UTF8.self)
            self = SlugRules.isValid(slug) ? .site(slug: slug) : .noSite
        }
    }

    /// Lower-cases the host, strips the port and a trailing dot, and checks
    /// that only host-name characters remain. Nil for anything malformed.
    static func normalizedHost(_ raw: String) -> String? {
        var bytes = Array(raw.utf8)
        guard !bytes.isEmpty, bytes.count <= 255 else { return nil }
        if bytes.first == UInt8(ascii: "[") {
            // An IPv6 literal: well-formed hosts, but never a site.
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let rest = bytes[(close + 1)...]
            guard rest.isEmpty || (rest.first == UInt8(ascii: ":") && rest.dropFirst().allSatisfy(isDigit)) else {
                return nil
            }
            return "[ipv6]"
        }
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            let port = bytes[(colon + 1)...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(isDigit) else { return nil }
            bytes.removeSubrange(colon...)
        }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        guard !bytes.isEmpty else { return nil }
        for index in bytes.indices {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): bytes[index] = byte + 32
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                continue
            default: return nil
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
