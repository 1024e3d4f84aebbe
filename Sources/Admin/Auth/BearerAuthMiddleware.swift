import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import Storage

/// Authenticates, authorises and audits every request of the admin API
/// behind it (routes registered before it, the dashboard's static files,
/// never pass through it).
///
/// For a request, in this order:
///
/// 1. Routes that ``RouteScopes`` lists as open (health checks, the OpenAPI
///    document, the GitHub webhook with its own HMAC signature) pass; the
///    webhook's calls that got past their signature are audited.
/// 2. A client address that failed too often recently
///    (``AdminConfiguration/failedAttempts``) gets 429 with `Retry-After`,
///    whatever it sends, until the window has passed.
/// 3. `Authorization: Bearer <token>` is checked (``TokenAuthenticator``);
///    a token in the query string is refused outright, even next to a good
///    header: URLs end up in logs, histories and `Referer` headers, so a
///    client that puts the token there must learn at once. A refused
///    credential counts against the client's address and is audited as
///    `auth.failed`; a request without one only gets the 401.
/// 4. The token's scope must be one the route accepts; a `deploy:<slug>`
///    token only for its own deployment (for a build, the build's). Else
///    403 `insufficient_scope` naming the scope needed.
/// 5. The handler runs; a route that changes something is audited with its
///    outcome, whether it succeeded or not.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext

    let authenticator: TokenAuthenticator
    let limiter: AttemptLimiter
    let recorder: AuditRecorder
    let trustedProxies: TrustedProxies
    let catalog: any Catalog

    /// Query parameters that look like a credential (RFC 6750 section 2.3 and habit).
    static var credentialParameters: Set<String> { ["access_token", "token", "bearer", "api_key"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        // The route's pattern as the router matched it; nil when no route did
        // (then any valid token may learn it is 404 or 405).
        let policy = context.endpointPath.map {
            RouteScopes.policy(method: request.method, path: $0)
                ?? RouteScopes.unlisted(method: request.method, path: $0)
        }
        let client = clientAddress(request, context)
        if let policy, policy.isOpen {
            guard let action = policy.action else { return try await next(request, context) }
            // Only what got past the webhook's own signature is recorded:
            // forged calls would otherwise write to the log at will.
            return try await audited(
                request, context, action: action, target: target(policy, context), client: client,
                actor: (nil, "github-webhook"), skip: { $0 == 401 }, next)
        }
        // A request without credentials is told it needs them (401) whatever
        // the address did: only presented tokens are limited.
        let presentsCredentials =
            !request.headers[values: .authorization].isEmpty
            || request.uri.queryParameters.contains { Self.credentialParameters.contains($0.key.lowercased()) }
        if presentsCredentials, let wait = limiter.retryAfter(client) {
            recorder.recordFailure(.init(clientAddress: client, outcome: 429))
            throw AdminError(
                status: .tooManyRequests, code: "too_many_attempts",
                message:
                    "too many failed authentication attempts from this address; wait \(RetryAfter.header(for: wait)) seconds before trying again",
                headers: [.retryAfter: RetryAfter.header(for: wait)])
        }
        var context = context
        let principal = try await authenticate(request, client: client)
        context.principal = principal
        guard let policy else { return try await next(request, context) }
        guard let action = policy.action else {
            try await authorize(principal, policy, request, context)
            return try await next(request, context)
        }
        return try await audited(
            request, context, action: action, target: target(policy, context), client: client,
            actor: (principal.tokenID, principal.name), skip: { _ in false }
        ) { request, context in
            try await authorize(principal, policy, request, context)
            return try await next(request, context)
        }
    }

    // MARK: Steps

    /// The client: the peer, or what a trusted proxy says in `X-Forwarded-For`.
    func clientAddress(_ request: Request, _ context: Context) -> String {
        let peer = context.remoteAddress?.ipAddress ?? "unknown"
        return trustedProxies.client(peer: peer, forwardedFor: request.headers[values: .xForwardedFor])
    }

    private func authenticate(_ request: Request, client: String) async throws -> Principal {
        let query = request.uri.queryParameters
        let header = request.headers[values: .authorization]
        do {
            if query.contains(where: { Self.credentialParameters.contains($0.key.lowercased()) }) {
                throw TokenAuthenticator.Refusal(
                    message:
                        "tokens are never accepted in the query string; remove it from the URL and send 'Authorization: Bearer <token>'"
                )
            }
            return try await authenticator.authenticate(authorization: header)
        } catch let refusal as TokenAuthenticator.Refusal {
            if refusal.presented {
                limiter.recordFailure(client)
                recorder.recordFailure(
                    .init(
                        clientAddress: client, tokenID: refusal.token?.id, tokenName: refusal.token?.name,
                        outcome: 401))
            }
            throw AdminError.unauthorized(refusal.message, invalidToken: refusal.presented)
        }
    }

    private func authorize(_ principal: Principal, _ policy: RouteScopes.Policy, _ request: Request, _ context: Context)
        async throws
    {
        switch RouteScopes.admits(principal.scope, policy.accepts, method: request.method) {
        case .yes:
            return
        case .no:
            throw Self.insufficientScope(principal, policy)
        case .ifDeployment(let slug):
            // The list of deployments is filtered for it instead.
            if policy.target == .none { return }
            if let named = try await deploymentSlug(policy, context), named != slug {
                throw Self.insufficientScope(principal, policy)
            }
        }
    }

    /// The slug of the deployment the request acts on; nil when the build it
    /// names does not exist (the handler answers 404 for it).
    private func deploymentSlug(_ policy: RouteScopes.Policy, _ context: Context) async throws -> String? {
        switch policy.target {
        case .none: return nil
        case .slug: return try context.parameters.require("slug")
        case .id where RouteScopes.isUploadRoute(policy.path):
            do {
                let upload = try await catalog.upload(id: try context.parameters.require("id"))
                return try await catalog.site(id: upload.siteID).slug
            } catch let error as CatalogError where error.code == .uploadNotFound || error.code == .siteNotFound {
                return nil
            }
        case .id:
            guard RouteScopes.isBuildRoute(policy.path) else { return nil }
            guard let id = BuildID(try context.parameters.require("id")) else { return nil }
            do {
                let build = try await catalog.build(id: id)
                return try await catalog.site(id: build.siteID).slug
            } catch let error as CatalogError where error.code == .buildNotFound || error.code == .siteNotFound {
                return nil
            }
        }
    }

    static func insufficientScope(_ principal: Principal, _ policy: RouteScopes.Policy) -> AdminError {
        AdminError(
            status: .forbidden, code: "insufficient_scope",
            message:
                "this token's scope is \(principal.scope); \(policy.method.rawValue) \(policy.path) needs \(policy.needed)\(policy.accepts.contains(.deploy) ? " (the deployment's own)" : ""); use a token with that scope"
        )
    }

    private func target(_ policy: RouteScopes.Policy, _ context: Context) -> String? {
        switch policy.target {
        case .none: nil
        case .slug: context.parameters.get("slug")
        case .id: context.parameters.get("id")
        }
    }

    /// Runs `next` and records its outcome (unless `skip` says otherwise for the status).
    private func audited(
        _ request: Request, _ context: Context, action: String, target: String?, client: String,
        actor: (id: String?, name: String), skip: (Int) -> Bool,
        _ next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        func record(_ status: Int) async {
            if skip(status) { return }
            await recorder.record(
                AuditEventDraft(
                    tokenID: actor.id, tokenName: actor.name, action: action, target: context.audit.target ?? target,
                    outcome: status, clientAddress: client))
        }
        do {
            let response = try await next(request, context)
            await record(response.status.code)
            return response
        } catch {
            await record(ErrorMiddleware<Context>.adminError(for: error).status.code)
            throw error
        }
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
