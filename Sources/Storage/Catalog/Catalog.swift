public import Foundation
public import Model

/// The time source of a catalog. Tests inject a clock they move by hand, so
/// lease expiry and backoff are tested without sleeping.
public typealias CatalogClock = @Sendable () -> Date

/// Sites, builds, the durable build queue, the notification outbox and the
/// webhook deliveries already acted on.
///
/// Implementations (SQLite embedded, PostgreSQL for scale-out) keep the same
/// contract, checked by one shared test suite:
///
/// - Every method runs in one transaction: it happens entirely or not at all.
///   Refusals throw ``CatalogError`` with a code and a message that says what
///   to fix; database failures throw ``CatalogError/Code/unavailable``.
/// - Events (``CatalogEvent``) are published to the catalog's ``EventBus``
///   after the transaction commits, in commit order.
/// - Times come from the catalog's ``CatalogClock`` and are kept to the
///   millisecond.
public protocol Catalog: Sendable {
    /// The queue limits and timings this catalog applies.
    var queueSettings: QueueSettings { get }

    // MARK: Sites

    /// Creates a site. Without a slug, one is derived from the repository
    /// name and made unique (`my-site`, `my-site-2`, …); a slug that is given
    /// must be valid and free.
    /// - Throws: `slug_invalid`, `slug_taken`, `invalid_input`.
    func createSite(_ draft: SiteDraft) async throws -> Site

    /// - Throws: `site_not_found`.
    func site(id: SiteID) async throws -> Site

    /// - Throws: `site_not_found`.
    func site(slug: String) async throws -> Site

    /// Every site, ordered by slug.
    func sites() async throws -> [Site]

    /// Reads the site's settings, lets `edit` change them, validates the
    /// result and stores it, all in one transaction (no lost updates).
    /// - Throws: `site_not_found`, `slug_invalid`, `slug_taken`, `invalid_input`.
    func updateSite(id: SiteID, _ edit: @escaping @Sendable (inout SiteSettings) -> Void) async throws -> Site

    /// Deletes the site and every one of its builds. Returns them so the
    /// caller can remove their objects. A worker still running one of them
    /// learns it at its next lease renewal (`build_not_found`).
    /// - Throws: `site_not_found`.
    func deleteSite(id: SiteID) async throws -> SiteDeletion

    /// The secret GitHub signs the site's push webhooks with; nil only if it
    /// was never set. Throws `siteNotFound`.
    func webhookSecret(siteID: SiteID) async throws -> String?

    /// Replaces the site's webhook secret with a new random one and returns
    /// it; the old one stops working at once. Throws `siteNotFound`.
    func rotateWebhookSecret(siteID: SiteID) async throws -> String

    /// The access token git uses to clone the site's private repository;
    /// nil when none is kept. Throws `siteNotFound`.
    func repoToken(siteID: SiteID) async throws -> String?

    /// Keeps `token` (sealed) as the site's repository access token, or
    /// forgets it when nil or empty; the site's `hasRepoToken` follows.
    /// - Throws: `site_not_found`, `invalid_input` for a token that is not one.
    func setRepoToken(siteID: SiteID, _ token: String?) async throws -> Site

    /// Seals every secret stored in clear (written before sealing existed)
    /// and seals again every secret sealed under a key that is no longer the
    /// keyring's first, so an old key can be dropped. Returns the rows
    /// rewritten. Catalogs call it when they open.
    /// - Throws: `unavailable` when a sealed value does not open with any key.
    func resealSecrets() async throws -> Int

    /// What verifying a visitor's password for the site needs: the hash of
    /// its password and the password version it belongs to; nil when the
    /// site is not protected. Sites themselves never carry the hash (they
    /// are logged, published and returned by the API): only the edge asks
    /// for it, when it must verify a password. Throws `siteNotFound`.
    func protectionSecret(siteID: SiteID) async throws -> ProtectionSecret?

    // MARK: Builds

    /// Queues a build of the site with the next number.
    /// - Throws: `site_not_found`, `queue_full`, `invalid_input`.
    func createBuild(siteID: SiteID, _ request: BuildRequest) async throws -> Build

    /// - Throws: `build_not_found`.
    func build(id: BuildID) async throws -> Build

