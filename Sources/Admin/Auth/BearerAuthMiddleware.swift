import HTTPTypes
import Hummingbird

/// Lets a request through only with `Authorization: Bearer <token>`; the
/// health checks (`/healthz`, `/readyz`), the OpenAPI document and the GitHub
/// webhook (`/api/hooks/github/{slug}`, which checks its own HMAC signature)
/// are open. Routes registered before it (the dashboard's static files, see
/// `registerDashboard(on:)`) never pass through it.
///
/// A token in the query string is refused outright, even next to a good
/// header: URLs end up in logs, histories and `Referer` headers, so a client
/// that puts the token there must learn at once.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: BearerToken

    /// Paths served without a token.
    static var openPaths: Set<String> { ["/healthz", "/readyz", "/api/openapi.json"] }

    /// Whether `path` is served without a token: an open path, or exactly
    /// `/api/hooks/github/<one segment>` (no prefix match, so `..` or extra
    /// segments never reach another route unauthenticated).
    static func isOpen(_ path: String) -> Bool {
        if openPaths.contains(path) { return true }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return segments.count == 5 && segments[0].isEmpty && segments[1] == "api" && segments[2] == "hooks"
            && segments[3] == "github" && !segments[4].isEmpty && segments[4] != "." && segments[4] != ".."
    }
    /// Query parameters that look like a credential (RFC 6750 section 2.3 and habit).
    static var credentialParameters: Set<String> { ["access_token", "token", "bearer", "api_key"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if Self.isOpen(request.uri.path) {
            return try await next(request, context)
        }
        let query = request.uri.queryParameters
        if query.contains(where: { Self.credentialParameters.contains($0.key.lowercased()) }) {
            throw AdminError.unauthorized(
                "tokens are never accepted in the query string; remove it from the URL and send 'Authorization: Bearer <token>'",
                invalidToken: true)
        }
        let values = request.headers[values: .authorization]
        guard let header = values.first else {
            throw AdminError.unauthorized(
                "this endpoint needs the admin token; send 'Authorization: Bearer <token>' (the token is in <data-dir>/admin-token or SLIPWAY_ADMIN_TOKEN)",
                invalidToken: false)
        }
        guard values.count == 1 else {
            throw AdminError.unauthorized("send exactly one Authorization header", invalidToken: true)
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AdminError.unauthorized("the Authorization header must read 'Bearer <token>'", invalidToken: true)
        }
        guard token.accepts(authorization: header) else {
            throw AdminError.unauthorized(
                "the token is not the admin token; use the one in <data-dir>/admin-token or SLIPWAY_ADMIN_TOKEN",
                invalidToken: true)
        }
        return try await next(request, context)
    }
}
