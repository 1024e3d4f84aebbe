import Foundation
import Logging
import Model
import Postgres
import PostgresNIO
import SlipwayTestSupport
import Testing

@testable import Storage

/// One ``EventBus`` implementation the contract suite runs against, with the
/// bounds it documents. Add an implementation here and every test in
/// `EventBusContractTests` runs against it too.
struct EventBusUnderTest: Sendable, CustomTestStringConvertible {
    let name: String
    /// New lines a live log subscriber may fall behind without missing any.
    let logSubscriberSlack: Int
    /// Most lines a log's replay holds.
    let replayLines: Int
    /// Most bytes of line text a log's replay holds.
    let replayBytes: Int
    /// A fresh bus with the implementation's default settings, and how to stop it.
    let start: @Sendable () async throws -> (bus: any EventBus, stop: @Sendable () async throws -> Void)

    var testDescription: String { name }

    /// Runs `body` with a fresh bus, stopped afterwards whether `body` succeeded or not.
    func withBus<T>(_ body: (any EventBus) async throws -> T) async throws -> T {
        let (bus, stop) = try await start()
        do {
            let result = try await body(bus)
            try await stop()
            return result
        } catch {
            try? await stop()
            throw error
        }
    }

    /// The bus of a single process, with its default limits.
    static let inProcess: EventBusUnderTest = {
        let limits = InProcessEventBus.Limits()
        return EventBusUnderTest(
            name: "in-process", logSubscriberSlack: limits.logSubscriberBuffer, replayLines: limits.logLines,
            replayBytes: limits.logBytes
        ) { (InProcessEventBus(), {}) }
    }()

    /// The fleet's bus over the test PostgreSQL, in a schema of its own with
    /// the event and log tables, and a short flush interval.
    static let postgres: EventBusUnderTest = {
        let options = {
            var options = PostgresEventBus.Options()
            options.logFlushInterval = .milliseconds(20)
            return options
        }()
        return EventBusUnderTest(
            name: "PostgreSQL", logSubscriberSlack: options.logReadAhead, replayLines: options.replayLines,
            replayBytes: options.replayBytes
        ) {
            let settings = try await TestPostgres.makeSchema()
            do {
                try await PostgresEventBusTesting.createTables(settings)
                let bus = try await PostgresEventBus.start(
                    settings: settings, options: options, logger: TestPostgres.logger)
                return (
                    bus,
                    {
                        await bus.shutdown()
                        try await TestPostgres.dropSchema(settings)
                    }
                )
            } catch {
                try? await TestPostgres.dropSchema(settings)
                throw error
            }
        }
    }()

    /// Every implementation the contract suite covers.
    static let all: [EventBusUnderTest] = [.inProcess] + (TestPostgres.shouldRun ? [.postgres] : [])
}

enum PostgresEventBusTesting {
    /// The event and log tables in `settings`' schema, as the catalog's migration makes them.
    static func createTables(_ settings: PostgresSettings) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: try settings.connectionConfiguration(), id: 1, logger: TestPostgres.logger)
        do {
            for statement in EventOutbox.tables {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: TestPostgres.logger)
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
