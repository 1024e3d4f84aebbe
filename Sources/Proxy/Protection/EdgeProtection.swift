import CoreMetrics
import Crypto
import Foundation
import Model
import NIOCore
import NIOHTTP1
import NIOPosix
import Storage
import Synchronization

/// A host whose visitors must sign in, as routing found it.
struct ProtectedHost: Sendable, Hashable {
    var siteID: SiteID
    /// Lower-case, without port or trailing dot: what a session cookie names.
    var host: String
    var protection: SiteProtection
    var isPreview: Bool
}

/// What the edge does about a request for a protected host
/// (`docs/site-rules.md`, Protected sites): let it through, answer it
/// itself (the sign-in page, a Basic challenge, 429, the sign-in's
/// redirect), or verify a password first, off the event loop.
///
/// Everything that happens on the loop here is cheap — an HMAC over a
/// cookie, a look-up of recently verified Basic credentials, the attempt
/// limiter. Verifying a password (scrypt, tens of milliseconds) runs on the
/// NIO thread pool, after the site's password hash is read from the
/// catalog (``Catalog/protectionSecret(siteID:)``) or from memory, where
/// it is kept by site and password version.
final class EdgeProtection: Sendable {
    /// Who may visit, and what to answer.
    enum Decision: Sendable {
        /// The visitor is signed in (or the host is not protected for this request).
        case pass
        /// Answer this; the site is not served.
        case reply(ResponsePlan)
        /// A password to check before deciding (``verify(_:)``).
        case verify(Attempt)
    }

    /// A password to check.
    struct Attempt: Sendable {
        enum Kind: Sendable {
            /// The sign-in form was posted.
            case form(returnPath: String, secure: Bool)
            /// `Authorization: Basic` credentials not verified lately.
            case basic(username: String, headerDigest: String)
        }

        var kind: Kind
        var host: ProtectedHost
        var password: String
        /// The attempt limiter's key: the client's address and the host.
        var limiterKey: String
    }

    /// What verifying an attempt found.
    enum Outcome: Sendable {
        /// Basic credentials are right: serve the request.
        case pass
        case reply(ResponsePlan)
    }

    /// The keys that sign session cookies (bytes: `SymmetricKey` is not `Sendable`); the first signs.
    private let keyBytes: [Data]
    var keys: [SymmetricKey] { keyBytes.map { SymmetricKey(data: $0) } }
    let sessionTTL: Duration
    let limiter: AttemptLimiter
    let pages: SlipwayPages
    private let catalog: any Catalog
    private let clock: @Sendable () -> Date
    /// `slipway_proxy_sign_ins_total{result}`: passwords checked (`accepted`,
    /// `refused`) and attempts refused unchecked while limited (`limited`).
    private let signIns: [String: Counter]
    private let secrets = Mutex<[SiteID: ProtectionSecret]>([:])
    private let verified: Mutex<VerifiedCredentials>

    /// Most password hashes kept in memory, and most Basic credentials remembered as verified.
    static let maxSecrets = 10_000
    static let maxVerifiedCredentials = 4_096
    /// How long Basic credentials, once verified, are taken without hashing again.
    static let verifiedCredentialsTTL: TimeInterval = 300

    init(
        keys: [SymmetricKey], sessionTTL: Duration, limiter: AttemptLimiter, pages: SlipwayPages,
        catalog: any Catalog, clock: @escaping @Sendable () -> Date = Date.init,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.signIns = Dictionary(
            uniqueKeysWithValues: ["accepted", "refused", "limited"].map {
                (
                    $0,
                    Counter(
                        label: "slipway_proxy_sign_ins_total", dimensions: [("result", $0)], factory: metricsFactory)
                )
            })
        precondition(!keys.isEmpty, "the edge needs a key to sign session cookies")
        self.keyBytes = keys.map { $0.withUnsafeBytes { Data($0) } }
        self.sessionTTL = sessionTTL
        self.limiter = limiter
        self.pages = pages
        self.catalog = catalog
        self.clock = clock
        self.verified = Mutex(VerifiedCredentials(capacity: Self.maxVerifiedCredentials))
    }

    // MARK: On the event loop

