import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Storage
import Testing

@testable import Admin

/// The dashboard's files on the admin listener: open without the token,
/// served only from the dashboard directory, with headers that keep the page
/// to its own scripts and its own API.
@Suite struct DashboardTests {
    static let token = "dashboard-test-token-0123456789"
    static let secret = "TOP-SECRET-OUTSIDE-THE-DASHBOARD"

    /// A dashboard directory with a page, a script, a stylesheet and things
    /// that must never be served: a dotfile, a file of unknown type and a
    /// symbolic link to a file outside it.
    struct Fixture {
        let root: String
        var dashboard: String { root + "/dashboard" }

        init() throws {
            root =
                FileManager.default.temporaryDirectory.appendingPathComponent("slipway-dashboard-\(UUID().uuidString)")
                .path
            let manager = FileManager.default
            try manager.createDirectory(atPath: root + "/dashboard/icons", withIntermediateDirectories: true)
            try write("<!doctype html><title>Slipway fixture</title>", to: "dashboard/index.html")
            try write("export const fixture = 1;\n", to: "dashboard/app.js")
            try write("body { color: black; }\n", to: "dashboard/app.css")
            try write("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", to: "dashboard/icons/logo.svg")
            try write(DashboardTests.secret, to: "dashboard/.hidden.js")
            try write(DashboardTests.secret, to: "dashboard/notes.md")
            try write(DashboardTests.secret, to: "outside.txt")
            try write(DashboardTests.secret, to: "outside.js")
            try manager.createSymbolicLink(
                atPath: root + "/dashboard/link.js", withDestinationPath: root + "/outside.js")
            try manager.createSymbolicLink(atPath: root + "/dashboard/linked", withDestinationPath: root)
        }

        func write(_ text: String, to path: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/" + path))
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    /// Runs `body` against the admin router with `dashboardDirectory`.
    static func withRouter(
        dashboardDirectory: String?, _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-dashboard-data-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bus = InProcessEventBus()
        let catalog = try SQLiteCatalog(dataDirectory: directory, settings: QueueSettings(), bus: bus)
        let store = try DiskObjectStore(root: directory + "/objects")
        let services = AdminServices(
            catalog: catalog, bus: bus, store: store, buildsQueued: {}, runningBuilds: nil, cacheFigures: nil)
        let configuration = AdminConfiguration(
            host: "127.0.0.1", port: 0, token: token, appsDomain: "apps.test", dashboardDirectory: dashboardDirectory)
        var logger = Logger(label: "slipway.admin.dashboard-test")
        logger.logLevel = .critical
        let server = AdminServer(configuration: configuration, services: services, logger: logger)
        do {
            try await server.makeApplication().test(.router) { client in try await body(client) }
        } catch {
            try await catalog.close()
            throw error
        }
        try await catalog.close()
    }

    static func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    static func expectDashboardHeaders(_ response: TestResponse, contentType: String, _ what: String) {
        #expect(response.status == .ok, "\(what)")
        #expect(response.headers[.contentType] == contentType, "\(what)")
        #expect(response.headers[.cacheControl] == "no-cache", "\(what)")
        #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(what)")
        #expect(response.headers[.eTag]?.hasPrefix("\"") == true, "\(what)")
        let policy = response.headers[.contentSecurityPolicy] ?? ""
        let directives = Set(policy.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(directives.contains("default-src 'none'"), "\(what): \(policy)")
        #expect(directives.contains("script-src 'self'"), "\(what): \(policy)")
        #expect(directives.contains("connect-src 'self'"), "\(what): \(policy)")
        #expect(directives.contains("frame-ancestors 'none'"), "\(what): \(policy)")
        #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "\(what): \(policy)")
    }

    @Test func theFilesAreServedWithoutATokenWithStrictHeaders() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try await Self.withRouter(dashboardDirectory: fixture.dashboard) { client in
            let index = try await client.execute(uri: "/", method: .get)
            Self.expectDashboardHeaders(index, contentType: "text/html; charset=utf-8", "/")
            #expect(Self.text(index).contains("Slipway fixture"))

            let cases = [
                ("/dashboard/app.js", "text/javascript; charset=utf-8", "export const fixture"),
                ("/dashboard/app.css", "text/css; charset=utf-8", "color: black"),
                ("/dashboard/icons/logo.svg", "image/svg+xml", "<svg"),
                ("/dashboard/index.html", "text/html; charset=utf-8", "Slipway fixture"),
                ("/dashboard/app.js?v=2", "text/javascript; charset=utf-8", "export const fixture"),
            ]
            for (uri, contentType, content) in cases {
                let response = try await client.execute(uri: uri, method: .get)
                Self.expectDashboardHeaders(response, contentType: contentType, uri)
                #expect(Self.text(response).contains(content), "\(uri)")
            }

            // A client holding the current copy gets 304 without a body; a stale one gets the file.
            let etag = try #require(index.headers[.eTag])
            let current = try await client.execute(uri: "/", method: .get, headers: [.ifNoneMatch: etag])
            #expect(current.status == .notModified)
            #expect(current.body.readableBytes == 0)
            let stale = try await client.execute(uri: "/", method: .get, headers: [.ifNoneMatch: "\"0123\""])
            #expect(stale.status == .ok)
            #expect(Self.text(stale).contains("Slipway fixture"))
        }
    }

    @Test func traversalEncodedPathsHiddenFilesAndLinksAreRefused() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try await Self.withRouter(dashboardDirectory: fixture.dashboard) { client in
            let attempts = [
                "/dashboard/../../etc/passwd",
                "/dashboard/../outside.txt",
                "/dashboard/../outside.js",
                "/dashboard/%2e%2e/%2e%2e/etc/passwd",
                "/dashboard/%2E%2E/outside.js",
                "/dashboard/..%2f..%2fetc%2fpasswd",
                "/dashboard/..%2Foutside.js",
                "/dashboard/%2e%2e%2foutside.js",
                "/dashboard/..%5coutside.js",
                "/dashboard/..\\outside.js",
                "/dashboard//etc/passwd",
                "/dashboard/%2fetc%2fpasswd",
                "/dashboard/icons/../../outside.js",
                "/dashboard/app.js%00.css",
                "/dashboard/.hidden.js",
                "/dashboard/notes.md",
                "/dashboard/link.js",
                "/dashboard/linked/outside.js",
                "/dashboard/linked/dashboard/app.js",
            ]
            for uri in attempts {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .notFound, "\(uri) answered \(response.status)")
                let body = Self.text(response)
                #expect(!body.contains(Self.secret), "\(uri) leaked a file outside the dashboard")
                #expect(!body.contains("root:"), "\(uri) leaked /etc/passwd")
            }
        }
    }

