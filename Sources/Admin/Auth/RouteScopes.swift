import HTTPTypes
import Model

/// Which tokens may call each route of the admin API, and what a call that
/// changes something is recorded as in the audit log.
///
/// This table is the one place scopes are enforced from
/// (``BearerAuthMiddleware``), and `Sources/Admin/Resources/openapi.json`
/// lists the same scopes on every operation as `x-slipway-scope`; a test
/// compares the two and calls every operation with every kind of token, so
/// a route added without an entry here fails it. A route missing from the
/// table is open to `admin` tokens only.
enum RouteScopes {
    /// A kind of token a route accepts.
    enum Accepted: String, Sendable, CaseIterable {
        case admin
        case read
        /// `deploy:<slug>` for the deployment the route acts on: the one its
        /// `{slug}` names, or the one its build or upload (`{id}`) belongs to.
        case deploy = "deploy:<slug>"
    }

    /// Where the audit entry's target comes from.
    enum Target: Sendable {
        case none
        /// The `{slug}` path parameter.
        case slug
        /// The `{id}` path parameter (a build, an upload or a token).
        case id
    }

    struct Policy: Sendable {
        let method: HTTPRequest.Method
        let path: String
        /// Empty: open, no token needed (the route authenticates otherwise, or grants nothing).
        let accepts: [Accepted]
        /// The audit action of a call; nil for reads, which are not audited.
        let action: String?
        let target: Target

        var isOpen: Bool { accepts.isEmpty }
        /// The scope the route needs at least, for the refusal's message.
        var needed: String { accepts.map(\.rawValue).joined(separator: " or ") }
    }

    private static let readers: [Accepted] = [.admin, .read, .deploy]
    private static let deployers: [Accepted] = [.admin, .deploy]

    static let table: [Policy] = [
        Policy(method: .get, path: "/healthz", accepts: [], action: nil, target: .none),
        Policy(method: .get, path: "/readyz", accepts: [], action: nil, target: .none),
        Policy(method: .get, path: "/api/openapi.json", accepts: [], action: nil, target: .none),
        // Signed with the deployment's webhook secret instead of a token.
        Policy(method: .post, path: "/api/hooks/github/{slug}", accepts: [], action: "webhook.github", target: .slug),
        Policy(method: .get, path: "/metrics", accepts: [.admin, .read], action: nil, target: .none),
        Policy(method: .get, path: "/api/stats", accepts: [.admin, .read], action: nil, target: .none),
        Policy(method: .post, path: "/api/deployments", accepts: [.admin], action: "deployment.create", target: .none),
        // A deploy token sees its own deployment only.
        Policy(method: .get, path: "/api/deployments", accepts: readers, action: nil, target: .none),
        Policy(method: .get, path: "/api/deployments/{slug}", accepts: readers, action: nil, target: .slug),
        Policy(
            method: .patch, path: "/api/deployments/{slug}", accepts: [.admin], action: "deployment.update",
            target: .slug),
        Policy(
            method: .delete, path: "/api/deployments/{slug}", accepts: [.admin], action: "deployment.delete",
            target: .slug),
        Policy(
            method: .post, path: "/api/deployments/{slug}/builds", accepts: deployers, action: "build.trigger",
            target: .slug),
        Policy(method: .get, path: "/api/deployments/{slug}/builds", accepts: readers, action: nil, target: .slug),
        Policy(
            method: .post, path: "/api/deployments/{slug}/rollback", accepts: deployers,
            action: "deployment.rollback", target: .slug),
        Policy(
            method: .post, path: "/api/deployments/{slug}/webhook-secret", accepts: [.admin],
            action: "deployment.rotate_webhook_secret", target: .slug),
        Policy(
            method: .post, path: "/api/deployments/{slug}/domains", accepts: [.admin], action: "domain.add",
            target: .slug),
        Policy(method: .get, path: "/api/deployments/{slug}/domains", accepts: readers, action: nil, target: .slug),
        Policy(
            method: .get, path: "/api/deployments/{slug}/domains/{hostname}", accepts: readers, action: nil,
            target: .slug),
        Policy(
            method: .patch, path: "/api/deployments/{slug}/domains/{hostname}", accepts: [.admin],
            action: "domain.update", target: .slug),
        Policy(
            method: .delete, path: "/api/deployments/{slug}/domains/{hostname}", accepts: [.admin],
            action: "domain.remove", target: .slug),
        Policy(
            method: .post, path: "/api/deployments/{slug}/domains/{hostname}/verify", accepts: [.admin],
            action: "domain.verify", target: .slug),
        Policy(
            method: .put, path: "/api/deployments/{slug}/domains/{hostname}/certificate", accepts: [.admin],
            action: "domain.certificate.upload", target: .slug),
        Policy(
            method: .delete, path: "/api/deployments/{slug}/domains/{hostname}/certificate", accepts: [.admin],
            action: "domain.certificate.remove", target: .slug),
        Policy(
            method: .post, path: "/api/deployments/{slug}/uploads", accepts: deployers, action: "upload.create",
            target: .slug),
        Policy(method: .get, path: "/api/uploads/{id}", accepts: deployers, action: nil, target: .id),
        // Each content sent is not audited on its own: the upload's start and finish are.
        Policy(method: .put, path: "/api/uploads/{id}/blobs/{sha256}", accepts: deployers, action: nil, target: .id),
        Policy(
            method: .post, path: "/api/uploads/{id}/finish", accepts: deployers, action: "upload.finish", target: .id),
        Policy(method: .get, path: "/api/builds/{id}", accepts: readers, action: nil, target: .id),
        Policy(method: .post, path: "/api/builds/{id}/cancel", accepts: deployers, action: "build.cancel", target: .id),
        Policy(method: .get, path: "/api/builds/{id}/logs", accepts: readers, action: nil, target: .id),
        Policy(method: .post, path: "/api/tokens", accepts: [.admin], action: "token.create", target: .none),
        Policy(method: .get, path: "/api/tokens", accepts: [.admin], action: nil, target: .none),
        Policy(method: .delete, path: "/api/tokens/{id}", accepts: [.admin], action: "token.revoke", target: .id),
        Policy(method: .get, path: "/api/audit", accepts: [.admin], action: nil, target: .none),
    ]