    /// The site's builds, newest first, at most `limit` (1…200) of them with
    /// a number below `before` when given.
    /// - Throws: `site_not_found`, `invalid_input`.
    func builds(siteID: SiteID, limit: Int, before: Int?) async throws -> BuildPage

    /// Cancels a queued build at once. A building build becomes `canceled`
    /// too; its worker learns it at its next renewal and the site stays busy
    /// (no other build of it starts) until that worker acknowledges or its
    /// lease expires.
    /// - Throws: `build_not_found`, `illegal_transition` for a finished build.
    func cancelBuild(id: BuildID) async throws -> Build

    /// Deletes a finished build's row (its objects are the caller's to remove).
    /// - Throws: `build_not_found`, `build_in_use` for the active build, an
    ///   unfinished build or a canceled build whose worker has not let go.
    func deleteBuild(id: BuildID) async throws -> Build

    /// The site's builds that may be deleted, oldest first: finished, not the
    /// active build, not held by a worker, and not among the `keepSuccesses`
    /// newest successful builds.
    /// - Throws: `site_not_found`, `invalid_input` for a negative count.
    func deletableBuilds(siteID: SiteID, keepSuccesses: Int) async throws -> [Build]

    // MARK: Queue

    /// Claims the next build to run, atomically: the highest priority, then
    /// the oldest, among queued builds whose backoff has passed and whose site
    /// has no build running. The build becomes `building`, leased to
    /// `workerID` until now + `leaseDuration`. Nil when nothing is runnable.
    func claimNextBuild(workerID: String, leaseDuration: Duration) async throws -> Build?

    /// How long until the soonest queued build still inside its retry
    /// backoff (`notBefore` in the future, by the catalog's clock) may be
    /// claimed; nil when no queued build waits for its backoff. Idle workers
    /// sleep until then rather than until their next poll: nothing else
    /// announces that a backoff ended.
    func nextQueuedBuildDelay() async throws -> Duration?

    /// Extends the worker's lease to now + `leaseDuration`. A worker calls it
    /// well within its lease; a lease stays the worker's until the sweep takes
    /// it, even past its expiry.
    /// - Throws: `build_canceled` (stop; this acknowledges the cancel),
    ///   `lease_lost` (stop; someone else may run it), `build_not_found`.
    func renewLease(buildID: BuildID, workerID: String, leaseDuration: Duration) async throws -> Build

    /// Gives a claimed build back to the queue without counting an attempt
    /// (the worker is shutting down). On a canceled build it only lets go.
    /// - Throws: `lease_lost`, `build_not_found`, `illegal_transition`.
    func releaseBuild(buildID: BuildID, workerID: String) async throws -> Build

    /// Records the commit the worker checked out.
    /// - Throws: like ``renewLease(buildID:workerID:leaseDuration:)``, and `invalid_input`.
    func recordCommit(buildID: BuildID, workerID: String, sha: String, message: String?) async throws -> Build

    /// Ends the worker's attempt: `success` (final), or a failure that is
    /// final or, when retryable with attempts left, queues the build again
    /// with `attempt + 1` after ``QueueSettings/backoff(afterAttempt:)``.
    ///
    /// With `activate`, a success is also activated as by
    /// ``activate(siteID:buildID:allowOlder:)`` with `allowOlder` false, in
    /// the same transaction: a worker that stops at any point leaves either
    /// the build running (its lease lapses and it is retried) or the build
    /// successful and live, never a newer success that is not served. The
    /// `buildChanged` event comes before the `activated` one.
    /// - Returns: the build as it ended, and what the activation did (nil
    ///   unless `activate` and the build succeeded).
    /// - Throws: like ``renewLease(buildID:workerID:leaseDuration:)``, and
    ///   `illegal_transition` for a build that already ended.
    func finishBuild(buildID: BuildID, workerID: String, result: BuildResult, activate: Bool) async throws
        -> (build: Build, activation: ActivationOutcome?)

    /// Takes back every lease that expired: such a build is queued again with
    /// `attempt + 1` after the backoff delay, or fails once it used
    /// ``QueueSettings/maxAttempts``, with the reason recorded in `error`.
    /// Canceled builds whose worker vanished stop holding their site.
    func sweepExpiredLeases() async throws -> SweepReport

