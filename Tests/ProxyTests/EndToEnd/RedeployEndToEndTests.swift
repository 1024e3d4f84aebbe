import Foundation
import Model
import Storage
import Synchronization
import Testing

@testable import Proxy

extension EndToEnd {
    /// A redeploy while clients fetch: the old build until the flip, the new
    /// one after it, never a mix within a response.
    @Suite struct RedeployEndToEndTests {
        struct Observation: Sendable {
            var path: String
            var body: [UInt8]
            var startedAfterFlip: Bool
            var finishedBeforeActivation: Bool
        }

        /// Flags the clients read while the deploy goes on.
        final class Timeline: Sendable {
            let activationStarted = Atomic(false)
            let flipped = Atomic(false)
            let stop = Atomic(false)
        }

        @Test func clientsSeeTheOldBuildUntilTheFlipAndTheNewOneAfterNeverAMix() async throws {
            try await withTestProxy { proxy in
                let first = try await proxy.deploy("release-1", as: "shop")
                let paths = ["/", "/about", "/data.json"]
                let v1 = Dictionary(uniqueKeysWithValues: paths.map { ($0, Self.body(first.fixture, $0)) })
                let timeline = Timeline()

                let observations = try await withThrowingTaskGroup(of: [Observation].self) { group in
                    for client in 0..<6 {
                        group.addTask {
                            var seen: [Observation] = []
                            var index = client
                            while !timeline.stop.load(ordering: .acquiring) {
                                let path = paths[index % paths.count]
                                index += 1
                                let startedAfterFlip = timeline.flipped.load(ordering: .acquiring)
                                let response = try await proxy.get(path, slug: "shop")
                                let beforeActivation = !timeline.activationStarted.load(ordering: .acquiring)
                                #expect(response.status == 200, "\(path)")
                                seen.append(
                                    Observation(
                                        path: path, body: response.body, startedAfterFlip: startedAfterFlip,
                                        finishedBeforeActivation: beforeActivation))
                            }
                            return seen
                        }
                    }
                    group.addTask {
                        // Upload build 2 while the clients fetch build 1.
                        try await Task.sleep(for: .milliseconds(200))
                        let build = try await proxy.startBuild(of: first.site)
                        let second = try proxy.fixture("release-2", site: first.site, build: build)
                        _ = try await proxy.succeed(build, with: second)
                        try await Task.sleep(for: .milliseconds(200))
                        timeline.activationStarted.store(true, ordering: .releasing)
                        _ = try await proxy.catalog.activate(
                            siteID: first.site.id, buildID: build.id, allowOlder: false)
                        try await proxy.waitUntil("build 2 is live") {
                            proxy.server.siteTable.lookup(slug: "shop")?.activeBuildID == build.id
                        }
                        timeline.flipped.store(true, ordering: .releasing)
                        try await Task.sleep(for: .milliseconds(300))
                        timeline.stop.store(true, ordering: .releasing)
                        return []
                    }
                    var all: [Observation] = []
                    for try await batch in group { all += batch }
                    return all
                }

                let v2Fixture = try FixtureSite("release-2")
                let v2 = Dictionary(uniqueKeysWithValues: paths.map { ($0, Self.body(v2Fixture, $0)) })
                #expect(observations.contains { $0.finishedBeforeActivation })
                #expect(observations.contains { $0.startedAfterFlip })
                for observation in observations {
                    let isV1 = observation.body == v1[observation.path]
                    let isV2 = observation.body == v2[observation.path]
                    // Whole files of one build: never a mix, never anything else.
                    #expect(isV1 != isV2, "\(observation.path) is neither release's file")
                    if observation.finishedBeforeActivation {
                        #expect(isV1, "\(observation.path) served release 2 before its activation")
                    }
                    if observation.startedAfterFlip {
                        #expect(isV2, "\(observation.path) served release 1 after the flip")
                    }
                }
            }
        }

        @Test func aFailedOrCanceledBuildNeverChangesWhatIsServedAndRollbackIsImmediate() async throws {
            try await withTestProxy { proxy in
                let first = try await proxy.deploy("release-1", as: "shop")
                let v1 = Self.body(first.fixture, "/")
                // A failed build after upload, and a canceled one: release 1 stays.
                let failed = try await proxy.startBuild(of: first.site)
                try await proxy.publish(try proxy.fixture("release-2", site: first.site, build: failed))
                _ = try await proxy.catalog.finishBuild(
                    buildID: failed.id, workerID: "test-worker",
                    result: .failure(message: "tests failed", retryable: false))
                let canceled = try await proxy.catalog.createBuild(siteID: first.site.id, BuildRequest())
                _ = try await proxy.catalog.cancelBuild(id: canceled.id)
                try await proxy.waitUntil("both builds ended") {
                    proxy.server.siteTable.lookup(slug: "shop")?.latestFinished?.number == 3
                }
                #expect(try await proxy.get("/", slug: "shop").body == v1)

                // Release 2 goes live, then a rollback to release 1 flips back at once.
                let second = try await proxy.startBuild(of: first.site)
                let v2Fixture = try proxy.fixture("release-2", site: first.site, build: second)
                _ = try await proxy.succeed(second, with: v2Fixture)
                _ = try await proxy.catalog.activate(siteID: first.site.id, buildID: second.id, allowOlder: false)
                try await proxy.waitUntil("release 2 is live") {
                    proxy.server.siteTable.lookup(slug: "shop")?.activeBuildID == second.id
                }
                #expect(try await proxy.get("/", slug: "shop").body == Self.body(v2Fixture, "/"))
                _ = try await proxy.catalog.activate(siteID: first.site.id, buildID: first.build.id, allowOlder: true)
                try await proxy.waitUntil("rolled back") {
                    proxy.server.siteTable.lookup(slug: "shop")?.activeBuildID == first.build.id
                }
                let rolledBack = try await proxy.get("/", slug: "shop")
                #expect(rolledBack.body == v1)
                #expect(rolledBack.header("X-Cache") == "HIT") // nothing was rebuilt or refetched
            }
        }

        static func body(_ fixture: FixtureSite, _ path: String) -> [UInt8] {
            let file = path == "/" ? "index.html" : path == "/about" ? "about.html" : String(path.dropFirst())
            return Array(fixture.data(file))
        }
    }
}
