import NIOCore
import Testing

@testable import Proxy

/// The connection's decisions without a channel (the same machine on a
/// channel: `EndToEnd/ConnectionStateEndToEndTests.swift`).
@Suite struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine<Int>
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static let timeouts = ConnectionTimeouts.Configuration(
        headerRead: .seconds(10), idle: .seconds(60), writeIdle: .seconds(30))

    func answered(_ action: Machine.RequestAction) -> Int? {
        if case .answer(let value) = action { return value }
        return nil
    }

    func next(_ action: Machine.AnswerEndAction) -> String {
        switch action {
        case .answer(let value): "answer \(value)"
        case .read: "read"
        case .close: "close"
        case .none: "none"
        }
    }

    @Test func answersGoOneAtATimeInOrderAndAHeldReadFollowsTheLast() {
        var machine = Machine(timeouts: Self.timeouts, now: Self.start)
        let result1 = machine.read()
        #expect(result1 == .read)
        let result2 = machine.bytesReceived(now: Self.start)
        #expect(result2)
        let result3 = machine.requestReceived(1, closesConnection: false)
        #expect(answered(result3) == 1)
        let result4 = machine.requestReceived(2, closesConnection: false)
        #expect(answered(result4) == nil)
        let result5 = machine.requestReceived(3, closesConnection: false)
        #expect(answered(result5) == nil)
        let result6 = machine.read()
        #expect(result6 == .hold)
        let result7 = machine.answerEnded(now: Self.start)
        #expect(next(result7) == "answer 2")
        let result8 = machine.answerEnded(now: Self.start)
        #expect(next(result8) == "answer 3")
        let result9 = machine.answerEnded(now: Self.start)
        #expect(next(result9) == "read")
        #expect(machine.isIdle)
        let result10 = machine.answerEnded(now: Self.start)
        #expect(next(result10) == "none", "no answer in progress")
    }

    @Test func aClosingRequestStopsReadingAndItsAnswerIsTheLast() {
        var machine = Machine(timeouts: Self.timeouts, now: Self.start)
        _ = machine.requestReceived(1, closesConnection: false)
        _ = machine.requestReceived(2, closesConnection: true)
        #expect(!machine.isReadingInput)
        #expect(!machine.closesAfterAnswer, "1 is not the last: 2 waits")
        let result11 = machine.bytesReceived(now: Self.start)
        #expect(result11 == false, "bytes after it are ignored")
        let result12 = machine.answerEnded(now: Self.start)
        #expect(next(result12) == "answer 2")
        #expect(machine.closesAfterAnswer)
        let result13 = machine.answerEnded(now: Self.start)
        #expect(next(result13) == "close")
        let result14 = machine.read()
        #expect(result14 == .hold)
    }

    @Test func halfCloseAndShutdownCloseAtOnceWhenIdleElseAfterTheAnswers() {
        var idle = Machine(timeouts: Self.timeouts, now: Self.start)
        let result15 = idle.inputClosed()
        #expect(result15 == .close)
        var busy = Machine(timeouts: Self.timeouts, now: Self.start)
        _ = busy.requestReceived(1, closesConnection: false)
        let result16 = busy.quiesce()
        #expect(result16 == .none)
        #expect(busy.closesAfterAnswer)
        let result17 = busy.answerEnded(now: Self.start)
        #expect(next(result17) == "close")
    }

    @Test func anAnswerThatEndsTheConnectionDropsWhatWaited() {
        var machine = Machine(timeouts: Self.timeouts, now: Self.start)
        _ = machine.requestReceived(1, closesConnection: false)
        _ = machine.requestReceived(2, closesConnection: false)
        machine.endAfterAnswer()
        #expect(machine.waiting.isEmpty)
        let result18 = machine.answerEnded(now: Self.start)
        #expect(next(result18) == "close")
    }

    @Test func theTimerFollowsThePhase() {
        var machine = Machine(timeouts: Self.timeouts, now: Self.start)
        #expect(machine.nextDeadline == Self.start + .seconds(10))
        #expect(machine.timerFired(now: Self.start + .seconds(10)) == .close(.headerTimeout))
        _ = machine.requestReceived(1, closesConnection: false)
        #expect(machine.nextDeadline == nil, "no read deadline while answering")
        machine.writabilityChanged(isWritable: false, now: Self.start + .seconds(1))
        #expect(machine.nextDeadline == Self.start + .seconds(31))
        machine.writabilityChanged(isWritable: true, now: Self.start + .seconds(2))
        _ = machine.answerEnded(now: Self.start + .seconds(3))
        #expect(machine.nextDeadline == Self.start + .seconds(63))
        #expect(machine.timerFired(now: Self.start + .seconds(63)) == .close(.idleTimeout))
        machine.closed()
        #expect(machine.nextDeadline == nil)
        #expect(machine.timerFired(now: Self.start + .seconds(100)) == .wait(until: nil))
    }
}