    @Test func theAPIStillNeedsTheToken() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try await Self.withRouter(dashboardDirectory: fixture.dashboard) { client in
            // (`/api/openapi.json` is public on purpose: the API document holds no data.)
            for uri in ["/api/deployments", "/api/stats", "/metrics", "/api/../dashboard/app.js", "/index.html"] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .unauthorized, "\(uri) answered \(response.status)")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(uri)")
            }
            let create = try await client.execute(
                uri: "/api/deployments", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"repoUrl": "https://github.com/example/site.git"}"#))
            #expect(create.status == .unauthorized)
            // Paths under /dashboard never reach the API, token or not.
            let sneaky = try await client.execute(
                uri: "/dashboard/../api/deployments", method: .get, headers: [.authorization: "Bearer \(Self.token)"])
            #expect(sneaky.status == .notFound)
            #expect(!Self.text(sneaky).contains("deployments\""))
            let allowed = try await client.execute(
                uri: "/api/deployments", method: .get, headers: [.authorization: "Bearer \(Self.token)"])
            #expect(allowed.status == .ok)
            #expect(Self.text(allowed).contains("\"deployments\""))
        }
    }

    @Test func withoutAUsableDashboardDirectoryNothingBecomesOpen() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        try FileManager.default.createDirectory(atPath: fixture.root + "/empty", withIntermediateDirectories: true)
        for directory in [nil, fixture.root + "/missing", fixture.root + "/empty"] as [String?] {
            try await Self.withRouter(dashboardDirectory: directory) { client in
                for uri in ["/", "/dashboard/app.js"] {
                    let response = try await client.execute(uri: uri, method: .get)
                    #expect(
                        response.status == .unauthorized, "\(directory ?? "nil"): \(uri) answered \(response.status)")
                }
            }
        }
    }

    /// The dashboard in the repository: its page loads no inline script or
    /// style (the policy forbids them), and every file it references is served.
    @Test func theShippedDashboardServesEveryFileItReferences() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = repository.appendingPathComponent("static/dashboard").path
        let assets = try DashboardAssets.load(directory: directory)
        let index = try String(contentsOfFile: directory + "/index.html", encoding: .utf8)
        #expect(
            index.range(of: #"<script(?![^>]*\bsrc=)[^>]*>"#, options: .regularExpression) == nil,
            "inline script in index.html")
        #expect(
            index.range(of: #"\sstyle\s*="#, options: .regularExpression) == nil, "inline style attribute in index.html"
        )
        #expect(index.range(of: #"<style"#, options: .regularExpression) == nil, "inline stylesheet in index.html")
        #expect(
            index.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil,
            "inline event handler in index.html")

        var references: Set<String> = []
        let pattern = try NSRegularExpression(pattern: #"["'](/dashboard/[A-Za-z0-9._/-]+)["']"#)
        for name in assets.files.keys where name.hasSuffix(".html") || name.hasSuffix(".js") || name.hasSuffix(".css") {
            let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let range = Range(match.range(at: 1), in: text) { references.insert(String(text[range])) }
            }
        }
        #expect(references.contains("/dashboard/app.js"))
        #expect(references.contains("/dashboard/app.css"))
        let referenced = references.sorted()
        try await Self.withRouter(dashboardDirectory: directory) { client in
            for reference in referenced {
                let response = try await client.execute(uri: reference, method: .get)
                #expect(response.status == .ok, "\(reference) is referenced but answered \(response.status)")
            }
            let page = try await client.execute(uri: "/", method: .get)
            Self.expectDashboardHeaders(page, contentType: "text/html; charset=utf-8", "/")
        }
    }

    @Test func onlyPlainNamesAreServable() {
        for name in ["app.js", "favicon.svg", "a-b_c.1.css", "index.html"] {
            #expect(DashboardAssets.isPlainName(name), "\(name)")
        }
        for name in [
            "", ".", "..", ".env", ".hidden.js", "a b.js", "a%2e.js", "a/b.js", "a\\b.js", "é.js", "a\u{0}.js",
        ] {
            #expect(!DashboardAssets.isPlainName(name), "\(name)")
        }
    }
}
