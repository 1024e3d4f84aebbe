import Logging
import Model
import Storage

/// Deletes what builds outside a site's keep-last-N window left in the
/// object store (their manifest, the files of builds stored before content
/// addressing, their log), then their catalog rows. Their contents are the
/// collector's (``BlobCollector``): it deletes those no kept build refers to.
///
/// The window is the `keep` newest successful builds. Successful builds
/// older than it, and failed or canceled builds older than its oldest
/// build, lose their files, manifest and log. The active build is never
/// touched (a rollback may make an old build active; the catalog keeps it
/// out of the deletable list), nor is a build a worker still holds. Newer
/// failed builds keep their logs for diagnosis. Failures are logged and
/// retried at the next build: retention never fails a build.
struct Retention: Sendable {
    var catalog: any Catalog
    var store: any ObjectStore
    var keep: Int
    var logger: Logger

    func apply(siteID: SiteID, log: BuildLog?) async {
        let deletable: [Build]
        let windowStart: Int?
        do {
            deletable = try await catalog.deletableBuilds(siteID: siteID, keepSuccesses: keep)
            // The oldest build number inside the window: the keep-th newest success.
            let recent = try await catalog.builds(siteID: siteID, limit: min(200, max(keep * 4, 20))).builds
            let successes = recent.filter { $0.status == .success }
            windowStart = successes.count >= keep ? successes[keep - 1].number : nil
        } catch {
            logger.warning("retention for site \(siteID) skipped: \(error)")
            return
        }
        var removed = 0
        for build in deletable {
            let outsideWindow =
                build.status == .success || (windowStart.map { build.number < $0 } ?? false)
            guard outsideWindow else { continue }
            do {
                // The manifest first: without it the build is no longer servable
                // (not even as a preview) while its files go.
                try await store.delete([build.manifestKey])
                try await store.deletePrefix(build.artifactPrefix)
                try await store.delete([build.logKey])
                _ = try await catalog.deleteBuild(id: build.id)
                removed += 1
            } catch {
                logger.warning("retention could not delete build \(build.id) of site \(siteID): \(error)")
            }
        }
        if removed > 0 {
            log?.system(
                "retention: deleted \(removed) old build\(removed == 1 ? "" : "s") (keeping the last \(keep) successful)"
            )
        }
    }
}
