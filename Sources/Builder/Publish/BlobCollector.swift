public import Foundation
public import Logging
import Metrics
import Model
import NIOCore
public import Storage
import Synchronization

/// Deletes the blobs no kept build needs, in two steps, each safe to stop
/// at any point (a process killed mid-way loses nothing, and the next pass
/// finishes what it started):
///
/// 1. **Per site**: the site's blobs not used for ``grace`` are compared
///    with the manifests of every build the site still has (whatever its
///    status); the ones no manifest refers to are forgotten for the site
///    (each only if still unused: a publish that used it meanwhile keeps
///    it), the referenced ones are marked used, so the next pass does not
///    read the manifests again for them. A site whose manifests cannot all
///    be read is skipped for this pass.
/// 2. **Fleet-wide**: blobs no site has any more and unused for ``grace``
///    are marked `collecting`, their objects deleted, then their rows. A
///    writer that wants such a blob waits for its row to go and writes the
///    bytes again (``SiteBlobWriter``).
///
/// One collector runs at a time in a fleet: ``BlobCollectorService`` holds
/// the fleet lease `blob-collection` while a pass runs.
public struct BlobCollector: Sendable {
    public var catalog: any Catalog
    public var store: any ObjectStore
    /// How long a blob stays after its last use (a publish that found it,
    /// an upload, a manifest that referred to it).
    public var grace: Duration
    public var logger: Logger
    /// Blobs looked at per site and per step of a pass.
    public var batch = 1000

    public init(catalog: any Catalog, store: any ObjectStore, grace: Duration, logger: Logger) {
        self.catalog = catalog
        self.store = store
        self.grace = grace
        self.logger = logger
    }

    /// What a pass did.
    public struct Report: Sendable, Hashable {
        /// Site-blob links forgotten (a site no longer needs the blob).
        public var forgotten = 0
        /// Blobs deleted from the store and the catalog.
        public var deleted = 0
        /// Sites skipped because a manifest could not be read.
        public var sitesSkipped = 0
        /// Uploads removed after their expiry (finished or not): what an
        /// unfinished one sent is then collected like any unused blob.
        public var uploadsRemoved = 0

        public init() {}
    }

    /// One pass at `now`. `renew` is called between steps (to keep a lease);
    /// when it returns false the pass stops where it is.
    public func collect(
        now: Date = Date(), renew: @Sendable () async -> Bool = { true }
    ) async throws -> Report {
        var report = Report()
        let cutoff = now.addingTimeInterval(-Double(grace.wholeMilliseconds) / 1000)
        report.uploadsRemoved = try await catalog.pruneUploads(before: now)
        for site in try await catalog.sites() {
            guard await renew() else { return report }
            try await collect(site: site.id, cutoff: cutoff, into: &report)
        }
        while true {
            guard await renew() else { return report }
            let claimed = try await catalog.claimUnreferencedBlobs(unusedSince: cutoff, limit: batch)
            if claimed.isEmpty { break }
            try await store.delete(claimed.map { ContentAddress.key(sha256: $0) })
            report.deleted += try await catalog.removeCollectedBlobs(claimed)
            if claimed.count < batch { break }
        }
        if report.forgotten > 0 || report.deleted > 0 || report.uploadsRemoved > 0 {
            logger.info(
                "blob collection: \(report.forgotten) site links forgotten, \(report.deleted) blobs deleted, \(report.uploadsRemoved) expired uploads removed",
                metadata: [
                    "forgotten": "\(report.forgotten)", "deleted": "\(report.deleted)",
                    "uploads": "\(report.uploadsRemoved)",
                ])
        }
        Counter(label: "slipway_blobs_deleted_total").increment(by: report.deleted)
        return report
    }