    // MARK: Activation

    /// Makes a successful build of the site its active build, in one
    /// transaction. A build older (lower number) than the active one is only
    /// activated with `allowOlder` (a rollback); otherwise the call is a
    /// no-op that says so, so a build finishing late never replaces a newer one.
    /// - Throws: `site_not_found`, `build_not_found`, `not_activatable` for
    ///   another site's build or a build that did not succeed.
    func activate(siteID: SiteID, buildID: BuildID, allowOlder: Bool) async throws -> ActivationOutcome

    // MARK: Notifications

    /// Claims the due notification that has waited longest, atomically:
    /// pending, its next attempt time passed, and not leased — or leased by
    /// a sender whose lease lapsed (it died; `lastError` says so). It is
    /// leased to `owner` until now + `leaseDuration` and its `attempts`
    /// grows by one. Nil when none is due.
    ///
    /// Every build that ends (success, failure, cancel, the sweep giving
    /// up) while its site has a notify URL gets one notification, written
    /// in the transaction that ends it; a success waits for its activation,
    /// at most ``NotificationDelivery/activationWait``.
    /// - Throws: `invalid_input` for an empty owner or a lease under 1 ms.
    func claimNotification(owner: String, leaseDuration: Duration) async throws -> ClaimedNotification?

    /// Records how `owner`'s attempt ended and ends its lease: delivered,
    /// due again after a delay, or given up.
    /// - Throws: `lease_lost` when `owner` holds no lease on it (another
    ///   sender claimed it after the lease lapsed, or it already finished),
    ///   `notification_not_found` when it is gone with its deployment,
    ///   `invalid_input` for a negative delay.
    func completeNotification(id: String, owner: String, result: NotificationAttemptResult) async throws
        -> NotificationDelivery

    /// The build's notifications (at most one per event), oldest first.
    func notifications(buildID: BuildID) async throws -> [NotificationDelivery]

    /// When the earliest pending notification falls due (possibly in the
    /// past); nil when none is pending.
    func nextNotificationDue() async throws -> Date?

    /// Deletes delivered notifications that finished before
    /// `deliveredBefore` and given-up ones that finished before
    /// `gaveUpBefore`; pending ones are never deleted. Returns how many went.
    func pruneNotifications(deliveredBefore: Date, gaveUpBefore: Date) async throws -> Int

    // MARK: Webhook deliveries

    /// Records that the site's webhook delivery `id` (GitHub's
    /// `X-GitHub-Delivery`) is being acted on, atomically: true when it is
    /// new — never recorded, or recorded `window` or longer ago — and false
    /// when it is a replay. Of several calls with one id and site, at once
    /// and on any number of handles, exactly one returns true. Entries of
    /// every site recorded `window` or longer ago are deleted by the call.
    /// Deleting a site forgets its deliveries.
    /// - Throws: `site_not_found`; `invalid_input` for an id that is empty,
    ///   over ``WebhookDeliveries/maxIDLength`` bytes or not visible ASCII,
    ///   or a window under 1 ms or over ``WebhookDeliveries/maxWindow``.
    func recordWebhookDelivery(id: String, siteID: SiteID, window: Duration) async throws -> Bool

    /// Forgets a recorded delivery, so its id counts as new again: for a
    /// delivery whose work failed after it was recorded (GitHub redelivers a
    /// delivery with the same id). Forgetting an id that is not recorded
    /// does nothing.
    /// - Throws: `invalid_input` for an id ``recordWebhookDelivery(id:siteID:window:)`` refuses.
    func forgetWebhookDelivery(id: String, siteID: SiteID) async throws

    // MARK: API tokens

    /// Stores a new token (its digest, never its secret); `createdAt` is now.
    /// - Throws: `invalid_input` for a malformed id, name or digest.
    func createAPIToken(_ draft: APITokenDraft) async throws -> APIToken

    /// Every stored token, revoked and expired ones included, newest first.
    func apiTokens() async throws -> [APIToken]

    /// The token with this id; nil when there is none.
    func apiToken(id: String) async throws -> APIToken?

