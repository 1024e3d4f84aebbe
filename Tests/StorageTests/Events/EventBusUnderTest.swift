import Foundation
import Model
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
    /// A fresh bus with the implementation's default settings.
    let make: @Sendable () -> any EventBus

    var testDescription: String { name }

    /// The bus of a single process, with its default limits.
    static let inProcess: EventBusUnderTest = {
        let limits = InProcessEventBus.Limits()
        return EventBusUnderTest(
            name: "in-process", logSubscriberSlack: limits.logSubscriberBuffer, replayLines: limits.logLines,
            replayBytes: limits.logBytes
        ) { InProcessEventBus() }
    }()

    /// Every implementation the contract suite covers.
    static let all: [EventBusUnderTest] = [.inProcess]
}