    private func collect(site: SiteID, cutoff: Date, into report: inout Report) async throws {
        var seen = Set<String>()
        var known: Set<String>?
        while true {
            let candidates = try await catalog.siteBlobs(siteID: site, unusedSince: cutoff, limit: batch)
                .filter { !seen.contains($0) }
            if candidates.isEmpty { return }
            seen.formUnion(candidates)
            if known == nil { known = try await referencedDigests(site: site) }
            guard let referenced = known else {
                report.sitesSkipped += 1
                return
            }
            let unneeded = candidates.filter { !referenced.contains($0) }
            let needed = candidates.filter { referenced.contains($0) }
            if !unneeded.isEmpty {
                report.forgotten += try await catalog.forgetSiteBlobs(
                    siteID: site, digests: unneeded, unusedSince: cutoff)
            }
            // Marked used: not looked at again for a grace period.
            if !needed.isEmpty { _ = try await catalog.missingBlobs(siteID: site, digests: needed) }
        }
    }

    /// Every digest the site's builds' manifests refer to, and the files
    /// of its source uploads (a queued build still needs them); nil when a
    /// manifest could not be read (never forget what might be needed).
    private func referencedDigests(site: SiteID) async throws -> Set<String>? {
        var digests = Set<String>()
        for upload in try await catalog.sourceUploads(siteID: site) {
            do {
                digests.formUnion(try await catalog.uploadFiles(id: upload.id).map(\.sha256))
            } catch let error as CatalogError where error.code == .uploadNotFound {
                continue // pruned meanwhile
            }
        }
        var before: Int?
        repeat {
            let page = try await catalog.builds(siteID: site, limit: 100, before: before)
            for build in page.builds {
                do {
                    let bytes = try await store.getBytes(build.manifestKey, limit: 256 << 20)
                    let manifest = try BuildManifest.decode(Data(bytes.readableBytesView))
                    digests.formUnion(manifest.blobDigests)
                } catch let error as ObjectStoreError where error.code == .notFound {
                    continue // never published, or deleted by retention
                } catch {
                    logger.warning(
                        "blob collection skipped site \(site): the manifest of build \(build.id) could not be read: \(error)"
                    )
                    return nil
                }
            }
            before = page.nextBefore
        } while before != nil
        return digests
    }
}

/// Runs ``BlobCollector`` passes every ``interval`` on the node that holds
/// the fleet lease `blob-collection` (builder nodes start it).
public final class BlobCollectorService: Sendable {
    public static let leaseName = "blob-collection"

    let collector: BlobCollector
    let interval: Duration
    let nodeID: String
    let leaseDuration: Duration
    private let task = Mutex<Task<Void, Never>?>(nil)

    public init(collector: BlobCollector, interval: Duration, nodeID: String, leaseDuration: Duration = .seconds(600)) {
        self.collector = collector
        self.interval = interval
        self.nodeID = nodeID
        self.leaseDuration = leaseDuration
    }

    /// Starts the loop (a wait of ``interval``, then a pass); returns at once.
    public func start() {
        let started = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await runOnce()
            }
        }
        task.withLock { $0 = started }
    }

    /// Stops the loop (a pass under way stops at its next step) and waits for it.
    public func shutdown() async {
        guard let running = task.withLock({ $0 }) else { return }
        running.cancel()
        await running.value
    }

    /// One pass if this node gets the lease; returns the report, or nil
    /// when another node holds the lease or the pass failed (logged).
    @discardableResult
    public func runOnce() async -> BlobCollector.Report? {
        let catalog = collector.catalog
        let name = Self.leaseName
        let nodeID = self.nodeID
        let leaseDuration = self.leaseDuration
        do {
            guard try await catalog.acquireLease(name, owner: nodeID, duration: leaseDuration) else { return nil }
            defer { Task { try? await catalog.releaseLease(name, owner: nodeID) } }
            // Renewed when a third of the lease has passed, not at every step.
            let renewed = Mutex(ContinuousClock.now)
            return try await collector.collect(now: Date()) {
                guard renewed.withLock({ ContinuousClock.now - $0 }) >= leaseDuration / 3 else { return true }
                renewed.withLock { $0 = ContinuousClock.now }
                return (try? await catalog.acquireLease(name, owner: nodeID, duration: leaseDuration)) ?? false
            }
        } catch {
            if !(error is CancellationError) { collector.logger.warning("blob collection failed: \(error)") }
            return nil
        }
    }
}
