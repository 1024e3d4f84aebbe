import AsyncHTTPClient
import Foundation
import Metrics
import MetricsTestKit
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Proxy

extension EndToEnd {
    /// Protected sites over real sockets (`docs/site-rules.md`, Protected
    /// sites): the sign-in page, the session cookie, HTTP Basic, the
    /// attempt limit, private answers and the reserved `/.slipway/` paths.
    @Suite struct ProtectionEndToEndTests {
        /// Cheap scrypt parameters: the edge verifies whatever cost the hash names.
        static func hash(_ password: String) -> String {
            PasswordHash.make(password, cost: PasswordHash.Cost(n: 16, r: 1, p: 1))
        }

        static let form = [("Content-Type", "application/x-www-form-urlencoded")]

        /// Protects `site` and waits until the edge's table has the new settings.
        @discardableResult
        static func protect(
            _ proxy: TestProxy, _ site: Site, mode: ProtectionMode = .password, username: String? = nil,
            password: String, previewsOnly: Bool = false
        ) async throws -> Site {
            let hash = Self.hash(password)
            let updated = try await proxy.catalog.updateSite(id: site.id) {
                $0.protection = SiteProtection(mode: mode, username: username, previewsOnly: previewsOnly)
                $0.newPasswordHash = hash
            }
            try await proxy.waitUntil("the edge knows the protection of \(site.slug)") { [server = proxy.server] in
                server.siteTable.lookup(slug: site.slug)?.protection == updated.protection
            }
            return updated
        }

        static func signIn(
            _ proxy: TestProxy, host: String, password: String, returnPath: String = "/"
        ) async throws -> TestResponse {
            let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
            let back = returnPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? returnPath
            return try await proxy.request(
                "/.slipway/auth", host: host, method: .POST, headers: form, body: "password=\(encoded)&return=\(back)")
        }

        /// The `name=value` part of a `Set-Cookie`.
        static func cookie(of response: TestResponse) throws -> String {
            let setCookie = try #require(response.header("Set-Cookie"))
            return String(setCookie.split(separator: ";")[0])
        }

        @Test(arguments: EdgeTransport.allCases) func aPasswordProtectedHostServesOnlyASignedInVisitor(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let deployed = try await proxy.deploy("docs", as: "manual")
                let files = deployed.fixture
                let host = "manual.\(TestProxy.domain)"
                try await Self.protect(proxy, deployed.site, password: "open sesame")

                // No cookie: the sign-in page, which comes back to the page asked for.
                let page = try await proxy.request("/docs/?tab=2", host: host)
                #expect(page.status == 401)
                #expect(page.text.contains("action=\"/.slipway/auth\""))
                #expect(page.text.contains("name=\"return\" value=\"/docs/?tab=2\""))
                #expect(page.header("Cache-Control") == "private, no-store")
                #expect(page.header("X-Robots-Tag") == "noindex")
                #expect(!page.text.contains(String(decoding: files.data("index.html"), as: UTF8.self)))

                // A wrong password: refused, no cookie, no hint.
                let wrong = try await Self.signIn(proxy, host: host, password: "open says me")
                #expect(wrong.status == 401 && wrong.text.contains("Wrong password"))
                #expect(wrong.header("Set-Cookie") == nil)

                // The right one: 303 back with a host-only, HttpOnly, Lax session cookie.
                let right = try await Self.signIn(proxy, host: host, password: "open sesame", returnPath: "/docs/")
                #expect(right.status == 303 && right.header("Location") == "/docs/")
                let setCookie = try #require(right.header("Set-Cookie"))
                #expect(
                    setCookie.contains("; Path=/;") && setCookie.contains("; HttpOnly")
                        && setCookie.contains("SameSite=Lax"))
                #expect(!setCookie.lowercased().contains("domain="))
                #expect(setCookie.hasSuffix("; Secure") == (transport != .plain))
                let cookie = try Self.cookie(of: right)

                // Signed in: the site, every answer private.
                let root = try await proxy.request("/", host: host, headers: [("Cookie", "a=b; \(cookie)")])
                #expect(root.status == 200 && root.body == Array(files.data("index.html")))
                #expect(root.header("Cache-Control") == "private, no-cache")
                let asset = try await proxy.request("/style.8e1f5c3a.css", host: host, headers: [("Cookie", cookie)])
                #expect(asset.status == 200 && asset.header("Cache-Control") == "private, no-cache")
                let missing = try await proxy.request("/nothing/here", host: host, headers: [("Cookie", cookie)])
                #expect(missing.status == 404 && missing.body == Array(files.data("404.html")))
                #expect(missing.header("Cache-Control") == "private, no-cache")
                let etag = try #require(root.header("ETag"))
                let notModified = try await proxy.request(
                    "/", host: host, headers: [("Cookie", cookie), ("If-None-Match", etag)])
                #expect(notModified.status == 304 && notModified.header("Cache-Control") == "private, no-cache")
                let reserved = try await proxy.request("/.slipway/anything", host: host, headers: [("Cookie", cookie)])
                #expect(reserved.status == 404 && reserved.header("Cache-Control") == "private, no-store")

