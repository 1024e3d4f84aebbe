import Foundation
import Postgres
import SlipwayTestSupport
import Storage
import Testing

/// Slipway as a fleet: one admin, two builders and two proxies, each its own
/// `slipway serve` process with its own data directory, sharing one
/// PostgreSQL schema and one bucket on the Ceph gateway.
@Suite(
    .serialized,
    .enabled(if: TestPostgres.shouldRun && TestS3.shouldRun, "needs PostgreSQL and S3: run scripts/test"))
struct FleetTests {
    static let token = "fleet-token-" + String(repeating: "f", count: 32)

    /// The fleet's processes, stopped (SIGKILL) when the test ends.
    final class Fleet: @unchecked Sendable {
        // Touched from the test's task only.
        var processes: [String: SlipwayProcess] = [:]
        var ports: [String: Int] = [:]
        var operationsPorts: [String: Int] = [:]
        let environment: [String: String]
        let settings: PostgresSettings

        init(environment: [String: String], settings: PostgresSettings) {
            self.environment = environment
            self.settings = settings
        }

        /// Starts `name` with `roles`; proxies get a port of their own, the admin too.
        func start(_ name: String, roles: String) async throws {
            let port = try ports[name] ?? freePort()
            ports[name] = port
            var environment = environment
            environment["SLIPWAY_ROLES"] = roles
            environment["SLIPWAY_DATABASE_URL"] = try TestPostgres.url(
                for: settings, applicationName: "fleet-\(name)-\(settings.schema)")
            environment["SLIPWAY_PROXY_PORT"] = "\(roles == "proxy" ? port : try freePort())"
            environment["SLIPWAY_ADMIN_PORT"] = "\(roles == "admin" ? port : try freePort())"
            let operations = try operationsPorts[name] ?? freePort()
            operationsPorts[name] = operations
            environment["SLIPWAY_OPERATIONS_PORT"] = "\(operations)"
            let data = temporaryDirectory()
            processes[name] = try SlipwayProcess.start(["serve", "--data-dir", data], environment: environment)
            if roles == "proxy" {
                // Its load balancer's check: ready once its site table is loaded and it listens for events.
                try await AdminClient(port: operations, token: "").waitUntilReady()
                try await waitForPort(port)
            } else if roles == "admin" {
                try await AdminClient(port: port, token: FleetTests.token).waitUntilReady()
            } else {
                // Logged on standard error.
                for _ in 0..<600 where !output(name).contains("build workers started") {
                    try await Task.sleep(for: .milliseconds(100))
                }
                guard output(name).contains("build workers started") else {
                    throw TestFailure("\(name) did not start its workers:\n\(output(name))")
                }
            }
        }

        func kill(_ name: String) {
            processes[name]?.kill()
        }

        func stopAll() {
            for name in processes.keys { processes[name]?.kill() }
        }

        var admin: AdminClient { AdminClient(port: ports["admin"]!, token: FleetTests.token) }

        func output(_ name: String) -> String {
            guard let process = processes[name] else { return "" }
            return process.output + process.errorOutput
        }
    }

    /// The page `slug` serves on the proxy `name`.
    static func page(_ fleet: Fleet, _ name: String, slug: String) async throws -> (status: Int, body: String) {
        try await httpGet(port: fleet.ports[name]!, host: "\(slug).localhost")
    }

