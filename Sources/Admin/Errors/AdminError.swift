import Foundation
public import HTTPTypes

/// A refusal of the admin API: an HTTP status, a stable snake_case code and
/// a message that says what was wrong and what to do.
///
/// Every error reaching a client is turned into one of these by
/// ``ErrorMiddleware`` and written as `{"error": {"code": …, "message": …}}`.
public struct AdminError: Error, Sendable, Hashable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// Short, stable, snake_case; safe as a metrics label.
    public let code: String
    /// A sentence for people.
    public let message: String
    /// Headers the response must carry (`WWW-Authenticate` on a 401).
    public let headers: HTTPFields

    public init(status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    // MARK: Constructors

    static func unauthorized(_ message: String, invalidToken: Bool) -> AdminError {
        // RFC 6750 section 3: a request without credentials gets a bare
        // challenge; one with bad credentials gets error="invalid_token".
        let challenge = invalidToken ? "Bearer realm=\"slipway\", error=\"invalid_token\"" : "Bearer realm=\"slipway\""
        return AdminError(
            status: .unauthorized, code: "unauthorized", message: message, headers: [.wwwAuthenticate: challenge])
    }

    static func badJSON(_ message: String) -> AdminError {
        AdminError(status: .badRequest, code: "bad_json", message: message)
    }

    static func invalidBody(_ message: String) -> AdminError {
        AdminError(status: .unprocessableContent, code: "invalid_input", message: message)
    }

    static func unknownFields(_ names: [String], allowed: [String]) -> AdminError {
        let list = names.map { "'\($0)'" }.joined(separator: ", ")
        return AdminError(
            status: .unprocessableContent, code: "unknown_fields",
            message:
                "unknown field\(names.count == 1 ? "" : "s") \(list); remove \(names.count == 1 ? "it" : "them") (accepted: \(allowed.joined(separator: ", ")))"
        )
    }

    static func bodyTooLarge(limit: Int) -> AdminError {
        AdminError(
            status: .contentTooLarge, code: "body_too_large",
            message: "the request body is larger than \(limit) bytes, the limit; send a smaller body")
    }

    static func unsupportedMediaType(_ contentType: String) -> AdminError {
        AdminError(
            status: .unsupportedMediaType, code: "unsupported_media_type",
            message: "the body is '\(contentType.prefix(100))'; send JSON with 'Content-Type: application/json'")
    }

    static func conflict(_ code: String, _ message: String) -> AdminError {
        AdminError(status: .conflict, code: code, message: message)
    }

    static func invalidQuery(_ message: String) -> AdminError {
        AdminError(status: .unprocessableContent, code: "invalid_input", message: message)
    }

    static func buildNotFound(_ text: String) -> AdminError {
        AdminError(
            status: .notFound, code: "build_not_found",
            message:
                "no build with id '\(text.prefix(80))'; build ids are 26 characters, list a deployment's builds to find one"
        )
    }

    static func storeFailed(_ message: String) -> AdminError {
        AdminError(status: .badGateway, code: "store_failed", message: message)
    }
}
