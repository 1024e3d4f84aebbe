import Foundation
public import Model

/// What the pool knows of the build attempt a container (or a workspace)
/// was made for, when the runner asks while reaping.
public enum AttemptLookup: Sendable, Hashable {
    /// This process runs the attempt now.
    case runningHere
    /// The build as the catalog has it now.
    case build(Build)
    /// The catalog has no such build (deleted, or another catalog's).
    case notFound
    /// The catalog could not be asked: keep everything.
    case unknown
}

/// The labels that mark a container as a Slipway build container, and what
/// they say: which build and attempt it runs, which installation started it
/// (a hash of the data directory) and its absolute deadline.
///
/// The deadline (`slipway.deadline`, epoch seconds) is the container's
/// creation time plus the build's timeout plus
/// ``BuilderConfiguration/containerDeadlineMargin``; the container's own
/// driver (``StepDriver``) stops it from inside at the same point after its
/// start, so a container outlives its deadline by little even when no
/// builder is alive, and any builder on the engine removes it after.
struct BuildContainerLabels: Sendable, Hashable {
    static let managed = "slipway.managed"
    static let build = "slipway.build"
    static let attempt = "slipway.attempt"
    static let site = "slipway.site"
    static let installation = "slipway.installation"
    static let deadline = "slipway.deadline"

    var buildID: String
    var attempt: Int
    var siteID: String
    var installation: String
    /// Epoch seconds after which the container may be removed by anyone;
    /// nil on containers of a Slipway without deadlines.
    var deadline: Int64?

    init(buildID: String, attempt: Int, siteID: String, installation: String, deadline: Int64?) {
        self.buildID = buildID
        self.attempt = attempt
        self.siteID = siteID
        self.installation = installation
        self.deadline = deadline
    }

    /// Reads a container's labels; nil unless it is a Slipway build container
    /// (`slipway.managed=true` with a build and an attempt).
    init?(_ labels: [String: String]) {
        guard labels[Self.managed] == "true", let buildID = labels[Self.build], !buildID.isEmpty,
            let attempt = labels[Self.attempt].flatMap(Int.init)
        else { return nil }
        self.buildID = buildID
        self.attempt = attempt
        self.siteID = labels[Self.site] ?? ""
        self.installation = labels[Self.installation] ?? ""
        self.deadline = labels[Self.deadline].flatMap(Int64.init)
    }

    /// The labels to put on the container.
    var labels: [String: String] {
        var labels = [
            Self.managed: "true", Self.build: buildID, Self.attempt: String(attempt), Self.site: siteID,
            Self.installation: installation,
        ]
        if let deadline { labels[Self.deadline] = String(deadline) }
        return labels
    }

    /// Whole seconds a container may run, from its start: the build's
    /// timeout plus the margin, rounded up.
    static func lifetimeSeconds(timeout: Duration, margin: Duration) -> Int64 {
        let total = timeout + margin
        let (seconds, attoseconds) = total.components
        return max(1, seconds + (attoseconds > 0 ? 1 : 0))
    }

    /// The absolute deadline of a container created at `created`.
    static func deadline(created: Date, timeout: Duration, margin: Duration) -> Int64 {
        Int64(created.timeIntervalSince1970.rounded(.up)) + lifetimeSeconds(timeout: timeout, margin: margin)
    }
}

/// Whether a build container on the engine is removed, decided from its
/// labels, what the pool knows of its attempt and the time alone. Every
/// builder on the engine decides, for every Slipway container whichever
/// installation started it.
enum ContainerReaper {
    enum Decision: Sendable, Hashable {
        case keep
        /// Remove it; why, for the log.
        case remove(String)
    }

    /// - Parameters:
    ///   - labels: the container's labels.
    ///   - ownInstallation: this builder's `slipway.installation`.
    ///   - attempt: what the pool knows of the container's attempt.
    ///   - now: the current time.
    ///   - leaseGrace: how long past its expiry a lease still counts: its
    ///     holder gives up after renewals failed for a whole lease, and
    ///     lease times come from the catalog's clock, not this machine's.
    static func decide(
        _ labels: BuildContainerLabels, ownInstallation: String, attempt: AttemptLookup, now: Date,
        leaseGrace: Duration
    ) -> Decision {
        if let deadline = labels.deadline, now.timeIntervalSince1970 >= Double(deadline) {
            return .remove("its deadline passed at \(Self.text(Date(timeIntervalSince1970: Double(deadline))))")
        }
        switch attempt {
        case .runningHere, .unknown:
            return .keep
        case .notFound:
            // A build id is unique across catalogs: another installation's
            // container whose build this catalog lacks may belong to another
            // catalog, and waits for its deadline.
            return labels.installation == ownInstallation ? .remove("its build is not in the catalog") : .keep
        case .build(let build):
            if build.status != .building { return .remove("its build is \(build.status.rawValue)") }
            if build.attempt != labels.attempt { return .remove("its build is on attempt \(build.attempt)") }
            if let expiry = build.leaseExpiresAt,
                now.timeIntervalSince(expiry) > Double(leaseGrace.components.seconds)
            {
                return .remove("its build's lease expired at \(Self.text(expiry))")
            }
            return .keep
        }
    }

    private static func text(_ date: Date) -> String { date.formatted(.iso8601) }
}
