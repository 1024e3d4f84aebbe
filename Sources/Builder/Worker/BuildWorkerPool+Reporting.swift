import Logging
import Metrics
import Model
import Storage

/// What an attempt leaves behind besides the catalog: its log stored in the
/// object store, the objects of a build that will never be served removed,
/// and its report counted, logged and handed to the observer.
extension BuildWorkerPool {
    /// Stores the log file as `logs/<siteId>/<buildId>.log`.
    func persist(_ log: BuildLog, of build: Build) async {
        let uploader = Uploader(
            store: store, attempts: configuration.uploadAttempts, backoff: configuration.uploadBackoff)
        let path = log.path
        do {
            try await uploader.put(build.logKey, options: PutOptions(contentType: "text/plain; charset=utf-8")) {
                .file(atPath: path)
            }
        } catch {
            logger.warning("could not store the log of build \(build.id): \(error)")
        }
    }

    /// Objects of a build that will never be served (failed, canceled, or
    /// to be published again by a retry).
    func removePartialObjects(of build: Build) async {
        do {
            try await store.delete([build.manifestKey])
            try await store.deletePrefix(build.artifactPrefix)
        } catch {
            logger.warning("could not remove the objects of build \(build.id): \(error)")
        }
    }

    /// Counts the attempt's outcome and time, logs it and tells the observer.
    func record(_ report: BuildReport) {
        Counter(label: "slipway_builds_total", dimensions: [("outcome", report.outcome.rawValue)]).increment()
        if let timings = report.timings {
            Timer(label: "slipway_build_duration_seconds").recordNanoseconds(Self.nanoseconds(timings.total))
        }
        switch report.outcome {
        case .succeeded:
            logger.info("build \(report.buildID) succeeded in \(DurationText.format(report.duration))")
        case .failed, .retrying:
            logger.notice("build \(report.buildID) \(report.outcome.rawValue): \(report.error?.description ?? "")")
        default:
            logger.info("build \(report.buildID) \(report.outcome.rawValue)")
        }
        observer?(report)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
