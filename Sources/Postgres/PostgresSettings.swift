import Foundation
import NIOCore
public import NIOSSL
public import PostgresNIO

/// Where a fleet's PostgreSQL is and how to reach it, read from a
/// `postgres://` or `postgresql://` URL:
///
///     postgres://user:password@host:5432/database?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem
///
/// Query parameters, as libpq reads them: `sslmode` (`disable`, `allow`,
/// `prefer` — the default —, `require`, `verify-ca`, `verify-full`),
/// `sslrootcert` (a PEM file of the certificates to trust; the system's
/// otherwise), `application_name`, and `search_path` (`options=-c
/// search_path=…` is not read): the schema Slipway's tables live in,
/// `public` by default. Unknown parameters are refused, so a typo does not
/// quietly turn TLS off.
public struct PostgresSettings: Sendable, CustomStringConvertible {
    /// How the connection uses TLS (libpq's `sslmode`).
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable
        /// Plain, with TLS only when the server insists: treated as `prefer`.
        case allow
        case prefer
        /// Encrypted; the certificate is verified only when `sslrootcert` is given.
        case require
        /// Encrypted, the certificate chain verified, not the host name.
        case verifyCA = "verify-ca"
        /// Encrypted, the chain and the host name verified.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode
    public var rootCertificateFile: String?
    /// The schema Slipway's tables live in.
    public var schema: String
    public var applicationName: String

    /// What is wrong with a database URL, said so that a person can fix it.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Reads `url`.
    /// - Throws: ``Problem`` naming what is wrong; the password never appears in it.
    public init(url text: String) throws(Problem) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw Problem("is not a URL; use postgres://user:password@host:5432/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw Problem("starts with '\(scheme)://'; a PostgreSQL URL starts with postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw Problem("names no host; use postgres://user:password@host:5432/database")
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw Problem("has port \(port); use 1 to 65535") }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw Problem("names no user; use postgres://user:password@host:5432/database")
        }
        self.username = user
        self.password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let path = (components.percentEncodedPath.removingPercentEncoding ?? "").drop { $0 == "/" }
        guard !path.isEmpty, !path.contains("/") else {
            throw Problem("names no database; use postgres://user:password@host:5432/database")
        }
        self.database = String(path)
        var mode = TLSMode.prefer
        var rootCertificate: String?
        var schema = "public"
        var applicationName = "slipway"
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let parsed = TLSMode(rawValue: value) else {
                    throw Problem(
                        "has sslmode=\(value); use one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                mode = parsed
            case "sslrootcert":
                guard !value.isEmpty else { throw Problem("has an empty sslrootcert; name a PEM file") }
                rootCertificate = value
            case "search_path":
                guard Self.isIdentifier(value) else {
                    throw Problem(
                        "has search_path=\(value.prefix(80)); name one schema of lower-case letters, digits and _ (up to 40)"
                    )
                }
                schema = value
            case "application_name":
                applicationName = value
            default:
                throw Problem(
                    "has the parameter '\(item.name.prefix(40))', which Slipway does not read; it reads sslmode, sslrootcert, search_path and application_name"
                )
            }
        }
        self.tlsMode = mode
        self.rootCertificateFile = rootCertificate
        self.schema = schema
        self.applicationName = applicationName
    }

    /// A schema name Slipway accepts: it is spliced into SQL and channel names.
    public static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) || first == 95,
            name.utf8.count <= 40
        else { return false }
        return name.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == 95
        }
    }

    /// The URL without its password, for logs and messages.
    public var description: String {
        let user = password == nil ? username : "\(username):***"
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)?sslmode=\(tlsMode.rawValue)"
            + (schema == "public" ? "" : "&search_path=\(schema)")
    }

    /// The NOTIFY channel catalog events travel on, one per schema so that
    /// two installations (or two tests) in one database never hear each other.
    public var eventsChannel: String { "slipway_events_\(schema)" }
    /// The NOTIFY channel that says a build's log has new lines.
    public var logsChannel: String { "slipway_logs_\(schema)" }

    /// The TLS settings `sslmode` and `sslrootcert` ask for; nil for `disable`.
    /// - Throws: ``Problem`` when the root certificate file cannot be read.
    public func tlsConfiguration() throws(Problem) -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        switch tlsMode {
        case .disable: return nil
        case .allow, .prefer, .require:
            tls.certificateVerification = rootCertificateFile == nil ? .none : .noHostnameVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let rootCertificateFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificateFile))
            } catch {
                throw Problem(
                    "has sslrootcert=\(rootCertificateFile), which cannot be read as PEM certificates: \(error)")
            }
        }
        return tls
    }

    /// Settings for a pool of `maximumConnections`.
    public func clientConfiguration(maximumConnections: Int = 20) throws(Problem) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch (tlsMode, try tlsConfiguration()) {
        case (.disable, _), (_, nil): tls = .disable
        case (.allow, let configuration?), (.prefer, let configuration?): tls = .prefer(configuration)
        case (_, let configuration?): tls = .require(configuration)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = max(1, maximumConnections)
        configuration.options.minimumConnections = 0
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }

    /// Settings for one connection of its own (the event listener's).
    public func connectionConfiguration() throws(Problem) -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        if let configuration = try tlsConfiguration() {
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: configuration)
            } catch {
                throw Problem("cannot set up TLS for PostgreSQL: \(error)")
            }
            tls = tlsMode == .allow || tlsMode == .prefer ? .prefer(context) : .require(context)
        } else {
            tls = .disable
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }

    private var startupParameters: [(String, String)] {
        [("search_path", schema), ("application_name", applicationName), ("TimeZone", "UTC")]
    }
}