                // The cookie is good for this host only: not for the build's preview host.
                let previewHost = "\(deployed.build.number)--manual.\(TestProxy.domain)"
                let elsewhere = try await proxy.request("/", host: previewHost, headers: [("Cookie", cookie)])
                #expect(elsewhere.status == 401 && elsewhere.header("X-Robots-Tag") == "noindex")

                // A changed byte is no cookie.
                var bytes = Array(cookie.utf8)
                let index = bytes.count - 5
                bytes[index] = bytes[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
                let tampered = try await proxy.request(
                    "/", host: host, headers: [("Cookie", String(decoding: bytes, as: UTF8.self))])
                #expect(tampered.status == 401)

                // Signing out clears it.
                let out = try await proxy.request(
                    "/.slipway/logout", host: host, method: .POST, headers: [("Cookie", cookie)] + Self.form, body: "")
                #expect(out.status == 303 && out.header("Location") == "/")
                #expect(out.header("Set-Cookie")?.contains("Max-Age=0") == true)

                // A new password signs everyone out.
                try await Self.protect(proxy, deployed.site, password: "a new password")
                #expect(try await proxy.request("/", host: host, headers: [("Cookie", cookie)]).status == 401)
            }
        }

        @Test func failedSignInsAreCountedPerClientAndHostUntil429() async throws {
            let metrics = TestMetrics()
            try await withTestProxy(metricsFactory: metrics, configure: { $0.protection.maxFailures = 3 }) { proxy in
                @Sendable func signIns(_ result: String) -> Int64 {
                    (try? metrics.expectCounter("slipway_proxy_sign_ins_total", [("result", result)]).totalValue) ?? 0
                }
                let deployed = try await proxy.deploy("docs", as: "manual")
                let host = "manual.\(TestProxy.domain)"
                try await Self.protect(proxy, deployed.site, password: "open sesame")
                for _ in 0..<3 {
                    #expect(try await Self.signIn(proxy, host: host, password: "guess guess").status == 401)
                }
                let limited = try await Self.signIn(proxy, host: host, password: "guess guess")
                #expect(limited.status == 429)
                let wait = try #require(limited.header("Retry-After").flatMap(Int.init))
                #expect(wait >= 1 && wait <= 60)
                // While refused, not even the right password is checked.
                #expect(try await Self.signIn(proxy, host: host, password: "open sesame").status == 429)
                // Another host of the same client has its own count.
                let preview = "\(deployed.build.number)--manual.\(TestProxy.domain)"
                #expect(try await Self.signIn(proxy, host: preview, password: "guess guess").status == 401)
                #expect(try await Self.signIn(proxy, host: preview, password: "open sesame").status == 303)
                #expect(signIns("refused") == 4 && signIns("limited") == 2 && signIns("accepted") == 1)
            }
        }

        @Test func theReturnPathIsNeverAnotherSite() async throws {
            try await withTestProxy { proxy in
                let deployed = try await proxy.deploy("docs", as: "manual")
                let host = "manual.\(TestProxy.domain)"
                try await Self.protect(proxy, deployed.site, password: "open sesame")
                for attack in ["//evil.com", "https://evil.com", "/\\evil.com", "/.slipway/logout"] {
                    let answer = try await Self.signIn(proxy, host: host, password: "open sesame", returnPath: attack)
                    #expect(answer.status == 303 && answer.header("Location") == "/", "\(attack)")
                }
                // Nor from the page's own field.
                let page = try await proxy.request("//evil.com/x", host: host)
                #expect(page.status == 401 && page.text.contains("name=\"return\" value=\"/\""))
            }
        }

