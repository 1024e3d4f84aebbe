import HTTPTypes

/// The admin connection's intake, as a value: which request parts go on to
/// the router, and when a refusal is written. The channel handler
/// (``RequestIntakeHandler``) only carries out the actions.
///
/// A refused request is answered in its place among pipelined requests:
/// after the responses of the requests before it, which the router may
/// still be writing. Then the connection closes, and nothing that arrived
/// after the refused request is read.
struct RequestIntakeStateMachine {
    private enum State {
        /// Requests go on to the router; `inFlight` heads went on whose
        /// response has not ended.
        case open(inFlight: Int)
        /// A request was refused: nothing more goes on; the refusal is
        /// written once the `inFlight` responses before it ended.
        case refusing(AdminError, inFlight: Int)
        /// The refusal was written; the connection is closing.
        case closed
    }

    private var state = State.open(inFlight: 0)

    enum ReadAction: Equatable {
        /// Pass the part on to the router.
        case forward
        /// Drop the part.
        case drop
        /// Write this refusal, then close the connection.
        case refuse(AdminError)
    }

    /// A request head arrived.
    mutating func head(_ request: HTTPRequest) -> ReadAction {
        guard case .open(let inFlight) = state else { return .drop }
        if let refusal = RequestIntake.problem(with: request) {
            return refuse(refusal, inFlight: inFlight)
        }
        state = .open(inFlight: inFlight + 1)
        return .forward
    }

    /// A body part or the end of a request arrived.
    mutating func bodyOrEnd() -> ReadAction {
        if case .open = state { return .forward }
        return .drop
    }

    /// The parser failed: what arrived cannot be read as HTTP/1.1.
    mutating func parseError(_ refusal: AdminError) -> ReadAction {
        guard case .open(let inFlight) = state else { return .drop }
        return refuse(refusal, inFlight: inFlight)
    }

    /// Any other error: pass it on unless the connection is being refused
    /// (the parser's errors about the refused request's body then follow).
    func otherError() -> ReadAction {
        if case .open = state { return .forward }
        return .drop
    }

    /// A response's end was written.
    mutating func responseEnded() -> AdminError? {
        switch state {
        case .open(let inFlight):
            state = .open(inFlight: max(inFlight - 1, 0))
            return nil
        case .refusing(let refusal, let inFlight):
            if inFlight <= 1 {
                state = .closed
                return refusal
            }
            state = .refusing(refusal, inFlight: inFlight - 1)
            return nil
        case .closed:
            return nil
        }
    }

    private mutating func refuse(_ refusal: AdminError, inFlight: Int) -> ReadAction {
        if inFlight == 0 {
            state = .closed
            return .refuse(refusal)
        }
        state = .refusing(refusal, inFlight: inFlight)
        return .drop
    }
}
