import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Storage
import Testing

@testable import Admin

/// The served OpenAPI document against the server it describes.
@Suite struct AdminOpenAPITests {
    static func document(_ server: AdminTestServer) async throws -> [String: Any] {
        let reply = try await server.request(.GET, "/api/openapi.json", token: nil)
        #expect(reply.status == 200, "\(reply.body.prefix(300))")
        #expect(reply.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true)
        return try reply.json
    }

    @Test func theDocumentIsServedWithoutATokenAndEveryReferenceResolves() async throws {
        try await AdminTestServer.run { server in
            let document = try await Self.document(server)
            #expect(document["openapi"] as? String == "3.0.3")
            let components = try #require(document["components"] as? [String: Any])
            var references: [String] = []
            func collect(_ value: Any) {
                if let object = value as? [String: Any] {
                    if let reference = object["$ref"] as? String { references.append(reference) }
                    object.values.forEach(collect)
                } else if let array = value as? [Any] {
                    array.forEach(collect)
                }
            }
            collect(document)
            #expect(!references.isEmpty)
            for reference in references {
                let parts = reference.split(separator: "/").map(String.init)
                #expect(parts.count == 4 && parts[0] == "#" && parts[1] == "components", "\(reference)")
                let section = components[parts[2]] as? [String: Any]
                #expect(section?[parts[3]] != nil, "unresolved \(reference)")
            }
        }
    }

    /// Every documented operation exists, and needs the bearer token exactly
    /// when the document says so.
    @Test func everyDocumentedOperationExistsWithTheDocumentedSecurity() async throws {
        try await AdminTestServer.run { server in
            let document = try await Self.document(server)
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let methods: [String: HTTPMethod] = [
                "get": .GET, "post": .POST, "patch": .PATCH, "delete": .DELETE, "put": .PUT,
            ]
            var operations: [String] = []
            for (template, item) in paths {
                let path = template.replacingOccurrences(of: "{slug}", with: "no-such-site")
                    .replacingOccurrences(of: "{id}", with: "01JA0000000000000000000000")
                for (name, value) in item where methods[name] != nil {
                    let operation = try #require(value as? [String: Any])
                    operations.append("\(name.uppercased()) \(template)")
                    let open = (operation["security"] as? [Any])?.isEmpty == true
                    let anonymous = try await server.request(methods[name]!, path, token: nil)
                    #expect(
                        anonymous.status != 404 || anonymous.errorCode != "not_found",
                        "\(name) \(template) is not routed")
                    #expect(anonymous.status != 405, "\(name) \(template) is not routed")
                    if open {
                        #expect(anonymous.errorCode != "unauthorized", "\(name) \(template) should be open")
                    } else {
                        #expect(
                            anonymous.status == 401 && anonymous.errorCode == "unauthorized",
                            "\(name) \(template) must need the token")
                        let responses = try #require(operation["responses"] as? [String: Any])
                        #expect(responses["401"] != nil, "\(name) \(template) does not document 401")
                    }
                }
            }
            // The routes AdminAPI.register adds, so a new route without documentation fails here.
            let registered: Set<String> = [
                "GET /healthz", "GET /readyz", "GET /metrics", "GET /api/stats", "GET /api/openapi.json",
                "POST /api/deployments", "GET /api/deployments", "GET /api/deployments/{slug}",
                "PATCH /api/deployments/{slug}",
                "DELETE /api/deployments/{slug}", "POST /api/deployments/{slug}/builds",
                "GET /api/deployments/{slug}/builds",
                "POST /api/deployments/{slug}/rollback", "POST /api/deployments/{slug}/webhook-secret",
                "GET /api/builds/{id}", "POST /api/builds/{id}/cancel", "GET /api/builds/{id}/logs",
                "POST /api/hooks/github/{slug}",
                "POST /api/tokens", "GET /api/tokens", "DELETE /api/tokens/{id}", "GET /api/audit",
                "POST /api/deployments/{slug}/domains", "GET /api/deployments/{slug}/domains",
                "GET /api/deployments/{slug}/domains/{hostname}", "PATCH /api/deployments/{slug}/domains/{hostname}",
                "DELETE /api/deployments/{slug}/domains/{hostname}",
                "POST /api/deployments/{slug}/domains/{hostname}/verify",
                "PUT /api/deployments/{slug}/domains/{hostname}/certificate",
                "DELETE /api/deployments/{slug}/domains/{hostname}/certificate",
                "POST /api/deployments/{slug}/uploads", "GET /api/uploads/{id}",
                "PUT /api/uploads/{id}/blobs/{sha256}", "POST /api/uploads/{id}/finish",
            ]
            #expect(Set(operations) == registered)
        }
    }

    @Test func requestBodySchemasListExactlyTheFieldsTheDecodersAccept() async throws {
        try await AdminTestServer.run { server in
            let document = try await Self.document(server)
            let schemas = try #require(
                (document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
            let expected: [String: [String]] = [
                "CreateDeployment": CreateDeploymentBody.fields, "UpdateDeployment": UpdateDeploymentBody.fields,
                "TriggerBuild": TriggerBuildBody.fields, "Rollback": RollbackBody.fields,
                "CreateToken": CreateTokenBody.fields,
                "EnvInput": EnvEntryInput.fields,
                "NewEnvInput": EnvEntryInput.fields,
            ]
            for (name, fields) in expected {
                let schema = try #require(schemas[name], "\(name)")
                #expect(schema["additionalProperties"] as? Bool == false, "\(name)")
                let properties = try #require(schema["properties"] as? [String: Any])
                #expect(Set(properties.keys) == Set(fields), "\(name)")
            }
        }
    }
}

@Suite struct AdminMethodNotAllowedTests {
    @Test func aKnownPathWithAnotherMethodIs405WithAllow() async throws {
        try await AdminTestServer.run { server in
            let put = try await server.request(.PUT, "/api/deployments/site", body: "{}")
            #expect(put.status == 405, "\(put.body)")
            #expect(put.errorCode == "method_not_allowed")
            #expect(put.headers.first(name: "Allow") == "DELETE, GET, PATCH")
            let delete = try await server.request(.DELETE, "/api/deployments")
            #expect(delete.status == 405)
            #expect(delete.headers.first(name: "Allow") == "GET, POST")
            // The token still comes first, and unknown paths stay 404.
            #expect(try await server.request(.PUT, "/api/deployments/site", token: nil).status == 401)
            let unknown = try await server.request(.GET, "/api/nothing-here")
            #expect(unknown.status == 404)
            // Real routes are untouched.
            #expect(try await server.request(.GET, "/api/deployments").status == 200)
        }
    }
}
