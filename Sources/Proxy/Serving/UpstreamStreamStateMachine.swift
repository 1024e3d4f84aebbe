import NIOCore
import NIOHTTP1

/// Streaming one object from the store to the client with backpressure, as
/// a value-type state machine with the time passed in.
///
/// The store connection is read only as fast as the client takes the bytes:
/// after each chunk is written, more is asked of the store only once the
/// client channel is writable again (`GlueHandler` in swift-nio-examples'
/// connect-proxy works the same way). Memory per stream is bounded by the
/// channel's write-buffer high watermark plus one chunk, whatever the size
/// of the object and the speed of the client.
///
/// ```
/// awaitingHead ──head ok──▶ streaming ──end──▶ finished
///      │                       │
///      └── error/timeout ──▶ failed (page, or abort once headers are out)
/// ```
struct UpstreamStreamStateMachine {
    struct Configuration: Sendable, Hashable {
        /// Connecting and receiving the head.
        var headTimeout: TimeAmount
        /// Waiting for the next chunk once it has been asked for.
        var idleTimeout: TimeAmount
    }

    enum State: Sendable, Hashable {
        case awaitingHead(since: NIODeadline)
        /// `demandHeld`: a chunk was written while the client was not
        /// writable, so the store is not asked for more until it is.
        /// `waitingSince`: more was asked of the store at that time and has
        /// not come yet (the idle timeout runs).
        case streaming(received: Int64, demandHeld: Bool, waitingSince: NIODeadline?)
        case finished
        case failed
    }

    enum Failure: Sendable, Hashable {
        /// The store answered with an unexpected status or length: 502 page.
        case badResponse(String)
        /// The store did not answer in time: 504 page.
        case headTimeout
        /// The store failed before the head: 502 page.
        case upstreamError(String)
    }

    enum HeadAction: Sendable, Hashable {
        /// Send the response head to the client.
        case startResponse
        /// Cancel the upstream request and answer with an error page.
        case fail(Failure)
    }

    enum ChunkAction: Sendable, Hashable {
        /// Write the chunk and ask the store for more now.
        case writeAndContinue
        /// Write the chunk; ask for more when the client becomes writable.
        case writeAndHold
        /// Drop the chunk (the stream already ended or failed).
        case drop
    }

    enum EndAction: Sendable, Hashable {
        /// The whole body went through: end the response.
        case finishResponse
        /// The body ended short or failed after the head was sent: close the
        /// client connection so it sees a truncated response, never a
        /// complete-looking wrong one.
        case abortConnection
        /// Nothing was sent yet: answer with an error page.
        case failPage(Failure)
        case none
    }

    enum TimerAction: Sendable, Hashable {
        case wait(until: NIODeadline?)
        /// Cancel the upstream request, then answer with a page.
        case cancelAndFailPage(Failure)
        /// Cancel the upstream request and close the client connection.
        case cancelAndAbort
    }

    let configuration: Configuration
    /// The number of body bytes the store must deliver.
    let expectedLength: Int64
    /// 200 for a whole object, 206 for a range of it.
    let expectedStatus: HTTPResponseStatus
    private(set) var state: State

    init(configuration: Configuration, expectedLength: Int64, expectedStatus: HTTPResponseStatus, now: NIODeadline) {
        self.configuration = configuration
        self.expectedLength = expectedLength
        self.expectedStatus = expectedStatus
        self.state = .awaitingHead(since: now)
    }

    mutating func headReceived(status: HTTPResponseStatus, contentLength: Int64?, now: NIODeadline) -> HeadAction {
        guard case .awaitingHead = state else { return .fail(.badResponse("a second response head")) }
        guard status == expectedStatus else {
            state = .failed
            return .fail(.badResponse("the object store answered \(status.code) instead of \(expectedStatus.code)"))
        }
        guard contentLength == expectedLength else {
            state = .failed
            return .fail(
                .badResponse(
                    "the object store sent \(contentLength.map(String.init) ?? "no") Content-Length instead of \(expectedLength)"
                ))
        }
        state = .streaming(received: 0, demandHeld: false, waitingSince: now)
        return .startResponse
    }

    mutating func chunkReceived(bytes: Int, clientWritable: Bool, now: NIODeadline) -> ChunkAction {
        guard case .streaming(let received, _, _) = state else { return .drop }
        let total = received + Int64(bytes)
        if clientWritable {
            state = .streaming(received: total, demandHeld: false, waitingSince: now)
            return .writeAndContinue
        }
        state = .streaming(received: total, demandHeld: true, waitingSince: nil)
        return .writeAndHold
    }

    /// - Returns: whether to ask the store for more now.
    mutating func clientWritabilityChanged(isWritable: Bool, now: NIODeadline) -> Bool {
        guard isWritable, case .streaming(let received, true, _) = state else { return false }
        state = .streaming(received: received, demandHeld: false, waitingSince: now)
        return true
    }

    mutating func upstreamFinished() -> EndAction {
        switch state {
        case .streaming(let received, _, _):
            state = received == expectedLength ? .finished : .failed
            return received == expectedLength ? .finishResponse : .abortConnection
        case .awaitingHead:
            state = .failed
            return .failPage(.badResponse("the object store ended the response without a head"))
        case .finished, .failed:
            return .none
        }
    }

    mutating func upstreamFailed(_ description: String) -> EndAction {
        switch state {
        case .awaitingHead:
            state = .failed
            return .failPage(.upstreamError(description))
        case .streaming:
            state = .failed
            return .abortConnection
        case .finished, .failed:
            return .none
        }
    }

    /// The client went away: nothing more will be written.
    mutating func clientClosed() -> Bool {
        switch state {
        case .awaitingHead, .streaming:
            state = .failed
            return true
        case .finished, .failed:
            return false
        }
    }

    var nextDeadline: NIODeadline? {
        switch state {
        case .awaitingHead(let since): since + configuration.headTimeout
        case .streaming(_, _, let waitingSince?): waitingSince + configuration.idleTimeout
        default: nil
        }
    }

    mutating func timerFired(now: NIODeadline) -> TimerAction {
        switch state {
        case .awaitingHead(let since) where now >= since + configuration.headTimeout:
            state = .failed
            return .cancelAndFailPage(.headTimeout)
        case .streaming(_, _, let waitingSince?) where now >= waitingSince + configuration.idleTimeout:
            state = .failed
            return .cancelAndAbort
        default:
            return .wait(until: nextDeadline)
        }
    }
}