    /// The decision for `request` to `host`.
    /// - Parameters:
    ///   - client: the client's address (the attempt limiter's key).
    ///   - secure: the client sees the request as HTTPS (the cookie's `Secure`).
    ///   - alreadyVerified: its Basic credentials were just verified.
    func decide(
        _ request: IncomingRequest, host: ProtectedHost, client: String, secure: Bool, alreadyVerified: Bool
    ) -> Decision {
        let path = ReservedPaths.rawPath(request.target)
        let limiterKey = client + " " + host.host
        if request.method == .POST && path == ReservedPaths.signOut {
            return .reply(seeOther("/", setCookie: SessionCookie.clearing(secure: secure)))
        }
        switch host.protection.mode {
        case .none:
            return .pass
        case .password:
            if request.method == .POST && path == ReservedPaths.signIn {
                if let wait = limiter.retryAfter(limiterKey) { return .reply(tooManyAttempts(wait)) }
                guard
                    let form = SignInForm(contentType: request.headers.first(name: "content-type"), body: request.body)
                else {
                    return .reply(
                        signInPage(
                            host: host, returnPath: "/", message: "The form was incomplete. Try again.",
                            status: .badRequest))
                }
                return .verify(
                    Attempt(
                        kind: .form(returnPath: form.returnPath, secure: secure), host: host, password: form.password,
                        limiterKey: limiterKey))
            }
            let cookies = request.headers["cookie"]
            if !cookies.isEmpty,
                SessionCookie.admits(
                    cookieFields: cookies, keys: keys, siteID: host.siteID.rawValue, host: host.host,
                    version: host.protection.version, now: clock())
            {
                return .pass
            }
            let back = request.method == .GET || request.method == .HEAD ? ReturnPath.sanitize(request.target) : "/"
            return .reply(signInPage(host: host, returnPath: back, message: nil, status: .unauthorized))
        case .basic:
            guard let credentials = BasicCredentials(request.headers.first(name: "authorization")) else {
                return .reply(basicChallenge(host))
            }
            if alreadyVerified { return .pass }
            let digest = Hex.encode(SHA256.hash(data: Data(credentials.header.utf8)))
            let cacheKey = VerifiedCredentials.Key(
                siteID: host.siteID, version: host.protection.version, headerDigest: digest)
            let now = clock()
            if verified.withLock({ $0.contains(cacheKey, now: now) }) { return .pass }
            if let wait = limiter.retryAfter(limiterKey) { return .reply(tooManyAttempts(wait)) }
            return .verify(
                Attempt(
                    kind: .basic(username: credentials.username, headerDigest: digest), host: host,
                    password: credentials.password, limiterKey: limiterKey))
        }
    }

    // MARK: Off the event loop

    /// Checks an attempt's password: the site's hash from memory or the
    /// catalog, then scrypt on the NIO thread pool. A failure counts
    /// against the client and host (``AttemptLimiter``); a success forgets
    /// their failures.
    func verify(_ attempt: Attempt) async throws -> Outcome {
        let host = attempt.host
        let secret = try await secret(for: host)
        var right = false
        if let secret, secret.mode == host.protection.mode {
            let password = attempt.password
            let hash = secret.passwordHash
            right = try await NIOThreadPool.singleton.runIfActive { PasswordHash.verify(password, against: hash) }
            if case .basic(let username, _) = attempt.kind {
                // Both halves are always checked, so a wrong username takes as long as a wrong password.
                right =
                    right && PasswordHash.constantTimeEquals(Array(username.utf8), Array((secret.username ?? "").utf8))
            }
        }
        guard right, let secret else {
            signIns["refused"]?.increment()
            limiter.recordFailure(attempt.limiterKey)
            switch attempt.kind {
            case .form:
                return .reply(
                    signInPage(
                        host: host, returnPath: returnPath(of: attempt), message: "Wrong password. Try again.",
                        status: .unauthorized))
            case .basic:
                return .reply(basicChallenge(host))
            }
        }
        signIns["accepted"]?.increment()
        limiter.recordSuccess(attempt.limiterKey)
        switch attempt.kind {
        case .form(let returnPath, let secure):
            let ttl = sessionTTL.components.seconds
            let cookie = SessionCookie(
                siteID: host.siteID.rawValue, host: host.host, version: secret.version,
                expires: Int64(clock().timeIntervalSince1970) + ttl)
            return .reply(seeOther(returnPath, setCookie: cookie.setCookie(key: keys[0], maxAge: ttl, secure: secure)))
        case .basic(_, let digest):
            let key = VerifiedCredentials.Key(siteID: host.siteID, version: secret.version, headerDigest: digest)
            let now = clock()
            verified.withLock { $0.insert(key, now: now) }
            return .pass
        }
    }

    private func returnPath(of attempt: Attempt) -> String {
        if case .form(let returnPath, _) = attempt.kind { return returnPath }
        return "/"
    }

    /// The site's password hash for the host's password version: from
    /// memory, else from the catalog (which may already hold a newer one).
    private func secret(for host: ProtectedHost) async throws -> ProtectionSecret? {
        if let known = secrets.withLock({ $0[host.siteID] }), known.version == host.protection.version {
            return known
        }
        guard let loaded = try await catalog.protectionSecret(siteID: host.siteID) else {
            secrets.withLock { _ = $0.removeValue(forKey: host.siteID) }
            return nil
        }
        secrets.withLock { table in
            if table.count >= Self.maxSecrets, table[host.siteID] == nil { table.removeAll(keepingCapacity: true) }
            table[host.siteID] = loaded
        }
        return loaded
    }

