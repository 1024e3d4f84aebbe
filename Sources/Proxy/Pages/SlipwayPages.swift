import Foundation
import NIOCore
import NIOHTTP1

/// The pages Slipway answers with itself, rendered from the templates in
/// `static/pages` (`building.html`, `failed.html`, `error.html`), each of which
/// an operator may replace by putting a file of the same name in the override
/// directory.
///
/// Fixed pages (404, 502, 504, …) are rendered once at start; the building
/// and failure pages are rendered per request from the site table's values.
/// They are always sent with `Cache-Control: no-store`.
public struct SlipwayPages: Sendable {
    /// A page ready to send.
    struct Rendered: Sendable {
        var status: HTTPResponseStatus
        var body: ByteBuffer
        /// Extra headers (e.g. `Retry-After` on the building page).
        var headers: [(String, String)] = []
    }

    /// Slipway's fixed answers that use `error.html`.
    enum Kind: CaseIterable, Sendable, Hashable {
        case badRequest
        case noSite
        case notFound
        case previewNotFound
        case methodNotAllowed
        case payloadTooLarge
        case uriTooLong
        case headersTooLarge
        case notDeployed
        case badGateway
        case gatewayTimeout

        var status: HTTPResponseStatus {
            switch self {
            case .badRequest: .badRequest
            case .noSite, .notFound, .previewNotFound: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .payloadTooLarge: .payloadTooLarge
            case .uriTooLong: .uriTooLong
            case .headersTooLarge: .requestHeaderFieldsTooLarge
            case .notDeployed: .serviceUnavailable
            case .badGateway: .badGateway
            case .gatewayTimeout: .gatewayTimeout
            }
        }

        var title: String {
            switch self {
            case .badRequest: "Bad request"
            case .noSite: "No site here"
            case .notFound: "Page not found"
            case .previewNotFound: "No such preview"
            case .methodNotAllowed: "Method not allowed"
            case .payloadTooLarge: "Request too large"
            case .uriTooLong: "Address too long"
            case .headersTooLarge: "Request headers too large"
            case .notDeployed: "Nothing deployed yet"
            case .badGateway: "Bad gateway"
            case .gatewayTimeout: "Gateway timeout"
            }
        }

        var message: String {
            switch self {
            case .badRequest: "The request could not be understood. Check the address and try again."
            case .noSite: "There is no site at this address. Check the address for typos."
            case .notFound: "This site has no page at this address."
            case .previewNotFound: "This preview does not exist, or its build did not succeed."
            case .methodNotAllowed: "Sites answer GET and HEAD requests only."
            case .payloadTooLarge: "Sites do not accept request bodies."
            case .uriTooLong: "The address is longer than this server accepts. Shorten it and try again."
            case .headersTooLarge:
                "The request carries more or larger headers than this server accepts. Clearing this site's cookies may help."
            case .notDeployed:
                "This site has no build yet. Its owner can deploy it from the Slipway dashboard or with slipway deploy."
            case .badGateway: "The storage behind this site did not answer correctly. Try again in a moment."
            case .gatewayTimeout: "The storage behind this site took too long to answer. Try again in a moment."
            }
        }
    }

    static let templateNames = ["building.html", "failed.html", "error.html", "signin.html"]
    static let placeholders: [String: Set<String>] = [
        "building.html": ["slug", "state", "build"],
        "failed.html": ["slug", "build", "state"],
        "error.html": ["status", "title", "message"],
        "signin.html": ["host", "return", "message", "action"],
    ]

    private let building: PageTemplate
    private let failed: PageTemplate
    private let error: PageTemplate
    private let signInTemplate: PageTemplate
    private let fixed: [Kind: ByteBuffer]

    /// Loads the templates.
    /// - Parameters:
    ///   - directory: where Slipway's pages are (`static/pages`).
    ///   - overrideDirectory: pages found here win over those in `directory`.
    /// - Throws: `ProxyError.pagesUnavailable` when a page is missing from
    ///   both directories or is not a valid template.
    public init(directory: String, overrideDirectory: String? = nil) throws(ProxyError) {
        var templates: [String: PageTemplate] = [:]
        for name in Self.templateNames {
            let candidates = [overrideDirectory, directory].compactMap { $0 }.map {
                ($0 as NSString).appendingPathComponent(name)
            }
            guard let path = candidates.first(where: { FileManager.default.isReadableFile(atPath: $0) }),
                let data = FileManager.default.contents(atPath: path)
            else {
                throw ProxyError.pagesUnavailable(
                    "the page '\(name)' is not in \(candidates.joined(separator: " or ")); point the pages directory at Slipway's static/pages"
                )
            }
            guard let source = String(validating: data, as: UTF8.self) else {
                throw ProxyError.pagesUnavailable("the page '\(path)' is not UTF-8 text")
            }
            templates[name] = try PageTemplate(name: name, source: source, allowed: Self.placeholders[name] ?? [])
        }
        self.building = templates["building.html"]!
        self.failed = templates["failed.html"]!
        self.error = templates["error.html"]!
        self.signInTemplate = templates["signin.html"]!
        var fixed: [Kind: ByteBuffer] = [:]
        for kind in Kind.allCases {
            let html = error.render(["status": String(kind.status.code), "title": kind.title, "message": kind.message])
            fixed[kind] = ByteBuffer(string: html)
        }
        self.fixed = fixed
    }

    /// One of the fixed pages.
    func page(_ kind: Kind) -> Rendered {
        Rendered(status: kind.status, body: fixed[kind]!)
    }

    /// The page of a site whose first build is queued or running; it
    /// refreshes itself. Answered with 503 and `Retry-After`.
    func building(slug: String, buildNumber: Int, state: String) -> Rendered {
        let html = building.render(["slug": slug, "build": String(buildNumber), "state": state])
        return Rendered(status: .serviceUnavailable, body: ByteBuffer(string: html), headers: [("Retry-After", "5")])
    }

    /// The page of a site that has no live build because its builds failed.
    func failure(slug: String, buildNumber: Int, state: String) -> Rendered {
        let html = failed.render(["slug": slug, "build": String(buildNumber), "state": state])
        return Rendered(status: .serviceUnavailable, body: ByteBuffer(string: html))
    }

    /// The sign-in page of a protected site (password mode), answered with
    /// 401: a form that posts the password and `returnPath` to
    /// `/.slipway/auth`. `returnPath` is a sanitised same-host path
    /// (``ReturnPath``), escaped like every value.
    func signIn(host: String, returnPath: String, message: String) -> Rendered {
        let html = signInTemplate.render([
            "host": host, "return": returnPath, "message": message, "action": ReservedPaths.signIn,
        ])
        return Rendered(status: .unauthorized, body: ByteBuffer(string: html))
    }

    /// A page built from `error.html` with a message of the caller's (never request text).
    func custom(status: HTTPResponseStatus, title: String, message: String) -> Rendered {
        let html = error.render(["status": String(status.code), "title": title, "message": message])
        return Rendered(status: status, body: ByteBuffer(string: html))
    }
}
