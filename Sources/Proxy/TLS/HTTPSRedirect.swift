import Model
import Synchronization

/// What the plain listener does for a host the HTTPS listener has a
/// certificate for (`SLIPWAY_HTTPS_REDIRECT`, on by default): a 308 to the
/// same URL over https, so a visitor who typed `http://` ends up on HTTPS
/// with the method and body kept. Hosts no certificate covers are served
/// over plain HTTP as before; the decision is made per host at every
/// request, so a certificate added for a host (a custom domain) switches
/// it without a restart.
final class HTTPSRedirect: Sendable {
    let certificates: EdgeCertificates
    /// Custom domains whose `httpsRedirect` is off stay on plain HTTP.
    let siteTable: SiteTable?
    /// The HTTPS port named in the `Location` (omitted when 443).
    private let port = Atomic<Int>(443)

    init(certificates: EdgeCertificates, siteTable: SiteTable? = nil) {
        self.certificates = certificates
        self.siteTable = siteTable
    }

    /// Sets the port the `Location` names: the HTTPS listener's.
    func listening(on port: Int) {
        self.port.store(port, ordering: .relaxed)
    }

    /// The `Location` for a plain request to `host` for `target`, when a
    /// certificate covers the host; nil to serve it over plain HTTP.
    func location(host: String, target: String) -> String? {
        guard let name = HostRoute.normalizedHost(host), name != "[ipv6]",
            certificates.certificate(forServerName: name) != nil,
            // Certificate authorities validate over plain HTTP.
            !target.hasPrefix(CustomDomainRoute.challengePrefix)
        else { return nil }
        if let siteTable, siteTable.hasDomains, siteTable.domain(host: name)?.httpsRedirect == false { return nil }
        let port = port.load(ordering: .relaxed)
        return "https://" + name + (port == 443 ? "" : ":\(port)") + target
    }
}