    // MARK: Answers

    /// The sign-in page (password mode).
    func signInPage(host: ProtectedHost, returnPath: String, message: String?, status: HTTPResponseStatus)
        -> ResponsePlan
    {
        var rendered = pages.signIn(host: host.host, returnPath: returnPath, message: message ?? "")
        rendered.status = status
        var extra = HTTPHeaders()
        extra.add(name: "X-Robots-Tag", value: "noindex")
        extra.add(name: "X-Frame-Options", value: "DENY")
        return Self.page(rendered, extra: extra)
    }

    /// 401 asking for Basic credentials (RFC 7617).
    func basicChallenge(_ host: ProtectedHost) -> ResponsePlan {
        var extra = HTTPHeaders()
        extra.add(name: "WWW-Authenticate", value: "Basic realm=\"\(host.host)\", charset=\"UTF-8\"")
        extra.add(name: "X-Robots-Tag", value: "noindex")
        return Self.page(
            pages.custom(
                status: .unauthorized, title: "Sign-in required",
                message: "This site asks for a username and password."), extra: extra)
    }

    /// 429 with `Retry-After` while the client and host are refused.
    func tooManyAttempts(_ wait: Duration) -> ResponsePlan {
        signIns["limited"]?.increment()
        var extra = HTTPHeaders()
        extra.add(name: "Retry-After", value: RetryAfter.header(for: wait))
        extra.add(name: "X-Robots-Tag", value: "noindex")
        return Self.page(
            pages.custom(
                status: .tooManyRequests, title: "Too many attempts",
                message: "Too many wrong passwords came from your address. Wait a minute, then try again."),
            extra: extra)
    }

    /// 303 to `location` (a same-host path) with a cookie.
    func seeOther(_ location: String, setCookie: String) -> ResponsePlan {
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: location)
        headers.add(name: "Set-Cookie", value: setCookie)
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "Cache-Control", value: CacheControl.noStore)
        headers.add(name: "X-Robots-Tag", value: "noindex")
        return .immediate(status: .seeOther, headers: headers, body: nil)
    }

    private static func page(_ rendered: SlipwayPages.Rendered, extra: HTTPHeaders) -> ResponsePlan {
        var headers = HTTPHeaders()
        SlipwayResponseHeaders.addPageHeaders(to: &headers, bodyLength: rendered.body.readableBytes)
        for (name, value) in rendered.headers { headers.add(name: name, value: value) }
        headers.add(contentsOf: extra)
        return .immediate(status: rendered.status, headers: headers, body: rendered.body)
    }

    /// Every answer for a protected host: `Cache-Control: private` in place
    /// of whatever the file or `_headers` said, so no shared cache ever
    /// stores it — `private, no-cache` for the site's own answers (the
    /// browser asks again, and the session is checked, before reusing one),
    /// `private, no-store` where the answer said `no-store`.
    static func makePrivate(_ headers: HTTPHeaders) -> HTTPHeaders {
        var headers = headers
        let noStore = headers[canonicalForm: "cache-control"].contains { $0.lowercased() == "no-store" }
        headers.replaceOrAdd(name: "Cache-Control", value: noStore ? "private, no-store" : "private, no-cache")
        return headers
    }
}

/// `Authorization: Basic <base64(user:password)>` (RFC 7617).
struct BasicCredentials: Sendable {
    var username: String
    var password: String
    /// The field's value as sent: what verified credentials are remembered by.
    var header: String

    init?(_ field: String?) {
        guard let field, field.utf8.count <= 4096 else { return nil }
        let parts = field.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let data = Data(base64Encoded: parts[1].trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        username = String(text[..<colon])
        password = String(text[text.index(after: colon)...])
        header = field
    }
}

/// Basic credentials verified lately, by site, password version and the
/// SHA-256 of the `Authorization` value: steady traffic is not hashed
/// again on every request. Bounded; the oldest go first.
struct VerifiedCredentials: Sendable {
    struct Key: Sendable, Hashable {
        var siteID: SiteID
        var version: Int
        var headerDigest: String
    }

    let capacity: Int
    private var entries: [Key: Date] = [:]
    private var order: [Key] = []

    init(capacity: Int) {
        self.capacity = capacity
    }

    func contains(_ key: Key, now: Date) -> Bool {
        guard let at = entries[key] else { return false }
        return now.timeIntervalSince(at) < EdgeProtection.verifiedCredentialsTTL
    }

    mutating func insert(_ key: Key, now: Date) {
        if entries[key] == nil {
            if order.count >= capacity {
                let drop = order.count / 2
                for old in order.prefix(drop) { entries[old] = nil }
                order.removeFirst(drop)
            }
            order.append(key)
        }
        entries[key] = now
    }
}
