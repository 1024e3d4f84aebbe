import Foundation
import Model
import SlipwayTestSupport
import Storage
import Testing

@testable import Builder

/// Measures the platform's overhead for a 200-file site: trigger-to-live
/// time minus the build commands' own time (measured inside the container
/// from the step markers). Reported, never asserted: tests do not assert on
/// wall-clock time. Run with `--filter PlatformOverhead` to see the figures.
@Suite(
    .serialized,
    .enabled(
        if: TestDocker.shouldRun,
        "needs a Docker engine and SLIPWAY_TEST_BUILD_IMAGE: run scripts/test"
    )
)
struct PlatformOverheadTests {
    static let runs = 3

    /// Triggers `runs` builds of the 200-file fixture and prints the figures.
    static func measure(_ label: String, harness: BuilderHarness) async throws -> [Duration] {
        let site = try await harness.site(repository: try await harness.repository("many-files"))
        var overheads: [Duration] = []
        let clock = ContinuousClock()
        for run in 1...runs {
            let triggered = clock.now
            let queued = try await harness.catalog.createBuild(siteID: site.id, BuildRequest(trigger: "overhead"))
            while harness.activations(of: queued.id).isEmpty {
                if clock.now - triggered > .seconds(120) {
                    throw TestFailure("build \(queued.id) never went live")
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            let live = clock.now - triggered
            let build = try await harness.waitUntilFinal(queued.id)
            try await harness.waitForReport(queued.id)
            #expect(build.status == .success && build.fileCount == 200, "\(build.error ?? "")")
            let timings = try #require(harness.reports(for: queued.id).last?.timings)
            let overhead = live - timings.commands
            overheads.append(overhead)
            print(
                "[overhead] \(label) run \(run): trigger-to-live \(ms(live)), commands \(ms(timings.commands)), overhead \(ms(overhead)) "
                    + "(checkout \(ms(timings.checkout)), container setup+teardown \(ms(timings.run - timings.commands)), "
                    + "publish \(ms(timings.publish)), activation \(ms(timings.activate)))"
            )
        }
        let sorted = overheads.sorted()
        print(
            "[overhead] \(label): median \(ms(sorted[sorted.count / 2])), best \(ms(sorted[0])), worst \(ms(sorted[sorted.count - 1]))"
        )
        return overheads
    }

    static func ms(_ duration: Duration) -> String {
        "\(Int((DurationText.seconds(duration) * 1000).rounded())) ms"
    }

    @Test func twoHundredFilesToTheDiskStore() async throws {
        try await BuilderHarness.with(runner: .docker, configure: { $0.keepSuccessfulBuilds = 10 }) { harness in
            let overheads = try await Self.measure("disk store", harness: harness)
            #expect(overheads.count == Self.runs)
        }
    }

    @Test(.enabled(if: TestS3.shouldRun, "needs the Ceph gateway (S3_ENDPOINT…): run scripts/test"))
    func twoHundredFilesToTheCephGateway() async throws {
        try await TestS3.withBucket { store in
            try await BuilderHarness.with(runner: .docker, store: store, configure: { $0.keepSuccessfulBuilds = 10 }) {
                harness in
                let overheads = try await Self.measure("Ceph gateway", harness: harness)
                #expect(overheads.count == Self.runs)
            }
        }
    }
}
