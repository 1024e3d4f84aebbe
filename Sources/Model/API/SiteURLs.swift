/// Where sites answer on the public listener, for the URLs the admin API and
/// build notifications show.
public struct SiteURLs: Sendable, Hashable {
    /// `http` or `https`.
    public var scheme: String
    /// Sites answer at `<slug>.<appsDomain>`.
    public var appsDomain: String
    /// The public port; nil or the scheme's default port leaves it out of URLs.
    public var port: Int?

    public init(scheme: String = "http", appsDomain: String, port: Int?) {
        self.scheme = scheme
        self.appsDomain = appsDomain
        self.port = port
    }

    /// The URL the site's active build answers at: `http://<slug>.<domain>:<port>/`.
    public func siteURL(slug: String) -> String {
        url(host: "\(slug).\(appsDomain)")
    }

    /// The URL of one build of the site: `http://<number>--<slug>.<domain>:<port>/`.
    public func previewURL(slug: String, number: Int) -> String {
        url(host: "\(number)--\(slug).\(appsDomain)")
    }

    private func url(host: String) -> String {
        let scheme = scheme.lowercased()
        let defaultPort = scheme == "https" ? 443 : 80
        if let port, port != defaultPort {
            return "\(scheme)://\(host):\(port)/"
        }
        return "\(scheme)://\(host)/"
    }
}
