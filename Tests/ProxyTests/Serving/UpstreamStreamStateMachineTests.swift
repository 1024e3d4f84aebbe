import NIOCore
import NIOHTTP1
import Testing

@testable import Proxy

@Suite struct UpstreamStreamStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(5_000_000_000_000)
    func at(_ milliseconds: Int64) -> NIODeadline { start + .milliseconds(milliseconds) }

    func machine(length: Int64 = 100, status: HTTPResponseStatus = .ok) -> UpstreamStreamStateMachine {
        UpstreamStreamStateMachine(
            configuration: .init(headTimeout: .seconds(5), idleTimeout: .seconds(2)), expectedLength: length,
            expectedStatus: status, now: start)
    }

    @Test func aGoodHeadStartsTheResponseAndTheBodyFlowsWhileTheClientIsWritable() {
        var stream = machine()
        #expect(stream.headReceived(status: .ok, contentLength: 100, now: at(10)) == .startResponse)
        #expect(stream.chunkReceived(bytes: 60, clientWritable: true, now: at(20)) == .writeAndContinue)
        #expect(stream.chunkReceived(bytes: 40, clientWritable: true, now: at(30)) == .writeAndContinue)
        #expect(stream.upstreamFinished() == .finishResponse)
        #expect(stream.state == .finished)
    }

    @Test func aSlowClientHoldsTheUpstreamUntilItCanTakeMore() {
        var stream = machine()
        _ = stream.headReceived(status: .ok, contentLength: 100, now: at(0))
        #expect(stream.chunkReceived(bytes: 10, clientWritable: false, now: at(1)) == .writeAndHold)
        // While held, nothing is asked of the store, so no idle timeout runs.
        #expect(stream.nextDeadline == nil)
        #expect(stream.timerFired(now: at(60_000)) == .wait(until: nil))
        #expect(stream.clientWritabilityChanged(isWritable: false, now: at(2)) == false)
        #expect(stream.clientWritabilityChanged(isWritable: true, now: at(70_000)) == true)
        // Asked again: the idle clock runs from now.
        #expect(stream.nextDeadline == at(72_000))
        #expect(stream.clientWritabilityChanged(isWritable: true, now: at(70_001)) == false)
    }

    @Test func aWrongStatusOrLengthIsABadGateway() {
        var wrongStatus = machine()
        guard
            case .fail(.badResponse) = wrongStatus.headReceived(
                status: .internalServerError, contentLength: 10, now: at(0))
        else {
            Issue.record("500 must fail")
            return
        }
        var wrongLength = machine()
        guard case .fail(.badResponse) = wrongLength.headReceived(status: .ok, contentLength: 99, now: at(0))
        else {
            Issue.record("a short length must fail")
            return
        }
        var missingLength = machine()
        guard case .fail(.badResponse) = missingLength.headReceived(status: .ok, contentLength: nil, now: at(0))
        else {
            Issue.record("a missing length must fail")
            return
        }
        var rangeAnsweredWhole = machine(length: 10, status: .partialContent)
        guard case .fail(.badResponse) = rangeAnsweredWhole.headReceived(status: .ok, contentLength: 10, now: at(0))
        else {
            Issue.record("200 to a range request must fail")
            return
        }
    }

    @Test func aStoreThatDoesNotAnswerInTimeIsAGatewayTimeout() {
        var stream = machine()
        #expect(stream.nextDeadline == at(5000))
        #expect(stream.timerFired(now: at(4999)) == .wait(until: at(5000)))
        #expect(stream.timerFired(now: at(5000)) == .cancelAndFailPage(.headTimeout))
        #expect(stream.state == .failed)
    }

    @Test func aStoreThatStallsMidBodyIsAbortedAtTheIdleTimeout() {
        var stream = machine()
        _ = stream.headReceived(status: .ok, contentLength: 100, now: at(0))
        _ = stream.chunkReceived(bytes: 10, clientWritable: true, now: at(100))
        #expect(stream.timerFired(now: at(2099)) == .wait(until: at(2100)))
        #expect(stream.timerFired(now: at(2100)) == .cancelAndAbort)
    }

    @Test func aBodyEndingShortAbortsTheClientConnection() {
        var stream = machine()
        _ = stream.headReceived(status: .ok, contentLength: 100, now: at(0))
        _ = stream.chunkReceived(bytes: 50, clientWritable: true, now: at(1))
        #expect(stream.upstreamFinished() == .abortConnection)
    }

    @Test func failuresBeforeTheHeadArePagesAndAfterItAborts() {
        var early = machine()
        guard case .failPage(.upstreamError) = early.upstreamFailed("connection refused") else {
            Issue.record("a failure before the head is a page")
            return
        }
        var late = machine()
        _ = late.headReceived(status: .ok, contentLength: 100, now: at(0))
        #expect(late.upstreamFailed("reset") == .abortConnection)
        #expect(late.upstreamFailed("again") == .none)
    }

    @Test func aClientGoingAwayEndsTheStreamOnce() {
        var stream = machine()
        _ = stream.headReceived(status: .ok, contentLength: 100, now: at(0))
        #expect(stream.clientClosed() == true)
        #expect(stream.clientClosed() == false)
        #expect(stream.chunkReceived(bytes: 10, clientWritable: true, now: at(1)) == .drop)
        #expect(stream.upstreamFinished() == .none)
    }
}
