import Foundation
import Model
import Storage
import Testing

@testable import Builder

/// Shutting down drains: nothing new is claimed, running builds may finish
/// until the drain's deadline, the rest go back to the queue. The runner is
/// a gate the test opens; the deadline is an hour on a clock whose hour-long
/// sleeps end only when the test fires them, so no test waits or times anything.
@Suite(.serialized) struct DrainTests {
    static let hour = Duration.seconds(3600)

    /// A started harness on `runner` and `clock`, draining for an hour.
    static func harness(_ runner: GatedRunner, _ clock: HeldClock, concurrency: Int = 1) throws -> BuilderHarness {
        let harness = try BuilderHarness(
            runner: .custom(runner), clock: clock,
            configure: {
                $0.concurrency = concurrency
                $0.drainTimeout = hour
            })
        try harness.pool.start()
        return harness
    }

    /// A site of the static-site fixture with commands, so the runner runs.
    static func site(_ harness: BuilderHarness) async throws -> Site {
        try await harness.site(repository: try await harness.repository("static-site"), install: "true", build: "true")
    }

    /// Starts the pool's shutdown and waits until it drains (waits for its deadline).
    static func startDraining(_ harness: BuilderHarness, _ clock: HeldClock) async throws -> Task<Void, Never> {
        let shutdown = Task { await harness.pool.shutdown() }
        try await harness.eventually("the shutdown to drain") { clock.heldSleeps == 1 }
        return shutdown
    }

    @Test func theRunningBuildFinishesDuringTheDrainAndNothingNewIsClaimed() async throws {
        let runner = GatedRunner()
        let clock = HeldClock(holdingSleepsOf: Self.hour)
        let harness = try Self.harness(runner, clock, concurrency: 2)
        do {
            let running = try await harness.catalog.createBuild(
                siteID: try await Self.site(harness).id, BuildRequest(trigger: "test"))
            try await harness.eventually("the build to reach its gate") { runner.started == [running.id.rawValue] }
            let claimed = try await harness.catalog.build(id: running.id)

            let shutdown = try await Self.startDraining(harness, clock)
            // The second worker is idle: a build queued now would start at once, were the pool not stopping.
            let waiting = try await harness.catalog.createBuild(
                siteID: try await Self.site(harness).id, BuildRequest(trigger: "test"))
            // The lease is still renewed while the build drains.
            try await harness.eventually("the lease to be renewed during the drain") {
                let now = try await harness.catalog.build(id: running.id)
                return (now.leaseExpiresAt ?? .distantPast) > (claimed.leaseExpiresAt ?? .distantFuture)
            }
            runner.open()
            await shutdown.value

            let finished = try await harness.catalog.build(id: running.id)
            #expect(finished.status == .success, "\(finished.error ?? "")")
            #expect(finished.attempt == 1)
            #expect(harness.reports(for: running.id).map(\.outcome) == [.succeeded])
            #expect(try await harness.catalog.site(id: finished.siteID).activeBuildID == running.id)
            let untouched = try await harness.catalog.build(id: waiting.id)
            #expect(untouched.status == .queued && untouched.startedAt == nil && untouched.leaseOwner == nil)
            #expect(harness.reports(for: waiting.id).isEmpty)
            #expect(runner.started == [running.id.rawValue])
            #expect(harness.pool.runningBuilds.isEmpty)
        } catch {
            Issue.record(error)
        }
        runner.open()
        clock.fire()
        await harness.tearDown()
    }

    @Test func atTheDeadlineTheRunningBuildIsGivenBackWithoutUsingAnAttempt() async throws {
        let runner = GatedRunner()
        let clock = HeldClock(holdingSleepsOf: Self.hour)
        let harness = try Self.harness(runner, clock)
        do {
            let running = try await harness.catalog.createBuild(
                siteID: try await Self.site(harness).id, BuildRequest(trigger: "test"))
            try await harness.eventually("the build to reach its gate") { runner.started == [running.id.rawValue] }

            let shutdown = try await Self.startDraining(harness, clock)
            // The hour passes; the gate never opens.
            clock.fire()
            await shutdown.value

            let released = try await harness.catalog.build(id: running.id)
            #expect(released.status == .queued)
            #expect(released.attempt == 1, "a release does not count as an attempt")
            #expect(released.error == nil && released.leaseOwner == nil && released.startedAt == nil)
            #expect(harness.reports(for: running.id).map(\.outcome) == [.released])
            #expect(
                try await harness.storedLog(released).contains(
                    "Slipway is shutting down: the build was stopped and queued again"))
            #expect(harness.pool.runningBuilds.isEmpty)
            #expect(try FileSystem.entries(of: harness.configuration.workspacesDirectory).isEmpty)
        } catch {
            Issue.record(error)
        }
        runner.open()
        await harness.tearDown()
    }

    @Test func aBuildThatFailsDuringTheDrainFailsRatherThanGoingBackToTheQueue() async throws {
        let runner = GatedRunner()
        let clock = HeldClock(holdingSleepsOf: Self.hour)
        let harness = try Self.harness(runner, clock)
        do {
            let running = try await harness.catalog.createBuild(
                siteID: try await Self.site(harness).id, BuildRequest(trigger: "test"))
            try await harness.eventually("the build to reach its gate") { runner.started == [running.id.rawValue] }

            let shutdown = try await Self.startDraining(harness, clock)
            runner.open(failing: .commandFailed(step: "build", command: "true", exitCode: 2))
            await shutdown.value

            let failed = try await harness.catalog.build(id: running.id)
            #expect(failed.status == .failed && failed.attempt == 1)
            #expect(harness.reports(for: running.id).map(\.outcome) == [.failed])
        } catch {
            Issue.record(error)
        }
        clock.fire()
        await harness.tearDown()
    }

    @Test func withoutADrainTheShutdownReleasesAtOnce() async throws {
        let runner = GatedRunner()
        let clock = HeldClock(holdingSleepsOf: Self.hour)
        let harness = try BuilderHarness(runner: .custom(runner), clock: clock, configure: { $0.drainTimeout = .zero })
        try harness.pool.start()
        do {
            let running = try await harness.catalog.createBuild(
                siteID: try await Self.site(harness).id, BuildRequest(trigger: "test"))
            try await harness.eventually("the build to reach its gate") { runner.started == [running.id.rawValue] }
            await harness.pool.shutdown()
            #expect(clock.heldSleeps == 0)
            let released = try await harness.catalog.build(id: running.id)
            #expect(released.status == .queued && released.attempt == 1)
            #expect(harness.reports(for: running.id).map(\.outcome) == [.released])
        } catch {
            Issue.record(error)
        }
        runner.open()
        await harness.tearDown()
    }
}
