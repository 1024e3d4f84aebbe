import NIOCore
import Testing

@testable import Proxy

@Suite struct ConnectionTimeoutsStateMachineTests {
    let configuration = ConnectionTimeouts.Configuration(
        headerRead: .seconds(10), idle: .seconds(60), writeIdle: .seconds(30))
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    func at(_ seconds: Int64) -> NIODeadline { start + .seconds(seconds) }

    @Test func aNewConnectionMustSendItsRequestWithinTheHeaderTimeout() {
        let timeouts = ConnectionTimeouts(configuration: configuration, now: start)
        #expect(timeouts.nextDeadline == at(10))
        #expect(timeouts.check(now: at(9)) == .wait(until: at(10)))
        #expect(timeouts.check(now: at(10)) == .close(.headerTimeout))
    }

    @Test func aTricklingRequestIsClosedAtTheHeaderTimeoutCountedFromItsFirstByte() {
        var timeouts = ConnectionTimeouts(configuration: configuration, now: start)
        timeouts.requestReceived()
        timeouts.responseCompleted(now: at(1))
        // Idle keep-alive: the idle timeout applies.
        #expect(timeouts.nextDeadline == at(61))
        // The first byte of the next request starts the header clock; more bytes do not reset it.
        #expect(timeouts.bytesReceived(now: at(20)) == true)
        #expect(timeouts.bytesReceived(now: at(25)) == false)
        #expect(timeouts.check(now: at(29)) == .wait(until: at(30)))
        #expect(timeouts.check(now: at(30)) == .close(.headerTimeout))
    }

    @Test func anIdleKeepAliveConnectionIsClosedAtTheIdleTimeout() {
        var timeouts = ConnectionTimeouts(configuration: configuration, now: start)
        timeouts.bytesReceived(now: start)
        timeouts.requestReceived()
        timeouts.responseCompleted(now: at(2))
        #expect(timeouts.phase == .idle(since: at(2)))
        #expect(timeouts.check(now: at(61)) == .wait(until: at(62)))
        #expect(timeouts.check(now: at(62)) == .close(.idleTimeout))
    }

    @Test func aRequestInFlightHasNoReadDeadline() {
        var timeouts = ConnectionTimeouts(configuration: configuration, now: start)
        timeouts.requestReceived()
        #expect(timeouts.phase == .inFlight)
        #expect(timeouts.nextDeadline == nil)
        #expect(timeouts.check(now: at(3600)) == .wait(until: nil))
    }

    @Test func pipelinedRequestsKeepTheConnectionInFlightUntilEveryOneIsAnswered() {
        var timeouts = ConnectionTimeouts(configuration: configuration, now: start)
        timeouts.requestReceived()
        timeouts.requestReceived()
        timeouts.responseCompleted(now: at(1))
        #expect(timeouts.phase == .inFlight)
        #expect(timeouts.outstanding == 1)
        timeouts.responseCompleted(now: at(2))
        #expect(timeouts.phase == .idle(since: at(2)))
    }

    @Test func bytesOfAPipelinedRequestStartTheHeaderClockWhenTheResponsesAreDone() {
        var timeouts = ConnectionTimeouts(configuration: configuration, now: start)
        timeouts.requestReceived()
        #expect(timeouts.bytesReceived(now: at(1)) == false)
        timeouts.responseCompleted(now: at(5))
        #expect(timeouts.phase == .readingRequest(since: at(5)))
        #expect(timeouts.check(now: at(15)) == .close(.headerTimeout))
    }

    @Test func aClientThatStopsReadingIsClosedAtTheWriteIdleTimeout() {
        var timeouts = ConnectionTimeouts(configuration: configuration, now: start)
        timeouts.requestReceived()
        timeouts.writabilityChanged(isWritable: false, now: at(1))
        // Staying unwritable does not move the start.
        timeouts.writabilityChanged(isWritable: false, now: at(20))
        #expect(timeouts.nextDeadline == at(31))
        #expect(timeouts.check(now: at(30)) == .wait(until: at(31)))
        #expect(timeouts.check(now: at(31)) == .close(.writeTimeout))
    }

    @Test func aSlowButSteadyReaderIsKeptBecauseEachDrainResetsTheWriteClock() {
        var timeouts = ConnectionTimeouts(configuration: configuration, now: start)
        timeouts.requestReceived()
        for second in stride(from: Int64(0), to: 300, by: 20) {
            timeouts.writabilityChanged(isWritable: false, now: at(second))
            #expect(timeouts.check(now: at(second + 19)) != .close(.writeTimeout))
            timeouts.writabilityChanged(isWritable: true, now: at(second + 19))
        }
        #expect(timeouts.nextDeadline == nil)
    }

    @Test func theEarliestOfTheReadAndWriteDeadlinesComesFirst() {
        var timeouts = ConnectionTimeouts(configuration: configuration, now: start)
        timeouts.writabilityChanged(isWritable: false, now: at(0))
        #expect(timeouts.nextDeadline == at(10))
        timeouts.requestReceived()
        #expect(timeouts.nextDeadline == at(30))
    }
}
