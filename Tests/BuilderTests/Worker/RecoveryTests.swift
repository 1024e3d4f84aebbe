import Foundation
import Model
import Storage
import Testing

@testable import Builder

/// A Slipway process dies mid-build (`kill -9`), then starts again.
///
/// The crash is simulated in one test process: pool A runs the build until
/// its command is busy, then its catalog is closed under it — from then on
/// A can neither renew its lease, nor release, finish or activate anything,
/// exactly as a killed process — and A is never shut down while B works.
/// Pool B opens the same SQLite file and data directory, as the restarted
/// process would.
@Suite(
    .serialized,
    .enabled(
        if: TestDocker.shouldRun,
        "needs a Docker engine and SLIPWAY_TEST_BUILD_IMAGE: run scripts/test, or scripts/docker-engine.sh start and export SLIPWAY_TEST_BUILD_IMAGE=$(scripts/docker-test-image.sh)"
    )
)
struct RecoveryTests {
    @Test func aBuildWhoseWorkerDiedIsRequeuedAndFinishedExactlyOnce() async throws {
        _ = try TestDocker.requireImage()
        let crashed = try BuilderHarness(runner: .docker)
        try crashed.pool.start()
        var restarted: BuilderHarness?
        do {
            let site = try await crashed.site(
                repository: try await crashed.repository("slow-build"),
                env: [
                    BuildVariable(name: "SLOW_ONLY_ONCE", value: "true"),
                    BuildVariable(name: "SLEEP_SECONDS", value: "600"),
                ])
            let queued = try await crashed.catalog.createBuild(siteID: site.id, BuildRequest())
            try await crashed.waitForLogLine(queued.id, containing: "working for 600s")
            let running = try await crashed.catalog.build(id: queued.id)
            #expect(running.status == .building && running.attempt == 1)

            // kill -9: the process's database handle is gone; its workers can do nothing more.
            try await crashed.catalog.close()

            let restart = try BuilderHarness(runner: .docker, root: crashed.root)
            restarted = restart
            try restart.pool.start()
            let finished = try await restart.waitUntilFinal(queued.id, timeout: .seconds(120))
            try await restart.waitForReport(queued.id)
            #expect(finished.status == .success, "\(finished.error ?? "")")
            #expect(finished.attempt == 2, "requeued once after the lease expired")
            #expect(try await restart.catalog.site(id: site.id).activeBuildID == queued.id)
            #expect(restart.activations(of: queued.id).count == 1)
            #expect(restart.reports(for: queued.id).map(\.outcome) == [.succeeded])
            #expect(!crashed.reports(for: queued.id).contains { $0.outcome == .succeeded })
            let manifest = try await restart.manifest(finished)
            #expect(manifest.files.keys.sorted() == ["index.html"])
            // Nothing of the dead attempt keeps running.
            try await restart.eventually("the first attempt's container to be gone") {
                try await DockerBuildTests.containers(of: queued.id, harness: restart).isEmpty
            }
            let log = try await restart.storedLog(finished)
            #expect(log.contains("attempt 2 of 3"))
        } catch {
            Issue.record(error)
        }
        await crashed.tearDown(removingDirectory: false)
        await restarted?.tearDown()
    }
}
