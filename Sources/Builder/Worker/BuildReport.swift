public import Model

/// How one attempt at a build ended, for observers, metrics and tests.
public struct BuildReport: Sendable {
    public enum Outcome: String, Sendable, Hashable {
        /// Published and activated (or kept as a preview when a newer build is live).
        case succeeded
        /// Failed for good.
        case failed
        /// Failed with a transient error; queued again after a backoff.
        case retrying
        /// Canceled; nothing was activated.
        case canceled
        /// Given back to the queue because this pool is shutting down.
        case released
        /// The lease was lost (the catalog took the build back); the worker stopped.
        case leaseLost
    }

    public var buildID: BuildID
    public var siteID: SiteID
    public var attempt: Int
    public var outcome: Outcome
    /// Why it did not succeed.
    public var error: BuildError?
    /// Set for ``Outcome/succeeded``.
    public var timings: BuildTimings?
    /// From the claim to the end of the attempt (log stored, workspace removed).
    public var duration: Duration
}
