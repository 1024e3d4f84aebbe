import Foundation
import Testing

@testable import Model
@testable import Storage

@Suite struct InProcessEventBusTests {
    private static func event(_ number: Int) -> CatalogEvent {
        let site = SiteID(unchecked: "01j00000000000000000000000")
        return .activated(
            Activation(
                siteID: site, buildID: BuildID(unchecked: "01j00000000000000000000001"), buildNumber: number,
                previousBuildID: nil))
    }

    private static func number(_ delivery: Delivery<CatalogEvent>) -> Int? {
        if case .value(.activated(let activation)) = delivery { return activation.buildNumber }
        return nil
    }

    private static func line(_ text: String) -> LogLine {
        LogLine(timestamp: Date(timeIntervalSince1970: 1_750_000_000), stream: .stdout, text: text)
    }

    private static let build = BuildID(unchecked: "01j00000000000000000000002")

    // Publication order, fan-out and replay are the contract every bus
    // keeps: EventBusContractTests. What follows is this implementation's
    // own: its limits, its bookkeeping and the cost of appending.

    @Test func aSlowSubscriberMissesEventsWithoutSlowingThePublisherOrOtherSubscribers() async {
        let bus = InProcessEventBus(limits: .init(subscriberBuffer: 8))
        // The slow subscriber reads nothing while 10,000 events are published.
        var slow = bus.subscribe().makeAsyncIterator()
        let healthyBus = bus
        let consumer = Task {
            var numbers: [Int] = []
            var missed = 0
            for await delivery in healthyBus.subscribe() {
                switch delivery {
                case .value: numbers.append(Self.number(delivery)!)
                case .missed(let count): missed += count
                }
                if numbers.count + missed == 10_000 { break }
            }
            return (numbers, missed)
        }
        // Give the consumer's subscription time to exist before publishing:
        // wait until the bus counts it, not for a wall-clock delay.
        while bus.subscriberCount < 2 { await Task.yield() }

        // publish() returns for every event although one subscriber never
        // reads: were it blocking, this loop would never end.
        for number in 1...10_000 { bus.publish(Self.event(number)) }

        var slowDeliveries: [Delivery<CatalogEvent>] = []
        for _ in 0..<9 { slowDeliveries.append(await slow.next()!) }
        #expect(slowDeliveries.prefix(8).map { Self.number($0) } == (1...8).map { $0 })
        #expect(slowDeliveries[8] == .missed(9_992))

        // Every event is accounted for at the other subscriber, in order.
        let (numbers, missed) = await consumer.value
        #expect(numbers == numbers.sorted())
        #expect(numbers.count + missed == 10_000)

        // After catching up the slow subscriber gets new events again, in order.
        bus.publish(Self.event(10_001))
        #expect(Self.number(await slow.next()!) == 10_001)
    }

    @Test func theMissedMarkerSitsWhereTheEventsWentMissing() async {
        let bus = InProcessEventBus(limits: .init(subscriberBuffer: 2))
        var iterator = bus.subscribe().makeAsyncIterator()
        for number in 1...4 { bus.publish(Self.event(number)) }
        #expect(Self.number(await iterator.next()!) == 1)
        bus.publish(Self.event(5))
        #expect(Self.number(await iterator.next()!) == 2)
        // 3 and 4 found the buffer full.
        #expect(await iterator.next() == .missed(2))
        // 5 found room after 1 was read: it follows the gap.
        #expect(Self.number(await iterator.next()!) == 5)
    }

    @Test func aSubscriptionEndsAndIsRemovedWhenItsTaskIsCancelled() async {
        let bus = InProcessEventBus()
        let subscription = bus.subscribe()
        let consumer = Task {
            var count = 0
            for await _ in subscription { count += 1 }
            return count
        }
        bus.publish(Self.event(1))
        consumer.cancel()
        let count = await consumer.value
        #expect(count <= 1)
        #expect(bus.subscriberCount == 0)
        // Publishing afterwards is harmless.
        bus.publish(Self.event(2))
        #expect(bus.subscriberCount == 0)
    }

    @Test func droppingASubscriptionUnsubscribes() async {
        let bus = InProcessEventBus()
        do {
            var iterator = bus.subscribe().makeAsyncIterator()
            bus.publish(Self.event(1))
            #expect(Self.number(await iterator.next()!) == 1)
            #expect(bus.subscriberCount == 1)
        }
        #expect(bus.subscriberCount == 0)
        do {
            _ = bus.subscribe()
        }
        #expect(bus.subscriberCount == 0)
    }

    @Test func aLogSubscriberReplaysTheLinesSoFarThenFollowsUntilTheLogCloses() async {
        let bus = InProcessEventBus()
        bus.appendLog(Self.line("cloning"), buildID: Self.build)
        bus.appendLog(Self.line("installing"), buildID: Self.build)
        let follower = Task {
            var lines: [String] = []
            for await delivery in bus.subscribeLog(buildID: Self.build) {
                if case .value(let line) = delivery { lines.append(line.text) }
            }
            return lines
        }
        while bus.logSubscriberCount(buildID: Self.build) == 0 { await Task.yield() }
        bus.appendLog(Self.line("building"), buildID: Self.build)
        bus.closeLog(buildID: Self.build)
        bus.appendLog(Self.line("after close"), buildID: Self.build)
        #expect(await follower.value == ["cloning", "installing", "building"])
        #expect(bus.logSubscriberCount(buildID: Self.build) == 0)

        // A late subscriber to the closed log replays it and ends.
        var late: [Delivery<LogLine>] = []
        for await delivery in bus.subscribeLog(buildID: Self.build) { late.append(delivery) }
        #expect(late == ["cloning", "installing", "building"].map { .value(Self.line($0)) })
    }

