// The edge before Slipway's own HTTP/1.1 parser, kept as the differential
// tests' reference: `RequestTarget` as it was then (its checks are now the
// parser's, in Sources/Proxy/HTTP1/HTTP1HeadScanner.swift); it uses today's
// `HostRoute.normalizedHost`, which did not change.

@testable import Proxy

extension ReferenceEdge {
    /// Reduces a request target to origin form (`/path?query`) per RFC 9112 §3.2.
    ///
    /// An absolute-form target (`http://host/path`, as sent to proxies) is
    /// accepted only when its authority names the same host as the `Host`
    /// header: otherwise the two disagree about which site is asked for, a
    /// classic request-smuggling lever, and the request is refused.
    enum RequestTarget {
        enum Rejection: Error, Sendable, Hashable {
            /// Neither origin form nor a usable absolute form (`*`, authority form, garbage).
            case unsupportedForm
            /// The absolute-form authority names another host than `Host`.
            case hostMismatch
        }

        /// The origin-form target of `uri`.
        /// - Parameter host: the request's `Host` header value.
        static func originForm(_ uri: String, host: String) throws(Rejection) -> String {
            if uri.hasPrefix("/") { return uri }
            let lowered = uri.prefix(8).lowercased()
            let schemeLength: Int
            if lowered.hasPrefix("http://") {
                schemeLength = 7
            } else if lowered.hasPrefix("https://") {
                schemeLength = 8
            } else {
                throw .unsupportedForm
            }
            let rest = uri.dropFirst(schemeLength)
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            // Userinfo (`user@host`) has no place in a request target.
            guard !authority.isEmpty, !authority.contains("@") else { throw .unsupportedForm }
            guard let targetHost = HostRoute.normalizedHost(String(authority)),
                let headerHost = HostRoute.normalizedHost(host),
                targetHost == headerHost
            else { throw .hostMismatch }
            let pathAndQuery = rest[authorityEnd...]
            if pathAndQuery.isEmpty { return "/" }
            if pathAndQuery.hasPrefix("?") { return "/" + pathAndQuery }
            return String(pathAndQuery)
        }
    }
}
