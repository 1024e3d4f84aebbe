import Foundation
import Model
import Testing

@testable import Storage

/// The contract written on ``EventBus``, run against every implementation
/// (`EventBusUnderTest.all`).
@Suite struct EventBusContractTests {
    private static func event(_ number: Int) -> CatalogEvent {
        .activated(
            Activation(
                siteID: SiteID(unchecked: "01j00000000000000000000000"),
                buildID: BuildID(unchecked: "01j00000000000000000000001"), buildNumber: number, previousBuildID: nil))
    }

    private static func number(_ delivery: Delivery<CatalogEvent>?) -> Int? {
        if case .value(.activated(let activation))? = delivery { return activation.buildNumber }
        return nil
    }

    private static func line(_ text: String) -> LogLine {
        LogLine(timestamp: Date(timeIntervalSince1970: 1_750_000_000), stream: .stdout, text: text)
    }

    @Test(arguments: EventBusUnderTest.all)
    func subscribersReceiveEventsInPublicationOrder(_ implementation: EventBusUnderTest) async throws {
        try await implementation.withBus { bus in
            var iterator = bus.subscribe().makeAsyncIterator()
            for number in 1...100 { bus.publish(Self.event(number)) }
            var received: [Int] = []
            for _ in 1...100 { received.append(Self.number(await iterator.next()) ?? -1) }
            #expect(received == Array(1...100))
        }
    }

    @Test(arguments: EventBusUnderTest.all)
    func everySubscriberReceivesEveryEvent(_ implementation: EventBusUnderTest) async throws {
        try await implementation.withBus { bus in
            var iterators = (0..<5).map { _ in bus.subscribe().makeAsyncIterator() }
            for number in 1...20 { bus.publish(Self.event(number)) }
            for index in iterators.indices {
                var received: [Int] = []
                for _ in 1...20 { received.append(Self.number(await iterators[index].next()) ?? -1) }
                #expect(received == Array(1...20))
            }
        }
    }

    @Test(arguments: EventBusUnderTest.all)
    func eventsPublishedBeforeSubscribingAreNotDelivered(_ implementation: EventBusUnderTest) async throws {
        try await implementation.withBus { bus in
            bus.publish(Self.event(1))
            var iterator = bus.subscribe().makeAsyncIterator()
            bus.publish(Self.event(2))
            #expect(Self.number(await iterator.next()) == 2)
        }
    }

    @Test(arguments: EventBusUnderTest.all)
    func aLogSubscriberReplaysTheLinesSoFarThenFollowsUntilTheLogCloses(_ implementation: EventBusUnderTest)
        async throws
    {
        try await implementation.withBus { bus in
            let build = BuildID.generate()
            bus.appendLog(Self.line("cloning"), buildID: build)
            bus.appendLog(Self.line("installing"), buildID: build)
            var follower = bus.subscribeLog(buildID: build).makeAsyncIterator()
            bus.appendLog(Self.line("building"), buildID: build)
            bus.closeLog(buildID: build)
            bus.appendLog(Self.line("after close"), buildID: build)
            var followed: [Delivery<LogLine>] = []
            while let delivery = await follower.next() { followed.append(delivery) }
            #expect(followed == ["cloning", "installing", "building"].map { .value(Self.line($0)) })

            // A late subscriber to the closed log replays it and ends.
            var late: [Delivery<LogLine>] = []
            for await delivery in bus.subscribeLog(buildID: build) { late.append(delivery) }
            #expect(late == followed)
        }
    }

    /// 100,000 lines of about 200 bytes: past both replay bounds. A live
    /// subscriber that keeps within its slack gets every line, in order;
    /// the replay afterwards holds only the newest lines, within the
    /// bounds, after a `missed` marker that accounts for every other line.
    @Test(arguments: EventBusUnderTest.all)
    func aHundredThousandLineLogReachesALiveSubscriberWholeAndInOrderAndItsReplayStaysBounded(
        _ implementation: EventBusUnderTest
    ) async throws {
        try await implementation.withBus { bus in
            let build = BuildID.generate()
            let total = 100_000
            let padding = String(repeating: "x", count: 190)
            func text(_ number: Int) -> String { "line \(number) \(padding)" }

            var live = bus.subscribeLog(buildID: build).makeAsyncIterator()
            let batch = max(1, min(1_000, implementation.logSubscriberSlack))
            var next = 1
            var firstWrong: String?
            while next <= total, firstWrong == nil {
                let end = min(total, next + batch - 1)
                for number in next...end { bus.appendLog(Self.line(text(number)), buildID: build) }
                for number in next...end {
                    let delivery = await live.next()
                    guard case .value(let line)? = delivery, line.text == text(number) else {
                        firstWrong = "line \(number) arrived as \(String(describing: delivery).prefix(80))"
                        break
                    }
                }
                next = end + 1
            }
            #expect(firstWrong == nil)
            bus.closeLog(buildID: build)
            #expect(await live.next() == nil, "the live subscription ends when the log closes")

            var replay: [Delivery<LogLine>] = []
            for await delivery in bus.subscribeLog(buildID: build) { replay.append(delivery) }
            guard case .missed(let dropped)? = replay.first else {
                Issue.record("the replay of a log past its bounds starts with a missed marker")
                return
            }
            let kept = replay.dropFirst().compactMap { delivery -> String? in
                if case .value(let line) = delivery { return line.text }
                return nil
            }
            #expect(kept.count == replay.count - 1, "one missed marker, then only lines")
            #expect(kept.count <= implementation.replayLines)
            #expect(kept.reduce(0) { $0 + $1.utf8.count } <= implementation.replayBytes)
            #expect(dropped + kept.count == total)
            #expect(kept == (dropped + 1...total).map(text), "the newest lines, in order")
        }
    }
}
