/// A failure of ``ACMEClient`` that is not the CA's refusal (that is an
/// ``ACMEProblem``): the CA could not be reached, did not answer in time, or
/// answered something unusable, or a local input was unusable.
///
/// Messages name the URL and what to do. They never contain key material,
/// request bodies or signatures, so they are safe to log and to show.
public struct ACMEError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. `rawValue` is short and stable: use it as a metrics label.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Kind: String, Sendable, Hashable {
            case unreachable, timeout
            case tooLarge = "too_large"
            case invalidResponse = "invalid_response"
            case unexpectedStatus = "unexpected_status"
            case orderFailed = "order_failed"
            case pollingTimedOut = "polling_timed_out"
            case noChallenge = "no_challenge"
            case certificateMismatch = "certificate_mismatch"
            case invalidArgument = "invalid_argument"
            case invalidKey = "invalid_key"
            case unsupported
        }
        fileprivate let kind: Kind
        public var rawValue: String { kind.rawValue }
        public var description: String { rawValue }

        /// The CA could not be reached (connection refused, DNS, TLS).
        public static let unreachable = Code(kind: .unreachable)
        /// A request did not complete within its timeout.
        public static let timeout = Code(kind: .timeout)
        /// A response body was larger than the client accepts.
        public static let tooLarge = Code(kind: .tooLarge)
        /// The CA's answer could not be understood (bad JSON, missing header).
        public static let invalidResponse = Code(kind: .invalidResponse)
        /// An error status without a problem document.
        public static let unexpectedStatus = Code(kind: .unexpectedStatus)
        /// The order became `invalid` without saying why.
        public static let orderFailed = Code(kind: .orderFailed)
        /// An authorization or order did not settle within the polling budget.
        public static let pollingTimedOut = Code(kind: .pollingTimedOut)
        /// An authorization offered no HTTP-01 challenge.
        public static let noChallenge = Code(kind: .noChallenge)
        /// The issued certificate does not match the key or the names asked for.
        public static let certificateMismatch = Code(kind: .certificateMismatch)
        /// A caller's argument is unusable (no names, a malformed name).
        public static let invalidArgument = Code(kind: .invalidArgument)
        /// An account key could not be loaded.
        public static let invalidKey = Code(kind: .invalidKey)
        /// The CA does not offer what was asked (e.g. no `renewalInfo`).
        public static let unsupported = Code(kind: .unsupported)
    }

    public let code: Code
    /// A sentence for people: what failed and what to do.
    public let message: String
    /// The HTTP status the CA answered with, when it answered.
    public let status: Int?

    public init(code: Code, message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Whether trying again later may succeed: network failures, timeouts,
    /// 5xx answers and polling that ran out of time.
    public var isTransient: Bool {
        switch code {
        case .unreachable, .timeout, .pollingTimedOut: true
        case .unexpectedStatus: (status ?? 0) >= 500
        default: false
        }
    }

    static func invalidKey(_ message: String) -> ACMEError { ACMEError(code: .invalidKey, message: message) }

    static func invalidResponse(_ url: String, _ what: String, status: Int? = nil) -> ACMEError {
        ACMEError(
            code: .invalidResponse,
            message:
                "the ACME server's answer from \(url) is unusable: \(what); check that the directory URL points at an ACME CA",
            status: status)
    }
}