    @Test func aFloodedLogStaysBoundedAndItsReplaySaysHowManyLinesWereDropped() async {
        let bus = InProcessEventBus(limits: .init(logLines: 100))
        for number in 1...1_000 { bus.appendLog(Self.line("line \(number)"), buildID: Self.build) }
        bus.closeLog(buildID: Self.build)
        var replay: [Delivery<LogLine>] = []
        for await delivery in bus.subscribeLog(buildID: Self.build) { replay.append(delivery) }
        #expect(replay.count == 101)
        #expect(replay.first == .missed(900))
        #expect(replay[1] == .value(Self.line("line 901")))
        #expect(replay.last == .value(Self.line("line 1000")))
    }

    /// Appending is O(1) however long the log: once the log holds its
    /// 10,000 lines, 10,000 more (followed live) never copy the kept lines
    /// — the storage keeps its identity and its copy count stays at zero.
    /// (A copy per line is what made `seq 1 100000` cost 25 s of CPU.)
    @Test func appendingToALogAtItsBoundNeverCopiesTheKeptLines() async throws {
        let bus = InProcessEventBus()
        let bound = bus.limits.logLines
        var follower = bus.subscribeLog(buildID: Self.build).makeAsyncIterator()
        for number in 1...bound {
            bus.appendLog(Self.line("line \(number)"), buildID: Self.build)
            _ = await follower.next()
        }
        let atBound = try #require(bus.logStorage(buildID: Self.build))
        for number in bound + 1...2 * bound {
            bus.appendLog(Self.line("line \(number)"), buildID: Self.build)
            _ = await follower.next()
        }
        let after = try #require(bus.logStorage(buildID: Self.build))
        #expect(after.copies == 0, "appending copied the kept lines \(after.copies) times")
        #expect(after.identity == atBound.identity, "the kept lines moved to another storage")
    }

    @Test func aSlowLogSubscriberMissesLinesButTheBuilderIsNotBlocked() async {
        let bus = InProcessEventBus(limits: .init(logSubscriberBuffer: 4))
        bus.appendLog(Self.line("first"), buildID: Self.build)
        var iterator = bus.subscribeLog(buildID: Self.build).makeAsyncIterator()
        for number in 1...50 { bus.appendLog(Self.line("\(number)"), buildID: Self.build) }
        bus.closeLog(buildID: Self.build)
        var received: [Delivery<LogLine>] = []
        while let delivery = await iterator.next() { received.append(delivery) }
        #expect(received == [.value(Self.line("first"))] + (1...4).map { .value(Self.line("\($0)")) } + [.missed(46)])
    }

    @Test func closedLogsAreForgottenOnceNewerOnesHaveClosed() {
        let bus = InProcessEventBus(limits: .init(retainedClosedLogs: 2))
        let builds = (0..<3).map { _ in BuildID.generate() }
        for build in builds {
            bus.appendLog(Self.line("done"), buildID: build)
            bus.closeLog(buildID: build)
        }
        #expect(!bus.holdsLog(buildID: builds[0]))
        #expect(bus.holdsLog(buildID: builds[1]) && bus.holdsLog(buildID: builds[2]))
    }

    @Test func cancellingALogSubscriptionToAnUnknownBuildLeavesNothingBehind() async {
        let bus = InProcessEventBus()
        let unknown = BuildID.generate()
        let follower = Task {
            for await _ in bus.subscribeLog(buildID: unknown) {}
        }
        while bus.logSubscriberCount(buildID: unknown) == 0 { await Task.yield() }
        follower.cancel()
        await follower.value
        #expect(!bus.holdsLog(buildID: unknown))
    }

    @Test func theCatalogPublishesWhatItCommitsAndNothingItRefuses() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-bus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let bus = InProcessEventBus()
        let catalog = try SQLiteCatalog(dataDirectory: directory.path, bus: bus)
        var events = bus.subscribe().makeAsyncIterator()

        let site = try await catalog.createSite(SiteDraft(slug: "blog", repoURL: "https://github.com/acme/blog"))
        _ = try? await catalog.createSite(SiteDraft(slug: "blog", repoURL: "https://github.com/acme/blog"))
        let queued = try await catalog.createBuild(siteID: site.id, BuildRequest())
        let claimed = try #require(try await catalog.claimNextBuild(workerID: "w1"))
        _ = try await catalog.renewLease(buildID: queued.id, workerID: "w1")
        let done = try await catalog.finishBuild(
            buildID: queued.id, workerID: "w1", result: .success(fileCount: 1, bytes: 10))
        _ = try await catalog.activate(siteID: site.id, buildID: done.id, allowOlder: false)
        let deletion = try await catalog.deleteSite(id: site.id)
        try await catalog.close()

        var received: [CatalogEvent] = []
        for _ in 0..<6 {
            if case .value(let event) = await events.next() { received.append(event) }
        }
        #expect(
            received == [
                .siteCreated(site), .buildChanged(queued), .buildChanged(claimed), .buildChanged(done),
                .activated(Activation(siteID: site.id, buildID: done.id, buildNumber: 1, previousBuildID: nil)),
                .siteDeleted(deletion.site),
            ]
        )
    }
}
