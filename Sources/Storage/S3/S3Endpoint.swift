import Foundation

/// The store's base URL, parsed once: scheme, host and port, plus how
/// requests for a bucket and key are addressed.
struct S3Endpoint: Sendable, Hashable {
    /// `http` or `https`.
    let scheme: String
    /// Lower-cased host name or IP address, without IPv6 brackets.
    let host: String
    /// The port when it is not the scheme's default.
    let port: Int?

    var isTLS: Bool { scheme == "https" }

    /// Whether `host` is an IPv4 or IPv6 literal.
    var isIPAddress: Bool {
        host.contains(":")
            || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    /// `scheme://host[:port]`, for messages and logs.
    var origin: String { "\(scheme)://\(authority(bucket: nil))" }

    /// Parses `http(s)://host[:port][/]`.
    /// - Throws: `ObjectStoreError` (`invalidConfiguration`) for anything else.
    init(parsing text: String) throws {
        func invalid(_ reason: String) -> ObjectStoreError {
            ObjectStoreError(
                code: .invalidConfiguration,
                message:
                    "S3 endpoint '\(text.prefix(200))' \(reason): use http(s)://host[:port], e.g. https://<account>.r2.cloudflarestorage.com (SLIPWAY_S3_ENDPOINT)"
            )
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw invalid("is not a URL")
        }
        guard scheme == "http" || scheme == "https" else { throw invalid("must start with http:// or https://") }
        guard var host = components.host, !host.isEmpty else { throw invalid("has no host") }
        guard components.user == nil, components.password == nil else {
            throw invalid("must not carry credentials; set the access key settings instead")
        }
        guard components.path.isEmpty || components.path == "/", components.query == nil, components.fragment == nil
        else {
            throw invalid("must not have a path or query; put the bucket in SLIPWAY_S3_BUCKET")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.scheme = scheme
        self.host = host.lowercased()
        let defaultPort = scheme == "https" ? 443 : 80
        self.port = components.port.flatMap { $0 == defaultPort ? nil : $0 }
    }

    /// `host[:port]` (with the bucket in front for virtual-hosted requests):
    /// the `Host` header and the URL authority.
    func authority(bucket: String?) -> String {
        var name = host.contains(":") ? "[\(host)]" : host
        if let bucket { name = "\(bucket).\(name)" }
        if let port { name += ":\(port)" }
        return name
    }

    /// Where a request for `key` (nil: the bucket itself) goes.
    func target(bucket: String, key: String?, addressing: S3Configuration.Addressing) -> S3RequestTarget {
        switch addressing {
        case .path:
            let path = key.map { "/\(bucket)/\(SigV4Signer.encodePath($0))" } ?? "/\(bucket)"
            return S3RequestTarget(scheme: scheme, host: authority(bucket: nil), encodedPath: path)
        case .virtualHosted:
            let path = "/" + (key.map(SigV4Signer.encodePath) ?? "")
            return S3RequestTarget(scheme: scheme, host: authority(bucket: bucket), encodedPath: path)
        }
    }
}

/// The host and encoded path of one request.
struct S3RequestTarget: Sendable, Hashable {
    let scheme: String
    /// `Host` header value.
    let host: String
    /// Path as sent and as signed.
    let encodedPath: String

    /// The full URL with `canonicalQuery` (already encoded) appended.
    func url(canonicalQuery: String) -> String {
        canonicalQuery.isEmpty
            ? "\(scheme)://\(host)\(encodedPath)" : "\(scheme)://\(host)\(encodedPath)?\(canonicalQuery)"
    }
}