    private static let byRoute: [String: Policy] = Dictionary(
        uniqueKeysWithValues: table.map { ("\($0.method.rawValue) \($0.path)", $0) })

    /// The policy of the route `path` (a route pattern such as
    /// `/api/builds/{id}`, as the router reports it) with `method`.
    static func policy(method: HTTPRequest.Method, path: String) -> Policy? {
        byRoute["\(method.rawValue) \(path)"]
    }

    /// The policy of a route the router matched but the table lacks: `admin`
    /// tokens only, and a change is audited under its method and path. The
    /// scope test fails for such a route; this keeps it closed until then.
    static func unlisted(method: HTTPRequest.Method, path: String) -> Policy {
        let changes = method != .get && method != .head
        return Policy(
            method: method, path: path, accepts: [.admin], action: changes ? "\(method.rawValue) \(path)" : nil,
            target: .none)
    }

    /// Routes whose deploy-scope check needs the build's deployment (`{id}` is a build).
    static func isBuildRoute(_ path: String) -> Bool { path.hasPrefix("/api/builds/") }

    /// Routes whose deploy-scope check needs the upload's deployment (`{id}` is an upload).
    static func isUploadRoute(_ path: String) -> Bool { path.hasPrefix("/api/uploads/") }

    /// What a token with `scope` may do on a route that accepts `accepts`:
    /// nil when it is refused, else whether the deployment it names must be
    /// the token's (a deploy token that passes only through ``Accepted/deploy``).
    static func admits(_ scope: APITokenScope, _ accepts: [Accepted], method: HTTPRequest.Method) -> Admission {
        switch scope {
        case .admin:
            return accepts.contains(.admin) ? .yes : .no
        case .read:
            return accepts.contains(.read) && (method == .get || method == .head) ? .yes : .no
        case .deploy(let slug):
            return accepts.contains(.deploy) ? .ifDeployment(slug) : .no
        }
    }

    enum Admission: Equatable {
        case yes
        case no
        /// Only when the route acts on the deployment with this slug.
        case ifDeployment(String)
    }
}
