import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Admin

extension AdminTestServer {
    /// Creates an API token through the API with the bootstrap token; returns its id and secret.
    func createToken(name: String, scope: String, expiresIn: String? = nil) async throws -> (id: String, secret: String)
    {
        let expiry = expiresIn.map { #", "expiresIn": "\#($0)""# } ?? ""
        let reply = try await request(
            .POST, "/api/tokens", body: #"{"name": "\#(name)", "scope": "\#(scope)"\#(expiry)}"#)
        #expect(reply.status == 201, "\(reply.body)")
        let json = try reply.json
        return (try #require(json["id"] as? String), try #require(json["token"] as? String))
    }

    /// The operations of the served OpenAPI document: method, path template and operation object.
    func documentedOperations() async throws -> [(method: String, path: String, operation: [String: Any])] {
        let reply = try await request(.GET, "/api/openapi.json", token: nil)
        let paths = try #require(try reply.json["paths"] as? [String: [String: Any]])
        var operations: [(String, String, [String: Any])] = []
        for (path, item) in paths {
            for (method, value) in item where ["get", "post", "patch", "delete", "put"].contains(method) {
                operations.append((method.uppercased(), path, try #require(value as? [String: Any])))
            }
        }
        return operations.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
    }
}

/// Which token may call which route: the table in `RouteScopes`, the
/// `x-slipway-scope` of every operation in the OpenAPI document, and what
/// the running server does, compared with each other.
@Suite struct AdminScopeTests {
    @Test func everyOperationListsTheScopesOfTheTableAndEveryRouteIsInIt() async throws {
        try await AdminTestServer.run { server in
            let operations = try await server.documentedOperations()
            var documented: Set<String> = []
            for (method, path, operation) in operations {
                documented.insert("\(method) \(path)")
                let scopes = try #require(
                    operation["x-slipway-scope"] as? [String], "\(method) \(path) has no x-slipway-scope")
                let policy = try #require(
                    RouteScopes.policy(method: .init(rawValue: method)!, path: path),
                    "\(method) \(path) is not in RouteScopes.table")
                #expect(scopes == policy.accepts.map(\.rawValue), "\(method) \(path)")
                let security = operation["security"] as? [Any]
                #expect((security?.isEmpty == true) == policy.isOpen, "\(method) \(path): security vs scope")
                if !policy.isOpen {
                    let responses = try #require(operation["responses"] as? [String: Any])
                    #expect(responses["403"] != nil, "\(method) \(path) does not document 403")
                }
            }
            let table = Set(RouteScopes.table.map { "\($0.method.rawValue) \($0.path)" })
            #expect(table == documented)
            // Every route the server registers is in the table (and so documented).
            let admin = AdminServer(
                configuration: AdminConfiguration(token: AdminTestServer.token),
                services: AdminServices(catalog: server.catalog, bus: server.bus, store: server.store))
            let router = admin.makeRouter(admin.makeParts())
            let registered = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" })
            #expect(registered == table)
        }
    }

    /// Every documented operation, called with each kind of token: allowed
    /// (neither 401 nor 403) or refused 403 `insufficient_scope`, as the
    /// document says. A route added without a scope fails here.
    @Test func everyOperationAdmitsExactlyTheScopesItLists() async throws {
        try await AdminTestServer.run { server in
            let own = try await server.createDeployment(slug: "own")
            _ = try await server.runNextBuild()
            // The deployment `deploy:other` is for: it must be refused everything of `own`.
            _ = try await server.createDeployment(slug: "other")
            _ = try await server.runNextBuild()
            let tokens: [(label: String, scope: String, secret: String)] = [
                ("bootstrap", "admin", AdminTestServer.token),
                ("admin", "admin", try await server.createToken(name: "admin", scope: "admin").secret),
                ("read", "read", try await server.createToken(name: "read", scope: "read").secret),
                ("deploy:own", "deploy:<slug>", try await server.createToken(name: "own", scope: "deploy:own").secret),
                (
                    "deploy:other", "none",
                    try await server.createToken(name: "other", scope: "deploy:other").secret
                ),
            ]
            // An upload of `own`, for the upload routes' `{id}`.
            let content = "<h1>own</h1>"
            let sha256 = "02806a089b7eac7ac47ed0297d468e194a70d73c8e07b169e8f3868e87744c15" // of `content`
            let started = try await server.request(
                .POST, "/api/deployments/own/uploads",
                body: #"{"files": [{"path": "index.html", "sha256": "\#(sha256)", "size": \#(content.utf8.count)}]}"#)
            #expect(started.status == 201, "\(started.body)")
            let uploadID = try #require(try started.json["id"] as? String)
            var fresh = 0
            for (method, template, operation) in try await server.documentedOperations() {
                let scopes = operation["x-slipway-scope"] as? [String] ?? []
                if scopes.isEmpty { continue }
                for token in tokens {
                    var path = template.replacingOccurrences(of: "{slug}", with: "own")
                        .replacingOccurrences(
                            of: "{id}", with: template.hasPrefix("/api/uploads/") ? uploadID : own.buildID.rawValue
                        )
                        .replacingOccurrences(of: "{sha256}", with: sha256)
                    if template.hasPrefix("/api/tokens/") {
                        path = "/api/tokens/" + (try await server.createToken(name: "victim", scope: "read").id)
                    }
                    let destructive = method == "DELETE" && template.contains("{slug}")
                    if destructive && scopes.contains(token.scope) {
                        // Allowed: delete a deployment made for it, not the one the others need.
                        fresh += 1
                        path = "/api/deployments/" + (try await server.createDeployment(slug: "fresh-\(fresh)").slug)
                    }
                    var body: String?
                    if method != "GET" && method != "DELETE" {
                        body =
                            template == "/api/deployments"
                            ? #"{"repoUrl": "https://github.com/example/made-by-\#(token.label.replacingOccurrences(of: ":", with: "-")).git"}"#
                            : template == "/api/tokens" ? #"{"name": "n", "scope": "read"}"# : "{}"
                    }
                    let reply = try await server.request(
                        HTTPMethod(rawValue: method), path, body: body, token: token.secret)
                    // A deploy token may list deployments (it sees only its own).
                    let listing = !template.contains("{") && scopes.contains("deploy:<slug>")
                    let allowed = scopes.contains(token.scope) || (listing && token.label == "deploy:other")
                    let what = "\(method) \(template) with \(token.label): \(reply.status) \(reply.body.prefix(200))"
                    if allowed {
                        #expect(reply.status != 401 && reply.status != 403, "\(what)")
                    } else {
                        #expect(reply.status == 403 && reply.errorCode == "insufficient_scope", "\(what)")
                        #expect(scopes.contains { reply.errorMessage?.contains($0) == true }, "\(what)")
                    }
                }
            }
        }
    }

    @Test func aDeployTokenListsOnlyItsOwnDeploymentAndOnlyItsBuilds() async throws {
        try await AdminTestServer.run { server in
            _ = try await server.createDeployment(slug: "own")
            let other = try await server.createDeployment(slug: "other")
            let token = try await server.createToken(name: "ci", scope: "deploy:own").secret
            let list = try await server.request(.GET, "/api/deployments", token: token)
            let slugs = (try list.json["deployments"] as? [[String: Any]])?.compactMap { $0["slug"] as? String }
            #expect(slugs == ["own"])
            let build = try await server.request(.GET, "/api/builds/\(other.buildID)", token: token)
            #expect(build.status == 403)
            #expect(build.errorMessage?.contains("deploy:<slug>") == true)
            let cancel = try await server.request(.POST, "/api/builds/\(other.buildID)/cancel", token: token)
            #expect(cancel.status == 403)
            #expect(try await server.catalog.build(id: other.buildID).status == .queued)
            // A build that does not exist is 404 as for anyone.
            let missing = try await server.request(.GET, "/api/builds/01jzzzzzzzzzzzzzzzzzzzzzzz", token: token)
            #expect(missing.status == 404)
            let trigger = try await server.request(.POST, "/api/deployments/own/builds", token: token)
            #expect(trigger.status == 202, "\(trigger.body)")
            let elsewhere = try await server.request(.POST, "/api/deployments/other/builds", token: token)
            #expect(elsewhere.status == 403)
        }
    }

    @Test func aReadTokenReadsEverythingButChangesNothing() async throws {
        try await AdminTestServer.run { server in
            _ = try await server.createDeployment(slug: "site")
            let token = try await server.createToken(name: "dashboard", scope: "read").secret
            #expect(try await server.request(.GET, "/api/deployments/site", token: token).status == 200)
            #expect(try await server.request(.GET, "/api/stats", token: token).status == 200)
            let patch = try await server.request(.PATCH, "/api/deployments/site", body: "{}", token: token)
            #expect(patch.status == 403)
            #expect(patch.errorMessage?.contains("admin") == true)
            #expect(try await server.request(.GET, "/api/tokens", token: token).status == 403)
            #expect(try await server.request(.GET, "/api/audit", token: token).status == 403)
        }
    }
}
