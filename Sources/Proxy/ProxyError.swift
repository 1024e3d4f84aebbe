/// Why the proxy could not start or could not answer a request from a site.
///
/// Messages say what failed and what to do; they never contain request text,
/// credentials or presigned URLs, so they are safe to log. `label` is short
/// and stable: use it as a metrics label.
public struct ProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: String, Sendable, Hashable {
        case invalidConfiguration = "invalid_configuration"
        case pagesUnavailable = "pages_unavailable"
        case bindFailed = "bind_failed"
        case catalogUnavailable = "catalog_unavailable"
        case notRunning = "not_running"
        case manifestUnusable = "manifest_unusable"
        case upstreamFailed = "upstream_failed"
        case upstreamTimeout = "upstream_timeout"
        case objectMismatch = "object_mismatch"
    }

    private let code: Code
    /// A sentence for operators: what failed and what to do.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A short, stable name of the failure kind (a metrics label).
    public var label: String { code.rawValue }

    /// Whether a manifest is missing or unusable for good (asking the store
    /// again gives the same answer), as opposed to a store that failed or
    /// did not answer in time.
    var isUnusableManifest: Bool { code == .manifestUnusable }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The HTTP status a client gets when this error ends its request:
    /// 504 for a store that did not answer in time, 502 for any other store
    /// or manifest failure, nil for errors that never reach a client.
    public var httpStatus: Int? {
        switch code {
        case .upstreamTimeout: 504
        case .manifestUnusable, .upstreamFailed, .objectMismatch: 502
        case .invalidConfiguration, .pagesUnavailable, .bindFailed, .catalogUnavailable, .notRunning: nil
        }
    }

    static func invalidConfiguration(_ message: String) -> ProxyError {
        ProxyError(.invalidConfiguration, message)
    }

    static func pagesUnavailable(_ message: String) -> ProxyError {
        ProxyError(.pagesUnavailable, message)
    }

    static func bindFailed(_ message: String) -> ProxyError {
        ProxyError(.bindFailed, message)
    }

    static func catalogUnavailable(_ message: String) -> ProxyError {
        ProxyError(.catalogUnavailable, message)
    }

    static func notRunning(_ message: String) -> ProxyError {
        ProxyError(.notRunning, message)
    }

    static func manifestUnusable(_ message: String) -> ProxyError {
        ProxyError(.manifestUnusable, message)
    }

    static func upstreamFailed(_ message: String) -> ProxyError {
        ProxyError(.upstreamFailed, message)
    }

    static func upstreamTimeout(_ message: String) -> ProxyError {
        ProxyError(.upstreamTimeout, message)
    }

    static func objectMismatch(_ message: String) -> ProxyError {
        ProxyError(.objectMismatch, message)
    }
}
