import Foundation
import Model
import NIOCore
import NIOHTTP1
import SlipwayTestSupport
import Storage
import Testing

@testable import Admin

/// Custom domains through the admin API: added as apex/`www` pairs with
/// the records to create, refused when malformed or taken, changed,
/// checked again and removed.
@Suite struct AdminDomainTests {
    static func configure(_ configuration: inout AdminConfiguration) {
        configuration.domainTarget = DomainTarget(
            hostname: "edge.example.net", addresses: ["203.0.113.7", "2001:db8::7"])
        configuration.maxDomainsPerDeployment = 4
    }

    @Test func anApexIsAddedWithItsWwwAndTheRecordsToCreate() async throws {
        try await AdminTestServer.run(configure: Self.configure) { server in
            _ = try await server.createDeployment(slug: "blog")
            let added = try await server.request(
                .POST, "/api/deployments/blog/domains",
                body: #"{"hostname": "Example.COM.", "primary": "www.example.com"}"#)
            #expect(added.status == 201, "\(added.body)")
            let domains = try #require(try added.json["domains"] as? [[String: Any]])
            #expect(domains.map { $0["hostname"] as? String } == ["example.com", "www.example.com"])
            let apex = domains[0]
            let www = domains[1]
            #expect(apex["apex"] as? Bool == true && www["apex"] as? Bool == false)
            #expect(apex["redirectTo"] as? String == "www.example.com" && www["redirectTo"] is NSNull)
            #expect(apex["status"] as? String == "pending" && apex["certificateStatus"] as? String == "none")
            #expect(apex["deployment"] as? String == "blog" && apex["url"] as? String == "http://example.com")
            let site = try await server.catalog.site(slug: "blog")
            let stored = try #require(try await server.catalog.domain(hostname: "example.com"))
            #expect(stored.siteID == site.id)
            let records = try #require(apex["dnsRecords"] as? [[String: String]])
            #expect(
                records == [
                    [
                        "type": "TXT", "name": "_slipway-challenge.example.com",
                        "value": "slipway-verify=\(stored.verificationToken)",
                        "purpose": "proves that you own the domain; keep it while the domain is in use",
                    ],
                    [
                        "type": "A", "name": "example.com", "value": "203.0.113.7",
                        "purpose": "routes the apex to Slipway",
                    ],
                    [
                        "type": "AAAA", "name": "example.com", "value": "2001:db8::7",
                        "purpose": "routes the apex to Slipway",
                    ],
                ])
            let wwwRecords = try #require(www["dnsRecords"] as? [[String: String]])
            #expect(wwwRecords.first?["name"] == "_slipway-challenge.example.com", "one ownership record for the pair")
            #expect(
                wwwRecords.last == [
                    "type": "CNAME", "name": "www.example.com", "value": "edge.example.net",
                    "purpose": "routes the name to Slipway",
                ])

            let listed = try await server.request(.GET, "/api/deployments/blog/domains")
            #expect((try listed.json["domains"] as? [[String: Any]])?.count == 2)
            let one = try await server.request(.GET, "/api/deployments/blog/domains/WWW.example.com")
            #expect(try one.status == 200 && one.json["hostname"] as? String == "www.example.com", "\(one.body)")
        }
    }

    @Test(arguments: [
        ("192.0.2.1", "is an IP address"), ("[2001:db8::1]", "is an IP address"), ("*.example.com", "is a wildcard"),
        ("blog.apps.test", "apps domain"), ("apps.test", "apps domain"), ("exa_mple.com", "may only hold"),
        ("-bad.example.com", "starts or ends with '-'"), ("localhost", "single label"),
        ("bücher.example", "punycode"), ("https://example.com/", "not a host name"),
        (String(repeating: "a.", count: 127) + "com", "longer than 253 bytes"),
        (String(repeating: "a", count: 64) + ".com", "longer than 63 bytes"),
    ])
    func malformedNamesAreRefusedWithWhatToDo(_ name: String, _ reason: String) async throws {
        try await AdminTestServer.run(configure: Self.configure) { server in
            _ = try await server.createDeployment(slug: "blog")
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ["hostname": name]), as: UTF8.self)
            let reply = try await server.request(.POST, "/api/deployments/blog/domains", body: body)
            #expect(reply.status == 422, "\(reply.body)")
            #expect(reply.errorMessage?.contains(reason) == true, "\(reply.errorMessage ?? reply.body)")
            #expect(try await server.catalog.allDomains().isEmpty)
        }
    }

    @Test func aNameBelongsToOneDeploymentAndTheLimitHolds() async throws {
        try await AdminTestServer.run(configure: Self.configure) { server in
            _ = try await server.createDeployment(slug: "blog")
            _ = try await server.createDeployment(slug: "shop")
            #expect(
                try await server.request(
                    .POST, "/api/deployments/blog/domains", body: #"{"hostname": "www.example.com"}"#
                )
                .status == 201)
            let taken = try await server.request(
                .POST, "/api/deployments/shop/domains", body: #"{"hostname": "example.com"}"#)
            #expect(taken.status == 409 && taken.errorCode == "domain_taken", "\(taken.body)")
            let alone = try await server.request(
                .POST, "/api/deployments/shop/domains", body: #"{"hostname": "docs.example.org", "pairWww": false}"#)
            #expect(try alone.status == 201 && (alone.json["domains"] as? [Any])?.count == 1, "\(alone.body)")
            #expect(
                try await server.request(
                    .POST, "/api/deployments/shop/domains", body: #"{"hostname": "a.example.org"}"#
                )
                .status == 201)
            #expect(
                try await server.request(
                    .POST, "/api/deployments/shop/domains", body: #"{"hostname": "b.example.org"}"#
                )
                .status == 201)
            let limited = try await server.request(
                .POST, "/api/deployments/shop/domains", body: #"{"hostname": "example.net"}"#)
            #expect(limited.status == 422 && limited.errorCode == "domain_limit", "\(limited.body)")
            #expect(limited.errorMessage?.contains("SLIPWAY_MAX_DOMAINS_PER_DEPLOYMENT") == true)
            let wrongPrimary = try await server.request(
                .POST, "/api/deployments/shop/domains",
                body: #"{"hostname": "c.example.org", "primary": "d.example.org"}"#)
            #expect(wrongPrimary.status == 422, "\(wrongPrimary.body)")
            let unknown = try await server.request(
                .POST, "/api/deployments/nothing/domains", body: #"{"hostname": "e.example.org"}"#)
            #expect(unknown.status == 404)
        }
    }

    @Test func settingsChangeChecksRestartAndRemovalTakesThePair() async throws {
        try await AdminTestServer.run(configure: Self.configure) { server in
            _ = try await server.createDeployment(slug: "blog")
            _ = try await server.createDeployment(slug: "shop")
            _ = try await server.request(.POST, "/api/deployments/blog/domains", body: #"{"hostname": "example.com"}"#)
            let patched = try await server.request(
                .PATCH, "/api/deployments/blog/domains/example.com",
                body: #"{"hstsMaxAge": 31536000, "httpsRedirect": false}"#)
            #expect(patched.status == 200, "\(patched.body)")
            #expect((try patched.json["hstsMaxAge"] as? Int) == 31_536_000)
            #expect((try patched.json["httpsRedirect"] as? Bool) == false)
            let tooLong = try await server.request(
                .PATCH, "/api/deployments/blog/domains/example.com", body: #"{"hstsMaxAge": 99999999}"#)
            #expect(tooLong.status == 422, "\(tooLong.body)")
            let off = try await server.request(
                .PATCH, "/api/deployments/blog/domains/example.com", body: #"{"hstsMaxAge": null}"#)
            #expect((try off.json["hstsMaxAge"]) is NSNull)

            // Checks that gave up start again on request.
            try await server.catalog.updateDomain(hostname: "example.com") {
                $0.status = .failed
                $0.checkAttempts = 40
                $0.nextCheckAt = nil
            }
            let verify = try await server.request(.POST, "/api/deployments/blog/domains/example.com/verify")
            #expect(verify.status == 202, "\(verify.body)")
            let again = try #require(try await server.catalog.domain(hostname: "example.com"))
            #expect(again.status == .pending && again.checkAttempts == 0 && again.nextCheckAt != nil)

            // Another deployment cannot see or remove it.
            #expect(try await server.request(.DELETE, "/api/deployments/shop/domains/example.com").status == 404)
            let removed = try await server.request(.DELETE, "/api/deployments/blog/domains/www.example.com")
            #expect(removed.status == 200, "\(removed.body)")
            #expect((try removed.json["domains"] as? [[String: Any]])?.count == 2)
            #expect(try await server.catalog.allDomains().isEmpty)
            #expect(try await server.request(.GET, "/api/deployments/blog/domains/example.com").status == 404)
        }
    }

    @Test func aDeployTokenReadsItsDomainsButChangesNone() async throws {
        try await AdminTestServer.run(configure: Self.configure) { server in
            _ = try await server.createDeployment(slug: "blog")
            _ = try await server.request(.POST, "/api/deployments/blog/domains", body: #"{"hostname": "example.com"}"#)
            let (_, secret) = try await server.createToken(name: "ci", scope: "deploy:blog")
            #expect(try await server.request(.GET, "/api/deployments/blog/domains", token: secret).status == 200)
            let add = try await server.request(
                .POST, "/api/deployments/blog/domains", body: #"{"hostname": "example.org"}"#, token: secret)
            #expect(add.status == 403 && add.errorCode == "insufficient_scope", "\(add.body)")
            #expect(
                try await server.request(.DELETE, "/api/deployments/blog/domains/example.com", token: secret).status
                    == 403)
        }
    }

    @Test func aCertificateNearExpiryWhoseRenewalsFailIsAWarningInTheDomainAndTheStats() async throws {
        try await AdminTestServer.run(configure: Self.configure) { server in
            _ = try await server.createDeployment(slug: "blog")
            _ = try await server.request(
                .POST, "/api/deployments/blog/domains", body: #"{"hostname": "app.example.com"}"#)
            let now = Date()
            let certificate = DomainCertificate(
                chainKey: "tls/certs/app.example.com/a.pem", keyKey: "tls/keys/app.example.com/a.key",
                sha256: String(repeating: "a", count: 64), notBefore: now.addingTimeInterval(-80 * 86_400),
                notAfter: now.addingTimeInterval(5 * 86_400), renewAt: now.addingTimeInterval(-20 * 86_400),
                source: .acme)
            #expect((try await server.request(.GET, "/api/stats").json["domainWarnings"] as? [Any])?.isEmpty == true)
            try await server.catalog.updateDomain(hostname: "app.example.com") { domain in
                domain.status = .active
                domain.certificate = certificate
                domain.certificateStatus = .renewing
                domain.lastError = DomainProblem(
                    code: "acme:unauthorized", detail: "the CA could not reach it", at: now)
            }
            let domain = try await server.request(.GET, "/api/deployments/blog/domains/app.example.com").json
            let warning = try #require(domain["warning"] as? String)
            #expect(warning.contains("expires in 4 day") || warning.contains("expires in 5 day"), "\(warning)")
            #expect(warning.contains("the CA could not reach it"))
            #expect(domain["url"] as? String == "https://app.example.com")
            let warnings = try #require(
                try await server.request(.GET, "/api/stats").json["domainWarnings"] as? [[String: String]])
            #expect(warnings == [["hostname": "app.example.com", "warning": warning]])
        }
    }

    /// A self-signed certificate for `names` and its key, made by openssl.
    static func selfSigned(_ names: [String], days: Int = 30) async throws -> (chain: String, key: String) {
        try await onOwnThread { try selfSignedNow(names, days: days) }
    }

    private static func selfSignedNow(_ names: [String], days: Int) throws -> (chain: String, key: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-cert-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = TestProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
            "\(days)", "-subj", "/CN=\(names[0])", "-addext",
            "subjectAltName=" + names.map { "DNS:\($0)" }.joined(separator: ","), "-keyout", directory + "/key.pem",
            "-out", directory + "/cert.pem",
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (
            try String(contentsOfFile: directory + "/cert.pem", encoding: .utf8),
            try String(contentsOfFile: directory + "/key.pem", encoding: .utf8)
        )
    }

    @Test func anUploadedCertificateIsCheckedStoredSealedAndNeverRenewedOrShown() async throws {
        try await AdminTestServer.run(configure: Self.configure) { server in
            _ = try await server.createDeployment(slug: "blog")
            _ = try await server.request(
                .POST, "/api/deployments/blog/domains", body: #"{"hostname": "app.example.com", "pairWww": false}"#)
            let path = "/api/deployments/blog/domains/app.example.com/certificate"
            func body(_ chain: String, _ key: String) throws -> String {
                String(
                    decoding: try JSONSerialization.data(withJSONObject: ["certificate": chain, "privateKey": key]),
                    as: UTF8.self)
            }
            let good = try await Self.selfSigned(["app.example.com"])
            let other = try await Self.selfSigned(["other.example.com"])
            let wildcard = try await Self.selfSigned(["*.example.com"])

            let wrongName = try await server.request(.PUT, path, body: try body(other.chain, other.key))
            #expect(wrongName.status == 422 && wrongName.errorMessage?.contains("other.example.com") == true)
            let wrongKey = try await server.request(.PUT, path, body: try body(good.chain, other.key))
            #expect(wrongKey.status == 422 && wrongKey.errorMessage?.contains("does not belong") == true)
            #expect(!(wrongKey.body.contains("PRIVATE KEY")), "the key is never quoted")
            let notPEM = try await server.request(.PUT, path, body: try body("hello", good.key))
            #expect(notPEM.status == 422)
            #expect(try await server.catalog.domain(hostname: "app.example.com")?.certificate == nil)

            let uploaded = try await server.request(.PUT, path, body: try body(good.chain, good.key))
            #expect(uploaded.status == 200, "\(uploaded.body)")
            #expect(!uploaded.body.contains("PRIVATE KEY"))
            let shown = try #require(try uploaded.json["certificate"] as? [String: Any])
            #expect(shown["source"] as? String == "uploaded" && shown["renewAt"] is NSNull)
            #expect((try uploaded.json["certificateStatus"]) as? String == "active")
            let stored = try #require(try await server.catalog.domain(hostname: "app.example.com")?.certificate)
            let sealed = String(buffer: try await server.store.getBytes(stored.keyKey))
            #expect(SecretKeyring.isSealed(sealed) && !sealed.contains("PRIVATE KEY"))
            #expect(String(buffer: try await server.store.getBytes(stored.chainKey)) == good.chain)

            // A wildcard one label up covers the name too.
            #expect(try await server.request(.PUT, path, body: try body(wildcard.chain, wildcard.key)).status == 200)

            // Back to the CA.
            let removed = try await server.request(.DELETE, path)
            #expect(try removed.status == 200 && removed.json["certificate"] is NSNull, "\(removed.body)")
            #expect((try removed.json["certificateStatus"]) as? String == "none")
            #expect(try await server.request(.DELETE, path).status == 409)
        }
    }
}
