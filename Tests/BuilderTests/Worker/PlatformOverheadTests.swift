import Foundation
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Testing

@testable import Builder

/// Builds of a 200-file site, triggered one after another, each followed to
/// the moment it is live.
///
/// Prints the platform's overhead for each run: trigger-to-live time minus
/// the build commands' own time (measured inside the container from the step
/// markers). The figures are reported, never asserted: tests do not assert
/// on wall-clock time. Run with `--filter PlatformOverhead` to see them.
///
/// Asserted instead, for every run, is what holds however fast the machine:
/// the build succeeds with all 200 files, goes live replacing the previous
/// run's build, every file in its manifest reads back from the store with the
/// manifest's size and ETag, and the step timings the worker reports are
/// positive and add up (the steps before activation fit inside the measured
/// trigger-to-live time, all four inside the attempt's total, the total
/// inside trigger-to-report).
@Suite(
    .serialized,
    .enabled(
        if: TestDocker.shouldRun,
        "needs a Docker engine and SLIPWAY_TEST_BUILD_IMAGE: run scripts/test"
    )
)
struct PlatformOverheadTests {
    static let runs = 3
    /// What the `many-files` fixture generates.
    static let files = 200

    /// Triggers `runs` builds of the 200-file fixture, checks each and prints the figures.
    static func measure(_ label: String, harness: BuilderHarness) async throws {
        let site = try await harness.site(repository: try await harness.repository("many-files"))
        var overheads: [Duration] = []
        var previous: Build?
        let clock = ContinuousClock()
        for run in 1...runs {
            let triggered = clock.now
            let queued = try await harness.catalog.createBuild(siteID: site.id, BuildRequest(trigger: "overhead"))
            while harness.activations(of: queued.id).isEmpty {
                if let ended = harness.reports(for: queued.id).last,
                    ended.outcome == .failed || ended.outcome == .canceled
                {
                    throw TestFailure(
                        "build \(queued.id) ended \(ended.outcome) without going live: \(ended.error.map { "\($0)" } ?? "")"
                    )
                }
                if clock.now - triggered > .seconds(120) {
                    let status = try await harness.catalog.build(id: queued.id).status
                    throw TestFailure("build \(queued.id) never went live (it is \(status))")
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            let live = clock.now - triggered
            let build = try await harness.waitUntilFinal(queued.id)
            try await harness.waitForReport(queued.id)
            let reported = clock.now - triggered

            let report = try #require(harness.reports(for: queued.id).last)
            #expect(report.outcome == .succeeded, "\(report.outcome): \(build.error ?? "")")
            #expect(build.status == .success && build.fileCount == files, "\(build.error ?? "")")
            try await expectLive(build, of: site, replacing: previous, harness: harness)
            try await expectPublished(build, harness: harness)
            let timings = try #require(report.timings)
            expectConsistent(timings, live: live, reported: reported)

            let overhead = live - timings.commands
            overheads.append(overhead)
            print(
                "[overhead] \(label) run \(run): trigger-to-live \(ms(live)), commands \(ms(timings.commands)), overhead \(ms(overhead)) "
                    + "(checkout \(ms(timings.checkout)), container setup+teardown \(ms(timings.run - timings.commands)), "
                    + "publish \(ms(timings.publish)), activation \(ms(timings.activate)))"
            )
            previous = build
        }
        let sorted = overheads.sorted()
        print(
            "[overhead] \(label): median \(ms(sorted[sorted.count / 2])), best \(ms(sorted[0])), worst \(ms(sorted[sorted.count - 1]))"
        )
    }

    /// The build went live exactly once, as the site's active build, in place
    /// of the one before it (none for the first).
    static func expectLive(_ build: Build, of site: Site, replacing previous: Build?, harness: BuilderHarness)
        async throws
    {
        let activations = harness.activations(of: build.id)
        #expect(activations.count == 1, "\(activations)")
        let activation = try #require(activations.first)
        #expect(activation.siteID == site.id && activation.buildNumber == build.number)
        #expect(activation.previousBuildID == previous?.id)
        #expect(try await harness.catalog.site(id: site.id).activeBuildID == build.id)
    }

    /// The manifest lists every file, and each reads back from the store with
    /// the size and ETag the manifest gives it; together they make the
    /// build's byte count.
    static func expectPublished(_ build: Build, harness: BuilderHarness) async throws {
        let manifest = try await harness.manifest(build)
        #expect(manifest.siteID == build.siteID.rawValue && manifest.buildID == build.id.rawValue)
        #expect(manifest.files.count == files)
        var mismatched: [String] = []
        var total: Int64 = 0
        for (path, entry) in manifest.files.sorted(by: { $0.key < $1.key }) {
            let stored = try await harness.store.getBytes(manifest.objectKey(for: path), limit: 64 << 20).bytes
            total += Int64(stored.count)
            if Int64(stored.count) != entry.size || PublishedBuild.etag(stored) != entry.etag {
                mismatched.append("\(path): \(stored.count) bytes stored, \(entry.size) in the manifest")
            }
        }
        #expect(mismatched.isEmpty, "\(mismatched.joined(separator: "\n"))")
        #expect(build.bytes == total)
    }

    /// Every step took some time; the commands ran within the runner's run;
    /// checkout, run and publish (all done before the activation event) fit
    /// inside the trigger-to-live time; the four steps fit inside the
    /// attempt's total, and the total inside trigger-to-report.
    static func expectConsistent(_ timings: BuildTimings, live: Duration, reported: Duration) {
        let steps = [
            ("checkout", timings.checkout), ("run", timings.run), ("commands", timings.commands),
            ("publish", timings.publish), ("activate", timings.activate),
        ]
        for (name, duration) in steps {
            #expect(duration > .zero, "\(name) took \(duration)")
        }
        #expect(timings.commands <= timings.run, "commands \(timings.commands), run \(timings.run)")
        let beforeActivation = timings.checkout + timings.run + timings.publish
        #expect(beforeActivation < live, "checkout+run+publish \(beforeActivation), trigger-to-live \(live)")
        let allSteps = beforeActivation + timings.activate
        #expect(allSteps <= timings.total, "the steps \(allSteps), the attempt \(timings.total)")
        #expect(timings.total < reported, "the attempt \(timings.total), trigger-to-report \(reported)")
    }

    static func ms(_ duration: Duration) -> String {
        "\(Int((DurationText.seconds(duration) * 1000).rounded())) ms"
    }

    @Test func buildsOfTwoHundredFilesToTheDiskStoreGoLiveWithEveryFileAndStepTimingsThatAddUp() async throws {
        try await BuilderHarness.with(runner: .docker, configure: { $0.keepSuccessfulBuilds = 10 }) { harness in
            try await Self.measure("disk store", harness: harness)
        }
    }

    @Test(.enabled(if: TestS3.shouldRun, "needs the Ceph gateway (S3_ENDPOINT…): run scripts/test"))
    func buildsOfTwoHundredFilesToTheCephGatewayGoLiveWithEveryFileAndStepTimingsThatAddUp() async throws {
        try await TestS3.withBucket { store in
            try await BuilderHarness.with(runner: .docker, store: store, configure: { $0.keepSuccessfulBuilds = 10 }) {
                harness in
                try await Self.measure("Ceph gateway", harness: harness)
            }
        }
    }
}
