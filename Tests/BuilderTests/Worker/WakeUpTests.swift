import Foundation
import Model
import Storage
import Testing

@testable import Builder

/// Idle workers start a queued build because something woke them, not
/// because their poll interval ran out: the interval here is an hour.
@Suite(.serialized) struct WakeUpTests {
    /// Runs `body` once the pool's only worker found nothing to claim and
    /// waits out its poll interval of an hour.
    private func withTheWorkerWaitingAnHour(_ body: (BuilderHarness, Site) async throws -> Void) async throws {
        let clock = WatchedClock()
        let hour = Duration.seconds(3600)
        try await BuilderHarness.with(
            runner: .local, clock: clock,
            configure: {
                $0.concurrency = 1
                $0.pollInterval = hour
            }
        ) { harness in
            let site = try await harness.site(repository: try await harness.repository("static-site"))
            try await harness.eventually("the worker to wait for its poll interval") {
                clock.pendingSleeps(atLeast: hour) == 1
            }
            try await body(harness, site)
        }
    }

    @Test func aQueuedBuildStartsThroughAWakeUpWhileTheWorkerWaitsAnHour() async throws {
        try await withTheWorkerWaitingAnHour { harness, site in
            let build = try await harness.buildAndWait(site, timeout: .seconds(120))
            #expect(build.status == .success, "\(build.error ?? "")")
            #expect(harness.reports(for: build.id).map(\.outcome) == [.succeeded])
        }
    }

    /// A build put back in the queue with a retry backoff is claimed when
    /// the backoff ends, not at the next poll an hour later: nothing else
    /// announces the end of a backoff.
    @Test func aBuildRequeuedWithABackoffStartsWhenTheBackoffEndsWhileTheWorkerWaitsAnHour() async throws {
        try await withTheWorkerWaitingAnHour { harness, site in
            // A worker of another process (a catalog handle that tells this
            // pool nothing) claims a build and dies: its lease lapses, this
            // pool's sweep puts the build back with a backoff.
            let other = try SQLiteCatalog(
                path: harness.root + "/data/" + SQLiteCatalog.fileName, settings: BuilderHarness.queueSettings)
            let queued = try await other.createBuild(siteID: site.id, BuildRequest(trigger: "test"))
            let claimed = try await other.claimNextBuild(workerID: "gone-w1", leaseDuration: .seconds(1))
            #expect(claimed?.id == queued.id)
            try await other.close()
            let build = try await harness.waitUntilFinal(queued.id, timeout: .seconds(120))
            #expect(build.status == .success, "\(build.error ?? "")")
            #expect(build.attempt == 2)
        }
    }
}

/// The continuous clock, telling a test which sleeps on it are under way.
struct WatchedClock: Clock {
    typealias Instant = ContinuousClock.Instant

    private let base = ContinuousClock()
    /// Each pending sleep's length, by a number of its own.
    private let pending = Locked<(next: Int, lengths: [Int: Duration])>((0, [:]))

    var now: Instant { base.now }
    var minimumResolution: Duration { base.minimumResolution }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = pending.withLock { pending in
            pending.next += 1
            pending.lengths[pending.next] = deadline - base.now
            return pending.next
        }
        defer { pending.withLock { _ = $0.lengths.removeValue(forKey: id) } }
        try await base.sleep(until: deadline, tolerance: tolerance)
    }

    /// How many sleeps under way were asked for about `length` or longer.
    func pendingSleeps(atLeast length: Duration) -> Int {
        pending.withLock { $0.lengths.values.filter { $0 >= length * 0.9 }.count }
    }
}