    /// The token whose secret has this digest (``APITokenSecret/digest(of:)``),
    /// revoked or expired ones included (the caller refuses those); nil when
    /// none has. One indexed lookup: every request is authenticated by it, so
    /// a revocation on any handle counts on every other at once.
    func apiToken(secretDigest: String) async throws -> APIToken?

    /// Revokes the token now; a token already revoked keeps its first
    /// revocation time. Nil when there is no such token.
    func revokeAPIToken(id: String) async throws -> APIToken?

    /// Records that the token was used now, unless its last recorded use is
    /// less than `minimumInterval` ago: true when this call wrote it. Of
    /// several calls at once, on any number of handles, at most one per
    /// interval writes. Nothing happens for an unknown id.
    func recordAPITokenUse(id: String, minimumInterval: Duration) async throws -> Bool

    // MARK: Audit log

    /// Appends entries to the audit log, in order, each with the next id and
    /// the time now (one transaction).
    func recordAuditEvents(_ drafts: [AuditEventDraft]) async throws

    /// Entries newest first (highest id first), filtered and paged by `query`.
    /// - Throws: `invalid_input` for a page size outside 1…``AuditLog/maxPageSize``.
    func auditEvents(_ query: AuditQuery) async throws -> AuditPage

    /// Deletes the entries recorded before `cutoff`; returns how many went.
    func pruneAuditEvents(before cutoff: Date) async throws -> Int

    // MARK: Custom domains

    /// Adds `drafts` (one domain, or an apex/`www` pair) to the site in one
    /// transaction: all or none. Each starts `pending`, its first check due now.
    /// - Throws: `site_not_found`; `domain_taken` (409) when a host name
    ///   belongs to any deployment already; `domain_limit` (422) when the
    ///   site would have more than `limit` domains; `invalid_input`.
    func addDomains(siteID: SiteID, _ drafts: [CustomDomainDraft], limit: Int) async throws -> [CustomDomain]

    /// The site's domains, by host name.
    func domains(siteID: SiteID) async throws -> [CustomDomain]

    /// The domain with this host name, on any site; nil when there is none.
    func domain(hostname: String) async throws -> CustomDomain?

    /// Every domain of every site (what proxies route by), by host name.
    func allDomains() async throws -> [CustomDomain]

    /// Removes the domain and the other half of its pair; returns what went.
    /// - Throws: `domain_not_found` when the site has no such domain.
    func removeDomain(siteID: SiteID, hostname: String) async throws -> [CustomDomain]

    /// Changes a domain's state in one transaction: `change` gets the stored
    /// value and edits it; what it leaves is written back and announced.
    /// Host name, site, token and creation time never change.
    /// - Throws: `domain_not_found`; whatever `change` throws (nothing is written).
    @discardableResult
    func updateDomain(
        hostname: String, _ change: @escaping @Sendable (inout CustomDomain) throws -> Void
    ) async throws -> CustomDomain

    /// Domains whose next check is due at `now` or before, soonest first.
    func domainsDue(at now: Date, limit: Int) async throws -> [CustomDomain]

    // MARK: Fleet leases

    /// Takes (or renews) the lease `name` for `owner` until now + `duration`:
    /// true when `owner` holds it afterwards, false when another owner's
    /// lease has not expired. Of several callers at once, on any number of
    /// nodes, at most one holds it.
    func acquireLease(_ name: String, owner: String, duration: Duration) async throws -> Bool

    /// Gives the lease up if `owner` holds it.
    func releaseLease(_ name: String, owner: String) async throws

    /// The lease's holder while it has not expired; nil otherwise.
    func lease(_ name: String) async throws -> FleetLease?

    // MARK: Content blobs

    /// Which of `digests` the site does not have: never stored for it, or
    /// being collected. The ones it has are marked used now, which keeps
    /// them from collection for the grace period (time enough to write the
    /// manifest that refers to them). Only the site's own blobs count: one
    /// site never learns what another stores.
    /// - Throws: `invalid_input` for a malformed digest or more than 5,000.
    func missingBlobs(siteID: SiteID, digests: [String]) async throws -> Set<String>

