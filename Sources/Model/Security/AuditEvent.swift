public import Foundation

/// One entry of the audit log: a change made through the admin API, or a
/// refused authentication attempt. It never holds a request body or a token.
public struct AuditEvent: Sendable, Hashable {
    /// Increases with every entry a catalog records; pages of the log are
    /// cut by it.
    public var id: Int64
    /// When it was recorded (for coalesced failed attempts: when the batch was).
    public var time: Date
    /// The token used (`bootstrap` for the bootstrap token); nil when none
    /// was recognised or the request carries its own signature (the GitHub webhook).
    public var tokenID: String?
    /// The token's name at the time, or who acted without one (`github-webhook`).
    public var tokenName: String?
    /// What was done: `deployment.create`, `build.trigger`, `token.revoke`, `auth.failed`, …
    public var action: String
    /// What it was done to: a slug, a build id or a token id.
    public var target: String?
    /// The HTTP status of the answer.
    public var outcome: Int
    /// The client's address: the peer's, or the one a trusted proxy named in `X-Forwarded-For`.
    public var clientAddress: String?
    /// How many attempts the entry stands for (failed attempts are coalesced); 1 otherwise.
    public var count: Int

    public init(
        id: Int64, time: Date, tokenID: String?, tokenName: String?, action: String, target: String?, outcome: Int,
        clientAddress: String?, count: Int = 1
    ) {
        self.id = id
        self.time = time
        self.tokenID = tokenID
        self.tokenName = tokenName
        self.action = action
        self.target = target
        self.outcome = outcome
        self.clientAddress = clientAddress
        self.count = count
    }
}