    static func waitForBuild(_ fleet: Fleet, _ id: String, toBe wanted: Set<String>, within seconds: Int = 120)
        async throws -> [String: Any]
    {
        var build: [String: Any] = [:]
        for _ in 0..<(seconds * 10) {
            build = try await fleet.admin.send("GET", "/api/builds/\(id)").json
            if let status = build["status"] as? String, wanted.contains(status) { return build }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("build \(id) never became \(wanted); it is \(build)")
    }

    @Test func aFleetBuildsFailsOverFromAKilledBuilderAndEveryProxyFollowsEveryFlip() async throws {
        let s3 = try TestS3.requireEnvironment()
        let bucket = TestS3.uniqueBucketName()
        let store = try S3ObjectStore(
            configuration: TestS3.configuration(bucket: bucket, environment: s3), logger: TestS3.logger)
        do {
            try await store.createBucket()
            try await runFleet(s3: s3, bucket: bucket)
        } catch {
            try? await store.shutdown()
            throw error
        }
        try await store.shutdown()
    }

    func runFleet(s3: TestS3.Environment, bucket: String) async throws {
        try await TestPostgres.withSchema { settings in
            let gate = temporaryDirectory() + "/gate"
            let fleet = Fleet(
                environment: [
                    "SLIPWAY_PROXY_HOST": "127.0.0.1", "SLIPWAY_ADMIN_HOST": "127.0.0.1",
                    "SLIPWAY_ADMIN_TOKEN": Self.token, "SLIPWAY_STORAGE": "s3", "SLIPWAY_S3_ENDPOINT": s3.endpoint,
                    "SLIPWAY_S3_BUCKET": bucket, "SLIPWAY_S3_REGION": s3.region,
                    "SLIPWAY_S3_ACCESS_KEY_ID": s3.accessKeyID, "SLIPWAY_S3_SECRET_ACCESS_KEY": s3.secretAccessKey,
                    "SLIPWAY_BUILD_RUNNER": "local", "SLIPWAY_ALLOW_LOCAL_REPOS": "true",
                    "SLIPWAY_BUILD_CONCURRENCY": "1", "SLIPWAY_BUILD_LEASE": "10s",
                ], settings: settings)
            defer { fleet.stopAll() }
            // The admin first: its catalog migrates the schema.
            try await fleet.start("admin", roles: "admin")
            try await fleet.start("builder-1", roles: "builder")
            try await fleet.start("builder-2", roles: "builder")
            try await fleet.start("proxy-1", roles: "proxy")
            try await fleet.start("proxy-2", roles: "proxy")

            // A proxy-only node answers its operations endpoints without a token.
            let metrics = try await AdminClient(port: fleet.operationsPorts["proxy-1"]!, token: "").text("/metrics")
            #expect(metrics.status == 200 && metrics.body.contains("slipway_"), "\(metrics.body.prefix(200))")
            let health = try await AdminClient(port: fleet.operationsPorts["builder-1"]!, token: "").text("/healthz")
            #expect(health.status == 200)

            // A build that waits for the gate, so that its builder can be killed mid-build.
            let repository = try makeRepository(files: ["README": "fleet\n"])
            let created = try await fleet.admin.send(
                "POST", "/api/deployments",
                body: [
                    "slug": "fleet", "repoUrl": repository, "branch": "main", "installCommand": "true",
                    "buildCommand":
                        "until [ -f \(gate) ]; do sleep 0.1; done; mkdir -p out && echo \"build $(date +%s%N)\" > out/index.html",
                    "outputDir": "out",
                ])
            #expect(created.status == 201, "\(created.json)")
            let first = try #require(((created.json["build"] as? [String: Any])?["id"]) as? String)
            _ = try await Self.waitForBuild(fleet, first, toBe: ["building"])
            let owner = try #require(
                try await TestPostgres.strings(
                    "SELECT lease_owner FROM build WHERE id = '\(first)'", settings: settings
                ).first)
            // A worker is `<pool>-w<n>`.
            let pool = String(owner[..<(owner.lastIndex(of: "-") ?? owner.endIndex)])
            let holder = try #require(
                ["builder-1", "builder-2"].first { fleet.output($0).contains("(pool \(pool))") },
                "no builder printed pool \(pool)")
            let survivor = holder == "builder-1" ? "builder-2" : "builder-1"
            fleet.kill(holder)
            _ = FileManager.default.createFile(atPath: gate, contents: Data())

            // The surviving builder takes the lapsed lease over as attempt 2.
            let finished = try await Self.waitForBuild(fleet, first, toBe: ["success", "failed"], within: 180)
            #expect(finished["status"] as? String == "success", "\(finished)\n\(fleet.output(survivor))")
            #expect(finished["attempt"] as? Int == 2, "\(finished)")
            let v1 = try await Self.page(fleet, "proxy-1", slug: "fleet")
            #expect(v1.status == 200 && v1.body.hasPrefix("build "), "\(v1)")
            #expect(try await Self.page(fleet, "proxy-2", slug: "fleet").body == v1.body)
            let running = try await TestPostgres.strings(
                "SELECT id FROM build WHERE status = 'building'", settings: settings)
            #expect(running.isEmpty)

            // A second build, then flips between the two: both proxies follow
            // every flip and never go back to the old page once they served the new one.
            let second = try await fleet.admin.send("POST", "/api/deployments/fleet/builds", body: [:])
            let secondID = try #require(((second.json["build"] as? [String: Any])?["id"]) as? String)
            _ = try await Self.waitForBuild(fleet, secondID, toBe: ["success"])
            let v2 = try await Self.page(fleet, "proxy-1", slug: "fleet").body
            #expect(v2 != v1.body && v2.hasPrefix("build "))
            let bodies = [secondID: v2, first: v1.body]
            var latencies: [String: [Double]] = ["proxy-1": [], "proxy-2": []]
            var target = first
            for flip in 0..<40 {
                let started = ContinuousClock.now
                let answer = try await fleet.admin.send(
                    "POST", "/api/deployments/fleet/rollback", body: ["buildId": target])
                #expect(answer.status == 200, "flip \(flip): \(answer.json)")
                for proxy in ["proxy-1", "proxy-2"] {
                    var seen = false
                    for _ in 0..<1_000 {
                        let body = try await Self.page(fleet, proxy, slug: "fleet").body
                        if body == bodies[target] {
                            seen = true
                            break
                        }
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    #expect(seen, "\(proxy) never served flip \(flip)")
                    let elapsed = ContinuousClock.now - started
                    latencies[proxy]!.append(
                        Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
                    // Once served, never the old page again.
                    for _ in 0..<3 {
                        #expect(try await Self.page(fleet, proxy, slug: "fleet").body == bodies[target])
                    }
                }
                target = target == first ? secondID : first
            }
            for (proxy, values) in latencies.sorted(by: { $0.key < $1.key }) {
                let sorted = values.sorted()
                print(
                    "[fleet] \(proxy): activation visible p50 \(sorted[sorted.count / 2]) ms, max \(sorted.last!) ms over \(sorted.count) flips"
                )
            }

            // The database connections cut (as by a PostgreSQL restart): the
            // proxies reconnect, reload, and follow the next flip.
            _ = try await TestPostgres.strings(
                "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE application_name LIKE 'fleet-proxy-%-\(settings.schema)'",
                settings: settings)
            let afterCut = try await fleet.admin.send(
                "POST", "/api/deployments/fleet/rollback", body: ["buildId": target])
            #expect(afterCut.status == 200)
            for proxy in ["proxy-1", "proxy-2"] {
                var seen = false
                for _ in 0..<600 where !seen {
                    seen = (try? await Self.page(fleet, proxy, slug: "fleet").body) == bodies[target]
                    if !seen { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(seen, "\(proxy) did not follow a flip after its connections were cut")
            }

            // A proxy killed and started again serves the current build at once.
            fleet.kill("proxy-2")
            try await fleet.start("proxy-2", roles: "proxy")
            #expect(try await Self.page(fleet, "proxy-2", slug: "fleet").body == bodies[target])
        }
    }
}
