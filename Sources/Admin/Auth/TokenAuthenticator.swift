import Foundation
import Logging
import Model
import Storage

/// Finds the token an `Authorization` header carries: the bootstrap admin
/// token (compared in constant time), or an API token looked up in the
/// catalog by the SHA-256 of its secret on every request, so a revocation or
/// an expiry counts at once on every admin node. The token's last use is
/// written at most once per ``lastUseInterval``.
///
/// Nothing here logs a token or puts one in a message.
struct TokenAuthenticator: Sendable {
    let bootstrap: BearerToken
    let catalog: any Catalog
    let clock: @Sendable () -> Date
    let lastUseInterval: Duration
    let logger: Logger

    /// Why a request was not authenticated.
    struct Refusal: Error {
        let message: String
        /// Whether the request carried a credential (a refusal that counts
        /// as a failed attempt) rather than none at all.
        var presented = true
        /// The stored token it named, when it was revoked or expired.
        var token: APIToken?
    }

    func authenticate(authorization values: [String]) async throws -> Principal {
        guard let header = values.first else {
            throw Refusal(
                message:
                    "this endpoint needs a token; send 'Authorization: Bearer <token>' (the admin token is in <data-dir>/admin-token or SLIPWAY_ADMIN_TOKEN; `slipway tokens create` makes others)",
                presented: false)
        }
        guard values.count == 1 else { throw Refusal(message: "send exactly one Authorization header") }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Refusal(message: "the Authorization header must read 'Bearer <token>'")
        }
        if bootstrap.accepts(authorization: header) {
            return Principal(APIToken.bootstrap)
        }
        let presented = parts[1].trimmingCharacters(in: .whitespaces)
        let unknown = Refusal(
            message:
                "the token is not valid; use the admin token (<data-dir>/admin-token or SLIPWAY_ADMIN_TOKEN) or an API token from `slipway tokens create`"
        )
        guard APITokenSecret.isWellFormed(presented) else { throw unknown }
        guard let token = try await catalog.apiToken(secretDigest: APITokenSecret.digest(of: presented)) else {
            throw unknown
        }
        let now = clock()
        if let revokedAt = token.revokedAt {
            throw Refusal(
                message:
                    "the token '\(token.name)' was revoked at \(APIJSON.timestamp(revokedAt)); ask an admin for a new one",
                token: token)
        }
        if let expiresAt = token.expiresAt, now >= expiresAt {
            throw Refusal(
                message:
                    "the token '\(token.name)' expired at \(APIJSON.timestamp(expiresAt)); ask an admin for a new one",
                token: token)
        }
        await noteUse(of: token, now: now)
        return Principal(token)
    }

    /// Writes the token's last use when the stored one is older than the
    /// interval; the catalog's conditional write keeps concurrent requests,
    /// on this node or others, to one write per interval.
    private func noteUse(of token: APIToken, now: Date) async {
        if let last = token.lastUsedAt, now.timeIntervalSince(last) < Double(lastUseInterval.components.seconds) {
            return
        }
        do {
            _ = try await catalog.recordAPITokenUse(id: token.id, minimumInterval: lastUseInterval)
        } catch {
            logger.warning(
                "the token's last use could not be recorded", metadata: ["token": "\(token.id)", "error": "\(error)"])
        }
    }
}