        @Test func previewsOnlyLeavesProductionPublicAndEveryPreviewIsNoindex() async throws {
            try await withTestProxy { proxy in
                let deployed = try await proxy.deploy("docs", as: "manual")
                let preview = "\(deployed.build.number)--manual.\(TestProxy.domain)"
                let before = try await proxy.request("/", host: preview)
                #expect(before.status == 200 && before.header("X-Robots-Tag") == "noindex")
                try await Self.protect(proxy, deployed.site, password: "open sesame", previewsOnly: true)
                let production = try await proxy.get("/", slug: "manual")
                #expect(production.status == 200 && production.header("X-Robots-Tag") == nil)
                #expect(production.header("Cache-Control")?.contains("private") == false)
                let guarded = try await proxy.request("/", host: preview)
                #expect(guarded.status == 401 && guarded.header("X-Robots-Tag") == "noindex")
                let cookie = try Self.cookie(of: try await Self.signIn(proxy, host: preview, password: "open sesame"))
                let inside = try await proxy.request("/", host: preview, headers: [("Cookie", cookie)])
                #expect(inside.status == 200 && inside.header("X-Robots-Tag") == "noindex")
                #expect(inside.header("Cache-Control") == "private, no-cache")
            }
        }

        @Test(arguments: EdgeTransport.allCases) func basicModeChallengesAndAdmitsTheRightCredentials(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let deployed = try await proxy.deploy("docs", as: "manual")
                let host = "manual.\(TestProxy.domain)"
                try await Self.protect(proxy, deployed.site, mode: .basic, username: "team", password: "open sesame")
                func basic(_ user: String, _ password: String) -> [(String, String)] {
                    [("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())]
                }
                let challenge = try await proxy.request("/", host: host)
                #expect(challenge.status == 401)
                #expect(challenge.header("WWW-Authenticate") == "Basic realm=\"\(host)\", charset=\"UTF-8\"")
                #expect(challenge.header("Cache-Control") == "private, no-store")
                #expect(try await proxy.request("/", host: host, headers: basic("team", "wrong one")).status == 401)
                #expect(try await proxy.request("/", host: host, headers: basic("teams", "open sesame")).status == 401)
                for _ in 0..<2 {
                    // The second answer comes from the verified-credentials cache.
                    let inside = try await proxy.request("/", host: host, headers: basic("team", "open sesame"))
                    #expect(inside.status == 200 && inside.body == Array(deployed.fixture.data("index.html")))
                    #expect(inside.header("Cache-Control") == "private, no-cache")
                }
                // A new password: the old credentials stop working.
                try await Self.protect(proxy, deployed.site, mode: .basic, username: "team", password: "next secret")
                #expect(try await proxy.request("/", host: host, headers: basic("team", "open sesame")).status == 401)
                #expect(try await proxy.request("/", host: host, headers: basic("team", "next secret")).status == 200)
            }
        }

        @Test func otherRequestBodiesAreRefusedAsBefore() async throws {
            try await withTestProxy { proxy in
                let deployed = try await proxy.deploy("docs", as: "manual")
                _ = try await proxy.deploy("docs", as: "open")
                let host = "manual.\(TestProxy.domain)"
                try await Self.protect(proxy, deployed.site, password: "open sesame")
                #expect(try await proxy.request("/", host: host, method: .POST, body: "x=1").status == 405)
                #expect(
                    try await proxy.request("/", host: "open.\(TestProxy.domain)", method: .POST, body: "x").status
                        == 405)
                let large = String(repeating: "a", count: 2048)
                #expect(try await proxy.request("/", host: host, method: .POST, body: large).status == 413)
                let tooLargeForm = "password=" + String(repeating: "a", count: 5000)
                #expect(
                    try await proxy.request(
                        "/.slipway/auth", host: host, method: .POST, headers: Self.form, body: tooLargeForm
                    )
                    .status == 413)
                // The sign-in path of an unprotected host is nothing; its reserved paths are never files.
                let open = "open.\(TestProxy.domain)"
                #expect(try await Self.signIn(proxy, host: open, password: "whatever").status == 404)
                #expect(try await proxy.request("/.slipway/auth", host: open).status == 404)
            }
        }

        @Test func aHostAnsweredFromPreparedAnswersIsCheckedOnceProtected() async throws {
            try await withTestProxy { proxy in
                let deployed = try await proxy.deploy("docs", as: "manual")
                for _ in 0..<3 { #expect(try await proxy.get("/", slug: "manual").status == 200) }
                try await Self.protect(proxy, deployed.site, password: "open sesame")
                for _ in 0..<3 { #expect(try await proxy.get("/", slug: "manual").status == 401) }
                let cookie = try Self.cookie(
                    of: try await Self.signIn(proxy, host: "manual.\(TestProxy.domain)", password: "open sesame"))
                for _ in 0..<3 {
                    let inside = try await proxy.get("/", slug: "manual", headers: [("Cookie", cookie)])
                    #expect(inside.status == 200 && inside.header("Cache-Control") == "private, no-cache")
                }
                // Without the cookie, still nothing: no answer of the host was prepared.
                #expect(try await proxy.get("/", slug: "manual").status == 401)
            }
        }
    }
}
