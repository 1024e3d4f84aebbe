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
        let databaseURL: String

        init(environment: [String: String], databaseURL: String) {
            self.environment = environment
            self.databaseURL = databaseURL
        }

        /// Starts `name` with `roles` (and `extra` settings) without waiting for it.
        func launch(_ name: String, roles: String, extra: [String: String] = [:]) throws {
            let port = try ports[name] ?? freePort()
            ports[name] = port
            var environment = environment.merging(extra) { $1 }
            environment["SLIPWAY_ROLES"] = roles
            environment["SLIPWAY_DATABASE_URL"] = databaseURL + "?application_name=fleet-\(name)"
            environment["SLIPWAY_SECRET_KEY"] = TestPostgres.secretKey
            environment["SLIPWAY_PROXY_PORT"] = "\(roles == "proxy" ? port : try freePort())"
            environment["SLIPWAY_ADMIN_PORT"] = "\(roles == "admin" ? port : try freePort())"
            let operations = try operationsPorts[name] ?? freePort()
            operationsPorts[name] = operations
            environment["SLIPWAY_OPERATIONS_PORT"] = "\(operations)"
            let data = temporaryDirectory()
            processes[name] = try SlipwayProcess.start(["serve", "--data-dir", data], environment: environment)
        }

        /// Starts `name` with `roles` and waits until it serves; proxies get
        /// a port of their own, admins too.
        func start(_ name: String, roles: String, extra: [String: String] = [:]) async throws {
            try launch(name, roles: roles, extra: extra)
            let port = ports[name]!
            let operations = operationsPorts[name]!
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

    /// The page `slug` serves on the proxy `name`, once it is `body`.
    static func waitForPage(_ fleet: Fleet, _ proxy: String, slug: String, body: String, tries: Int = 1_000) async
        -> Bool
    {
        for _ in 0..<tries {
            if (try? await page(fleet, proxy, slug: slug).body) == body { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    @Test func aFleetBuildsFailsOverFromAKilledBuilderAndEveryProxyFollowsEveryFlip() async throws {
        let s3 = try TestS3.requireEnvironment()
        let bucket = TestS3.uniqueBucketName()
        let store = try S3ObjectStore(
            configuration: TestS3.configuration(bucket: bucket, environment: s3), logger: TestS3.logger)
        // A PostgreSQL of its own: the test restarts it.
        let database = try await PrivatePostgres.start()
        do {
            try await store.createBucket()
            try await runFleet(s3: s3, bucket: bucket, database: database)
        } catch {
            database.clean()
            try? await store.shutdown()
            throw error
        }
        database.clean()
        try await store.shutdown()
    }

    func runFleet(s3: TestS3.Environment, bucket: String, database: PrivatePostgres) async throws {
        let settings = try database.settings()
        let gate = temporaryDirectory() + "/gate"
        let fleet = Fleet(
            environment: [
                "SLIPWAY_PROXY_HOST": "127.0.0.1", "SLIPWAY_ADMIN_HOST": "127.0.0.1",
                "SLIPWAY_ADMIN_TOKEN": Self.token, "SLIPWAY_STORAGE": "s3", "SLIPWAY_S3_ENDPOINT": s3.endpoint,
                "SLIPWAY_S3_BUCKET": bucket, "SLIPWAY_S3_REGION": s3.region,
                "SLIPWAY_S3_ACCESS_KEY_ID": s3.accessKeyID, "SLIPWAY_S3_SECRET_ACCESS_KEY": s3.secretAccessKey,
                "SLIPWAY_BUILD_RUNNER": "local", "SLIPWAY_ALLOW_LOCAL_REPOS": "true",
                "SLIPWAY_BUILD_CONCURRENCY": "1", "SLIPWAY_BUILD_LEASE": "10s",
                // Only the event bus can start a build in time: the backstop
                // poll would wait an hour.
                "SLIPWAY_BUILD_POLL_INTERVAL": "1h",
            ], databaseURL: database.url)
        defer { fleet.stopAll() }
        // The admin first: its catalog migrates the schema.
        try await fleet.start("admin", roles: "admin")
        try await fleet.start("admin-2", roles: "admin")
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

        // The second admin accepts the same token and sees the same catalog.
        let secondAdmin = AdminClient(port: fleet.ports["admin-2"]!, token: Self.token)
        let seen = try await secondAdmin.send("GET", "/api/deployments/fleet")
        #expect(seen.status == 200, "\(seen.json)")
        let refused = try await AdminClient(port: fleet.ports["admin-2"]!, token: "wrong").send(
            "GET", "/api/deployments")
        #expect(refused.status == 401)

        _ = try await Self.waitForBuild(fleet, first, toBe: ["building"])
        let owner = try #require(
            try await TestPostgres.strings("SELECT lease_owner FROM build WHERE id = '\(first)'", settings: settings)
                .first)
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
        try await fleet.start(holder, roles: "builder")

        // A second build, then 200 flips between the two: both proxies
        // follow every flip and never go back to the old page once they
        // served the new one.
        let second = try await fleet.admin.send("POST", "/api/deployments/fleet/builds", body: [:])
        let secondID = try #require(((second.json["build"] as? [String: Any])?["id"]) as? String)
        _ = try await Self.waitForBuild(fleet, secondID, toBe: ["success"])
        let v2 = try await Self.page(fleet, "proxy-1", slug: "fleet").body
        #expect(v2 != v1.body && v2.hasPrefix("build "))
        var bodies = [secondID: v2, first: v1.body]
        var latencies: [String: [Double]] = ["proxy-1": [], "proxy-2": []]
        var target = first
        for flip in 0..<200 {
            let started = ContinuousClock.now
            let answer = try await fleet.admin.send(
                "POST", "/api/deployments/fleet/rollback", body: ["buildId": target])
            #expect(answer.status == 200, "flip \(flip): \(answer.json)")
            for proxy in ["proxy-1", "proxy-2"] {
                let served = await Self.waitForPage(fleet, proxy, slug: "fleet", body: bodies[target]!)
                #expect(served, "\(proxy) never served flip \(flip)")
                latencies[proxy]!.append(Self.milliseconds(ContinuousClock.now - started))
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
                "[fleet] \(proxy): activation visible p50 \(sorted[sorted.count / 2]) ms, p99 \(sorted[sorted.count * 99 / 100]) ms, max \(sorted.last!) ms over \(sorted.count) flips"
            )
        }

        // PostgreSQL restarted: every connection is cut. The proxies
        // reconnect, reload and follow the next flip; the builders hear of
        // the next queued build (their poll would wait an hour).
        try await database.restart()
        // A request that met a connection the restart cut is answered 503
        // (unavailable; retry), as a client would.
        var afterRestart = try await fleet.admin.send(
            "POST", "/api/deployments/fleet/rollback", body: ["buildId": target])
        for _ in 0..<20 where afterRestart.status == 503 {
            try await Task.sleep(for: .milliseconds(250))
            afterRestart = try await fleet.admin.send(
                "POST", "/api/deployments/fleet/rollback", body: ["buildId": target])
        }
        #expect(afterRestart.status == 200, "\(afterRestart.json)")
        for proxy in ["proxy-1", "proxy-2"] {
            let served = await Self.waitForPage(fleet, proxy, slug: "fleet", body: bodies[target]!, tries: 6_000)
            #expect(served, "\(proxy) did not follow a flip after PostgreSQL restarted")
        }
        let third = try await fleet.admin.send("POST", "/api/deployments/fleet/builds", body: [:])
        #expect(third.status == 201 || third.status == 202, "\(third.json)")
        let thirdID = try #require(((third.json["build"] as? [String: Any])?["id"]) as? String)
        _ = try await Self.waitForBuild(fleet, thirdID, toBe: ["success"])
        let v3 = try await Self.page(fleet, "proxy-1", slug: "fleet").body
        bodies[thirdID] = v3
        target = thirdID
        #expect(v3.hasPrefix("build ") && v3 != v1.body && v3 != v2)
        #expect(await Self.waitForPage(fleet, "proxy-2", slug: "fleet", body: v3))

        // Each proxy reports its bus: the heartbeat's delay and the reconnect.
        let after = try await AdminClient(port: fleet.operationsPorts["proxy-1"]!, token: "").text("/metrics").body
        #expect(after.contains("slipway_event_bus_lag_seconds"), "\(after)")
        let reconnects = after.split(separator: "\n").first { $0.hasPrefix("slipway_event_bus_reconnects_total") }
        #expect(reconnects.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 1 } == true)

        // A proxy killed and started again serves the current build at once.
        fleet.kill("proxy-2")
        try await fleet.start("proxy-2", roles: "proxy")
        #expect(try await Self.page(fleet, "proxy-2", slug: "fleet").body == bodies[target])

        // A rolling upgrade: a newer release adds a compatible migration
        // while this release's nodes run. They keep working, and one of
        // them restarts on the newer schema.
        _ = try await TestPostgres.strings(
            "INSERT INTO schema_migration (id, applied_at) VALUES ('v99-next-release', 0) RETURNING id",
            settings: settings)
        _ = try await TestPostgres.strings(
            "ALTER TABLE site ADD COLUMN next_release_setting text", settings: settings)
        let onNewer = try await fleet.admin.send("POST", "/api/deployments/fleet/rollback", body: ["buildId": first])
        #expect(onNewer.status == 200, "\(onNewer.json)")
        for proxy in ["proxy-1", "proxy-2"] {
            #expect(await Self.waitForPage(fleet, proxy, slug: "fleet", body: v1.body), "\(proxy) on the newer schema")
        }
        fleet.kill("builder-2")
        try await fleet.start("builder-2", roles: "builder")
        #expect(fleet.output("builder-2").contains("migrations of a newer Slipway"), "\(fleet.output("builder-2"))")
        let fourth = try await fleet.admin.send("POST", "/api/deployments/fleet/builds", body: [:])
        let fourthID = try #require(((fourth.json["build"] as? [String: Any])?["id"]) as? String)
        _ = try await Self.waitForBuild(fleet, fourthID, toBe: ["success"])

        // Once the newer release declares this one incompatible, a node of
        // this release refuses to start and says which version it needs.
        _ = try await TestPostgres.strings(
            "UPDATE schema_compat SET min_version = 99 RETURNING min_version::text", settings: settings)
        try fleet.launch("proxy-3", roles: "proxy")
        let status = try await fleet.processes["proxy-3"]!.waitForExit(timeout: .seconds(60))
        #expect(status != 0)
        #expect(fleet.output("proxy-3").contains("needs schema version 99"), "\(fleet.output("proxy-3"))")
    }
}