    /// Announces blobs about to be stored: each is recorded (or marked used
    /// now, when known), so the collector leaves it alone for the grace
    /// period. Call it before writing the bytes.
    /// - Returns: the digests the collector is deleting right now: wait and
    ///   call again for those (their bytes must be written after this
    ///   succeeds for them).
    func reserveBlobs(_ blobs: [StoredBlob]) async throws -> [String]

    /// Records that the site has these blobs, stored and verified (after
    /// ``reserveBlobs(_:)`` and the write), and marks them used now.
    /// - Throws: `site_not_found`; `blob_collecting` when one was never
    ///   reserved or is being collected (reserve and store it again).
    func recordBlobs(siteID: SiteID, digests: [String]) async throws

    /// The site's blobs not used since `cutoff`, at most `limit`: what the
    /// collector checks against the site's kept manifests.
    func siteBlobs(siteID: SiteID, unusedSince cutoff: Date, limit: Int) async throws -> [String]

    /// Forgets that the site has `digests`, each only while still unused
    /// since `cutoff` (a use in between keeps it). Returns how many went.
    func forgetSiteBlobs(siteID: SiteID, digests: [String], unusedSince cutoff: Date) async throws -> Int

    /// Marks up to `limit` blobs that no site has and that were not used
    /// since `cutoff` as being collected, and returns them with those
    /// already marked (a collector that died left them): the caller deletes
    /// their objects, then ``removeCollectedBlobs(_:)``.
    func claimUnreferencedBlobs(unusedSince cutoff: Date, limit: Int) async throws -> [String]

    /// Removes the records of blobs being collected whose objects are gone
    /// (only those marked). Returns how many.
    func removeCollectedBlobs(_ digests: [String]) async throws -> Int

    /// How many blobs there are and their bytes.
    func blobStats() async throws -> BlobStats

    // MARK: Uploads

    /// Records a new upload of the site's files, open for `draft.lifetime`.
    /// Nothing it names is servable until it is finished.
    /// - Throws: `site_not_found`, `invalid_input`.
    func createUpload(_ draft: UploadDraft) async throws -> Upload

    /// The upload, `expired` once open past its `expiresAt`.
    /// - Throws: `upload_not_found`.
    func upload(id: String) async throws -> Upload

    /// The files the upload announced, as announced.
    /// - Throws: `upload_not_found`.
    func uploadFiles(id: String) async throws -> [UploadFile]

    /// Records blobs the upload sent (stored, verified and recorded for the
    /// site already) with the gzip variant made of each.
    /// - Throws: `upload_not_found`; `upload_closed` once finished or expired.
    func recordUploadedBlobs(uploadID: String, _ blobs: [UploadedBlob]) async throws

    /// What uploads of the site recorded for these digests: the gzip
    /// variant made of each, or nil when none was worth keeping. Digests no
    /// upload of the site sent are absent.
    func uploadVariants(siteID: SiteID, digests: [String]) async throws -> [String: StoredBlob?]

    /// Finishes an open upload, in one transaction, as the build `buildID`
    /// (with the next number of its site), and records the upload as
    /// finished. An output upload, whose manifest is stored under `buildID`,
    /// is recorded as a success of `fileCount` files and `bytes` bytes and —
    /// unless a preview — activated as by
    /// ``activate(siteID:buildID:allowOlder:)`` with `allowOlder` false, so of
    /// two uploads finished at once the later build stays live. A source
    /// upload is queued as a build (the counts are ignored) that builds the
    /// uploaded files. Finishing a finished upload again returns its build
    /// and does nothing.
    /// - Throws: `upload_not_found`; `upload_closed` when it expired;
    ///   `queue_full` for a source upload.
    func finishUpload(id: String, buildID: BuildID, fileCount: Int, bytes: Int64) async throws -> FinishedUpload

    /// The source upload a build builds, nil for any other build.
    func sourceUpload(buildID: BuildID) async throws -> Upload?

    /// The site's source uploads not yet pruned, oldest first: their files
    /// are kept from the collector while they are.
    func sourceUploads(siteID: SiteID) async throws -> [Upload]

    /// Removes the uploads whose expiry is before `cutoff`, finished or
    /// not, with what they recorded. Returns how many.
    func pruneUploads(before cutoff: Date) async throws -> Int

