public import AsyncHTTPClient
public import Foundation
public import Logging
import NIOHTTP1
import Synchronization

/// Slipway's ACME client (RFC 8555): it registers an account and obtains
/// certificates for custom domains through HTTP-01 challenges that every
/// Slipway proxy answers statelessly (``ACMEHTTP01``), and reads ARI
/// renewal windows (RFC 9773).
///
/// One client serves one account (one ``ACMEAccountKey``) at one CA, and
/// may be shared by concurrent tasks. What it does on the wire:
/// - `GET` the directory once and cache it.
/// - Every other request is a `POST` of a JWS signed with the account key
///   (``ACMEJWS``) carrying a fresh nonce: from a pool filled by every
///   response's `Replay-Nonce`, else from `HEAD newNonce`. A `badNonce`
///   refusal is repeated with the nonce it carried, up to
///   ``Options/maximumBadNonceRetries`` times (RFC 8555 §6.5);
///   ``badNonceRetries`` counts them.
/// - The account is registered (or found again: `newAccount` is idempotent
///   for a known key) on first use; later requests name it by its URL (`kid`).
///
/// The caller owns `httpClient`. Configure it with redirects **off**
/// (`redirectConfiguration: .disallow`): ACME never redirects, and a
/// followed redirect would re-send a signed request elsewhere. Response
/// decompression is not needed. Trust the CA's API certificate in its TLS
/// configuration. Every request has ``Options/requestTimeout`` as its
/// deadline (head and body), and bodies larger than
/// ``Options/maximumResponseBytes`` are refused.
///
/// Errors are ``ACMEProblem`` (the CA refused) or ``ACMEError`` (anything
/// else). Neither, nor any log line, contains key material.
public final class ACMEClient: Sendable {
    /// Limits and timings.
    public struct Options: Sendable {
        /// The deadline of one HTTP request, from sending it to the end of its body.
        public var requestTimeout: Duration = .seconds(30)
        /// The largest response body accepted (certificate chains and ACME objects are a few KiB).
        public var maximumResponseBytes = 1 << 20
        /// How often a `badNonce` refusal is retried before it is thrown.
        public var maximumBadNonceRetries = 10
        /// The total time spent waiting between polls of one authorization or order.
        public var pollingBudget: Duration = .seconds(120)
        /// The first wait between polls when the CA sends no `Retry-After`; it
        /// doubles after each poll up to ``maximumPollInterval``.
        public var pollInterval: Duration = .milliseconds(250)
        /// The longest wait between polls when the CA sends no `Retry-After`.
        public var maximumPollInterval: Duration = .seconds(5)
        /// The `User-Agent` of every request (RFC 8555 §6.1 asks for one).
        public var userAgent = "Slipway-ACME"

        public init() {}
    }

    /// The directory URL this client talks to.
    public let directoryURL: String
    /// The account key (its description shows only the thumbprint).
    public let accountKey: ACMEAccountKey
    /// The `contact` URLs sent with `newAccount` (`mailto:` addresses).
    public let contact: [String]
    public let options: Options

    let httpClient: HTTPClient
    let logger: Logger
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date

    let cachedDirectory = Mutex<ACMEDirectory?>(nil)
    let nonces = Mutex<[String]>([])
    let cachedAccountURL = Mutex<String?>(nil)
    let badNonceCount = Atomic<Int>(0)

    /// - Parameters:
    ///   - directoryURL: the CA's directory, e.g. `https://acme-v02.api.letsencrypt.org/directory`.
    ///   - accountKey: the account's key; the same key always finds the same account.
    ///   - httpClient: a client with redirects off and the CA's certificate trusted (see above).
    ///   - logger: steps at debug level, issued certificates at info; never keys.
    ///   - contact: `mailto:` URLs for the CA's expiry and policy mail.
    ///   - options: limits and timings.
    ///   - clock: what waits between polls sleep on (a test clock makes them instant).
    ///   - now: the wall clock, for `Retry-After` dates.
    public init(
        directoryURL: String, accountKey: ACMEAccountKey, httpClient: HTTPClient, logger: Logger,
        contact: [String] = [], options: Options = Options(), clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.directoryURL = directoryURL
        self.accountKey = accountKey
        self.httpClient = httpClient
        var logger = logger
        logger[metadataKey: "acme.directory"] = "\(directoryURL)"
        self.logger = logger
        self.contact = contact
        self.options = options
        self.clock = clock
        self.now = now
    }

    /// How many `badNonce` refusals were retried so far (Pebble rejects 5% of
    /// good nonces on purpose; a high count elsewhere hints at a load balancer
    /// spreading requests over CA nodes that do not share nonces).
    public var badNonceRetries: Int { badNonceCount.load(ordering: .relaxed) }

    /// The account URL, once ``registerAccount()`` (or any order) found it.
    public var accountURL: String? { cachedAccountURL.withLock { $0 } }

    /// The CA's directory, fetched on first use and cached.
    public func directory() async throws -> ACMEDirectory {
        if let directory = cachedDirectory.withLock({ $0 }) { return directory }
        let response = try await send(.GET, directoryURL)
        guard response.status == 200 else { throw problemOrError(response, url: directoryURL) }
        let directory = try response.decode(ACMEDirectory.self, url: directoryURL)
        logger.debug("ACME directory loaded", metadata: ["acme.ari": "\(directory.renewalInfo != nil)"])
        cachedDirectory.withLock { $0 = directory }
        return directory
    }

    /// Registers the account with `termsOfServiceAgreed: true`, or finds the
    /// existing one for this key (RFC 8555 §7.3: the CA answers 200 and the
    /// same URL for a known key).
    public func registerAccount() async throws -> ACMEAccount {
        let directory = try await directory()
        let payload = ACMENewAccount(termsOfServiceAgreed: true, contact: contact.isEmpty ? nil : contact)
        let response = try await post(directory.newAccount, payload: try Self.encode(payload), signer: .jwk)
        guard let url = response.location else {
            throw ACMEError.invalidResponse(directory.newAccount, "no Location header with the account URL")
        }
        let account = try response.decode(ACMEAccountObject.self, url: directory.newAccount)
        cachedAccountURL.withLock { $0 = url }
        logger.debug(
            "ACME account ready",
            metadata: ["acme.account": "\(url)", "acme.account.created": "\(response.status == 201)"])
        return ACMEAccount(url: url, status: account.status, created: response.status == 201)
    }

    /// The account URL, registering the account first when it is not known yet.
    func accountURLRegisteringIfNeeded() async throws -> String {
        if let url = accountURL { return url }
        return try await registerAccount().url
    }

    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}

/// An ACME account as ``ACMEClient/registerAccount()`` found it.
public struct ACMEAccount: Sendable, Hashable {
    /// The account URL: the `kid` of every later request. Store it beside the key.
    public var url: String
    /// `valid`, `deactivated` or `revoked`.
    public var status: String
    /// Whether this registration created the account (201) rather than found it (200).
    public var created: Bool
}
