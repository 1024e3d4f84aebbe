import Foundation
import SlipwayTestSupport
import Storage
import Testing

/// Custom domains across a fleet of `slipway serve` processes over
/// PostgreSQL and the Ceph gateway, with a real ACME CA (Pebble) and mock
/// DNS: the admin node checks the domain and gets its certificate, and a
/// proxy process that was already running serves it over HTTP/2 without a
/// restart. Part of ``FleetTests`` (serialized), so that two fleets never
/// start at once.
extension FleetTests {
    @Test(
        .enabled(if: PebbleServer.shouldRun, "needs Pebble: run scripts/test"), .timeLimit(.minutes(5)))
    func aProxyProcessAlreadyRunningServesTheNewCertificateOverHTTP2() async throws {
        let s3 = try TestS3.requireEnvironment()
        let bucket = TestS3.uniqueBucketName()
        let database = try await PrivatePostgres.start()
        defer { database.clean() }
        let store = try S3ObjectStore(
            configuration: TestS3.configuration(bucket: bucket, environment: s3), logger: TestS3.logger)
        defer { Task { try? await store.shutdown() } }
        try await store.createBucket()

        // The CA validates on proxy-1's plain port; the routing probe goes there too.
        let plainPort = try freePort()
        let pebble = try await PebbleServer.start(httpPort: plainPort)
        defer { pebble.stop() }
        let fleet = Fleet(
            environment: [
                "SLIPWAY_PROXY_HOST": "127.0.0.1", "SLIPWAY_ADMIN_HOST": "127.0.0.1",
                "SLIPWAY_ADMIN_TOKEN": Self.token, "SLIPWAY_STORAGE": "s3", "SLIPWAY_S3_ENDPOINT": s3.endpoint,
                "SLIPWAY_S3_BUCKET": bucket, "SLIPWAY_S3_REGION": s3.region,
                "SLIPWAY_S3_ACCESS_KEY_ID": s3.accessKeyID, "SLIPWAY_S3_SECRET_ACCESS_KEY": s3.secretAccessKey,
                "SLIPWAY_ACME_DIRECTORY": pebble.directoryURL, "SLIPWAY_ACME_CA_FILE": pebble.apiCAFile,
                "SLIPWAY_DNS_RESOLVERS": pebble.dns.dnsAddress, "SLIPWAY_DOMAIN_PROBE_PORT": "\(plainPort)",
                "SLIPWAY_DOMAIN_CHECK_INTERVAL": "300ms",
            ], databaseURL: database.url)
        defer { fleet.stopAll() }
        fleet.ports["proxy-1"] = plainPort
        let tlsPorts = (try freePort(), try freePort())
        try await fleet.start("admin", roles: "admin")
        try await fleet.start("proxy-1", roles: "proxy", extra: ["SLIPWAY_TLS_PORT": "\(tlsPorts.0)"])
        try await fleet.start("proxy-2", roles: "proxy", extra: ["SLIPWAY_TLS_PORT": "\(tlsPorts.1)"])

        let created = try await fleet.admin.send(
            "POST", "/api/deployments", body: ["slug": "shop", "repoUrl": "https://git.example.test/shop.git"])
        #expect(created.status == 201, "\(created.json)")
        let added = try await fleet.admin.send(
            "POST", "/api/deployments/shop/domains", body: ["hostname": "app.example.test", "pairWww": false])
        #expect(added.status == 201, "\(added.json)")
        let domain = try #require((added.json["domains"] as? [[String: Any]])?.first)
        let txt = try #require((domain["dnsRecords"] as? [[String: Any]])?.first)
        try await pebble.dns.setTXT(try #require(txt["name"] as? String), try #require(txt["value"] as? String))
        #expect(
            try await fleet.admin.send("POST", "/api/deployments/shop/domains/app.example.test/verify").status == 202)

        var seen: [String: Any] = [:]
        for _ in 0..<600 {
            seen = try await fleet.admin.send("GET", "/api/deployments/shop/domains/app.example.test").json
            if seen["certificateStatus"] as? String == "active" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(seen["status"] as? String == "active", "\(seen)")
        #expect(seen["certificateStatus"] as? String == "active", "\(seen)\n\(fleet.output("admin").suffix(3000))")

        // Both proxies, proxy-2 never restarted, hand out the CA's chain for the name over HTTP/2.
        let root = temporaryDirectory() + "/pebble-root.pem"
        try Data(try await pebble.issuingRoots().utf8).write(to: URL(fileURLWithPath: root))
        for port in [tlsPorts.0, tlsPorts.1] {
            var answer = ""
            for _ in 0..<100 {
                answer = try await Self.curl([
                    "--http2", "--resolve", "app.example.test:\(port):127.0.0.1", "--cacert", root,
                    "https://app.example.test:\(port)/", "-o", "/dev/null", "-w",
                    "%{http_version} %{ssl_verify_result}",
                ])
                if answer.hasPrefix("2 0") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(answer.hasPrefix("2 0"), "port \(port): \(answer)")
        }
        // Removing the domain drops the certificate on every proxy at once.
        #expect(try await fleet.admin.send("DELETE", "/api/deployments/shop/domains/app.example.test").status == 200)
        var refused = false
        for _ in 0..<100 where !refused {
            let answer = try await Self.curl([
                "--resolve", "app.example.test:\(tlsPorts.1):127.0.0.1", "--cacert", root,
                "https://app.example.test:\(tlsPorts.1)/", "-o", "/dev/null", "-w", "%{http_code}",
            ])
            refused = answer.hasPrefix("000")
            if !refused { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(refused, "the handshake for a removed domain fails")
    }

    /// Runs curl; its `-w` output (curl's failures show as `000`).
    static func curl(_ arguments: [String]) async throws -> String {
        try await onOwnThread { try curlNow(arguments) }
    }

    private static func curlNow(_ arguments: [String]) throws -> String {
        let process = TestProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "--max-time", "5"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text
    }
}
