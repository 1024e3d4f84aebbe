import Foundation
import Model
import Postgres
import SlipwayTestSupport
import Testing

@testable import Storage

/// What only a bus shared through PostgreSQL does: events and logs crossing
/// processes (two buses on one schema), and recovery from a lost listener.
@Suite(.enabled(if: TestPostgres.shouldRun, Comment(rawValue: TestPostgres.skipReason)), .timeLimit(.minutes(2)))
struct PostgresEventBusTests {
    static func activation(_ number: Int) -> CatalogEvent {
        .activated(
            Activation(
                siteID: SiteID(unchecked: "01j00000000000000000000000"),
                buildID: BuildID(unchecked: "01j00000000000000000000001"), buildNumber: number, previousBuildID: nil))
    }

    static func number(_ delivery: Delivery<CatalogEvent>?) -> Int? {
        if case .value(.activated(let activation))? = delivery { return activation.buildNumber }
        return nil
    }

    /// Two buses on one schema, as two processes of a fleet have; stopped afterwards.
    static func withTwoBuses(
        options: PostgresEventBus.Options = PostgresEventBus.Options(),
        _ body: (PostgresEventBus, PostgresEventBus, PostgresSettings) async throws -> Void
    ) async throws {
        try await TestPostgres.withSchema { settings in
            try await PostgresEventBusTesting.createTables(settings)
            var first = settings
            first.applicationName = "slipway-test-a-\(settings.schema)"
            var second = settings
            second.applicationName = "slipway-test-b-\(settings.schema)"
            let a = try await PostgresEventBus.start(settings: first, options: options, logger: TestPostgres.logger)
            let b: PostgresEventBus
            do {
                b = try await PostgresEventBus.start(settings: second, options: options, logger: TestPostgres.logger)
            } catch {
                await a.shutdown()
                throw error
            }
            do {
                try await body(a, b, settings)
            } catch {
                await a.shutdown()
                await b.shutdown()
                throw error
            }
            await a.shutdown()
            await b.shutdown()
        }
    }

    @Test func eventsPublishedByOneProcessReachAnotherInOrder() async throws {
        try await Self.withTwoBuses { a, b, _ in
            var onB = b.subscribe().makeAsyncIterator()
            var onA = a.subscribe().makeAsyncIterator()
            for number in 1...50 { a.publish(Self.activation(number)) }
            var received: [Int] = []
            for _ in 1...50 { received.append(Self.number(await onB.next()) ?? -1) }
            #expect(received == Array(1...50))
            received = []
            for _ in 1...50 { received.append(Self.number(await onA.next()) ?? -1) }
            #expect(received == Array(1...50), "the publisher's own subscribers hear it through the database too")
        }
    }

    @Test func aLogWrittenByOneProcessStreamsOnAnotherAndEndsWhenItCloses() async throws {
        var options = PostgresEventBus.Options()
        options.logFlushInterval = .milliseconds(20)
        options.logPollInterval = .seconds(3600) // only the notification can wake the follower
        try await Self.withTwoBuses(options: options) { a, b, _ in
            let build = BuildID.generate()
            let line = { (text: String) in
                LogLine(timestamp: Date(timeIntervalSince1970: 1_750_000_000), stream: .stdout, text: text)
            }
            a.appendLog(line("cloning"), buildID: build)
            var follower = b.subscribeLog(buildID: build).makeAsyncIterator()
            #expect(await follower.next() == .value(line("cloning")))
            a.appendLog(line("building"), buildID: build)
            #expect(await follower.next() == .value(line("building")))
            a.closeLog(buildID: build)
            #expect(await follower.next() == nil)
        }
    }

    @Test func pruningDeletesOnlyEventsAndLinesPastTheirRetention() async throws {
        try await Self.withTwoBuses { a, _, settings in
            let now: Int64 = 1_800_000_000_000
            let hour: Int64 = 3_600_000
            for (table, at) in [("old", now - 2 * hour), ("new", now - hour / 2)] {
                _ = try await TestPostgres.strings(
                    "INSERT INTO catalog_event (at, payload) VALUES (\(at), '{}') RETURNING '\(table)'",
                    settings: settings)
            }
            for (build, at) in [
                ("01j0000000000000000000old0", now - 25 * hour), ("01j0000000000000000000new0", now - hour),
            ] {
                _ = try await TestPostgres.strings(
                    """
                    INSERT INTO build_log_chunk (build_id, at, line_count, bytes, lines)
                    VALUES ('\(build)', \(at), 1, 1, '[]') RETURNING build_id
                    """, settings: settings)
                _ = try await TestPostgres.strings(
                    "INSERT INTO build_log_end (build_id, at) VALUES ('\(build)', \(at)) RETURNING build_id",
                    settings: settings)
            }
            let pruned = try #require(try await a.prune(now: now))
            #expect(pruned.events == 1 && pruned.logRows == 2)
            #expect(
                try await TestPostgres.strings("SELECT at::text FROM catalog_event", settings: settings) == [
                    "\(now - hour / 2)"
                ])
            #expect(
                try await TestPostgres.strings("SELECT build_id FROM build_log_chunk", settings: settings) == [
                    "01j0000000000000000000new0"
                ])
        }
    }

    /// The listening connection killed on the server: subscribers learn that
    /// they may have missed events, then hear new ones again.
    @Test func aKilledListenerReconnectsAndTellsSubscribersTheyMissedEvents() async throws {
        var options = PostgresEventBus.Options()
        options.reconnectDelay = (.milliseconds(50), .milliseconds(500))
        try await Self.withTwoBuses(options: options) { a, b, settings in
            var onB = b.subscribe().makeAsyncIterator()
            a.publish(Self.activation(1))
            #expect(Self.number(await onB.next()) == 1)

            try await TestPostgres.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'slipway-test-b-\(settings.schema)'"
            )
            #expect(await onB.next() == .missed(1))
            // Published until b listens again; b hears the newest of them.
            var heard: Int?
            for number in 2...600 {
                a.publish(Self.activation(number))
                if b.isListening { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            a.publish(Self.activation(1_000))
            while heard != 1_000 {
                guard let next = await onB.next() else { break }
                if case .missed = next {
                    // b lost its connection again (a heartbeat late on a busy
                    // machine) and may have missed 1,000: it is told so, and
                    // hears the next one once it listens again.
                    a.publish(Self.activation(1_000))
                }
                heard = Self.number(next) ?? heard
            }
            #expect(heard == 1_000)
        }
    }
}