    // MARK: Operations

    /// Build counts by status, queue depth and the age of the oldest queued build.
    func stats() async throws -> CatalogStats

    /// Closes the database. Calls afterwards throw `closed`. Builds left
    /// `building` keep their lease; the sweep of a later run takes them back.
    func close() async throws
}

extension Catalog {
    /// Claims the next build with the default lease (``QueueSettings/leaseDuration``).
    public func claimNextBuild(workerID: String) async throws -> Build? {
        try await claimNextBuild(workerID: workerID, leaseDuration: queueSettings.leaseDuration)
    }

    /// Renews the lease for the default duration (``QueueSettings/leaseDuration``).
    public func renewLease(buildID: BuildID, workerID: String) async throws -> Build {
        try await renewLease(buildID: buildID, workerID: workerID, leaseDuration: queueSettings.leaseDuration)
    }

    /// Ends the worker's attempt without activating a success (see
    /// ``finishBuild(buildID:workerID:result:activate:)``).
    public func finishBuild(buildID: BuildID, workerID: String, result: BuildResult) async throws -> Build {
        try await finishBuild(buildID: buildID, workerID: workerID, result: result, activate: false).build
    }

    /// Records the delivery for ``WebhookDeliveries/defaultWindow`` (24 hours).
    public func recordWebhookDelivery(id: String, siteID: SiteID) async throws -> Bool {
        try await recordWebhookDelivery(id: id, siteID: siteID, window: WebhookDeliveries.defaultWindow)
    }

    /// The site's newest builds, at most `limit`.
    public func builds(siteID: SiteID, limit: Int = 20) async throws -> BuildPage {
        try await builds(siteID: siteID, limit: limit, before: nil)
    }
}

/// What ``Catalog/deleteSite(id:)`` removed.
public struct SiteDeletion: Sendable, Hashable {
    public let site: Site
    /// Every build the site had; their objects are now garbage.
    public let builds: [Build]

    public init(site: Site, builds: [Build]) {
        self.site = site
        self.builds = builds
    }
}

/// What ``Catalog/activate(siteID:buildID:allowOlder:)`` did.
public enum ActivationOutcome: Sendable, Hashable {
    /// The build is now active; `previous` was active before.
    case activated(previous: BuildID?)
    /// The build was already active; nothing changed.
    case alreadyActive
    /// A newer build (`active`) is active and `allowOlder` was false; nothing changed.
    case skippedOlder(active: BuildID)
}

/// What one ``Catalog/sweepExpiredLeases()`` took back.
public struct SweepReport: Sendable, Hashable {
    /// Builds queued again, with their new attempt number and backoff.
    public let requeued: [Build]
    /// Builds failed because they had used every attempt.
    public let failed: [Build]
    /// Canceled builds whose worker vanished, now released.
    public let releasedCanceled: [Build]
    /// First successful builds that a vanished worker never activated, now live.
    public let activated: [Build]

    public init(requeued: [Build], failed: [Build], releasedCanceled: [Build], activated: [Build] = []) {
        self.requeued = requeued
        self.failed = failed
        self.releasedCanceled = releasedCanceled
        self.activated = activated
    }

    /// Whether the sweep changed nothing.
    public var isEmpty: Bool { requeued.isEmpty && failed.isEmpty && releasedCanceled.isEmpty && activated.isEmpty }
}

/// Figures about the queue for the stats endpoint and metrics.
public struct CatalogStats: Sendable, Hashable {
    /// Builds per status; every status is present, zero included.
    public let countsByStatus: [BuildStatus: Int]
    /// Builds waiting in `queued` (including those in backoff).
    public let queueDepth: Int
    /// How long the oldest queued build has waited; nil when none is queued.
    public let oldestQueuedAge: Duration?
    /// Builds `building` now.
    public let running: Int

    public init(countsByStatus: [BuildStatus: Int], queueDepth: Int, oldestQueuedAge: Duration?, running: Int) {
        self.countsByStatus = countsByStatus
        self.queueDepth = queueDepth
        self.oldestQueuedAge = oldestQueuedAge
        self.running = running
    }
}
