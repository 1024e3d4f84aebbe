public import Foundation

/// Where a build is in its life.
///
/// ```
/// queued ──claim──▶ building ──▶ success | failed | canceled
///   │  ◀──release / retry / lease expiry──┘
///   └──cancel──▶ canceled
/// ```
/// `success`, `failed` and `canceled` are final.
public enum BuildStatus: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case queued
    case building
    case success
    case failed
    case canceled

    /// Whether the build has ended and will never change status again.
    public var isFinal: Bool {
        switch self {
        case .queued, .building: false
        case .success, .failed, .canceled: true
        }
    }

    /// Whether a build may go from this status straight to `next`.
    public func canChange(to next: BuildStatus) -> Bool {
        switch (self, next) {
        case (.queued, .building), (.queued, .canceled): true
        case (.building, .success), (.building, .failed), (.building, .canceled), (.building, .queued): true
        default: false
        }
    }

    public var description: String { rawValue }
}

/// One build of a site, as the catalog holds it.
///
/// Values are snapshots; the queue methods of ``Catalog`` move a build
/// through its ``BuildStatus`` and return the new snapshot.
public struct Build: Sendable, Hashable, Codable, Identifiable {
    public let id: BuildID
    public let siteID: SiteID
    /// 1, 2, 3, … per site, in creation order; never reused, even after deletions.
    public let number: Int
    public package(set) var status: BuildStatus
    /// Higher runs first; equal priorities run oldest first.
    public package(set) var priority: Int
    /// What asked for the build (`manual`, `push`, …), if the caller said.
    public package(set) var trigger: String?
    public package(set) var commitSHA: String?
    /// The commit's subject line.
    public package(set) var commitMessage: String?
    /// Why the build failed, or why its last attempt was retried.
    public package(set) var error: String?
    /// 1 for the first run; each retry (lease expiry, retryable failure) adds one.
    public package(set) var attempt: Int
    public let queuedAt: Date
    /// When the current or last attempt was claimed.
    public package(set) var startedAt: Date?
    public package(set) var finishedAt: Date?
    /// A queued build is not claimed before this time (retry backoff).
    public package(set) var notBefore: Date
    /// The worker holding the build, while it runs (and, after a cancel, until
    /// that worker acknowledges it or its lease expires).
    public package(set) var leaseOwner: String?
    public package(set) var leaseExpiresAt: Date?
    /// How many files the build published; set on success.
    public package(set) var fileCount: Int?
    /// How many bytes the build published; set on success.
    public package(set) var bytes: Int64?
    /// When another build replaced it as the site's active build (nil while
    /// it is active, and for builds never active): the proxy serves hashed
    /// assets of builds replaced a short while ago to pages still open.
    public package(set) var replacedAt: Date?

    public init(
        id: BuildID, siteID: SiteID, number: Int, status: BuildStatus, priority: Int, trigger: String?,
        commitSHA: String?, commitMessage: String?, error: String?, attempt: Int, queuedAt: Date, startedAt: Date?,
        finishedAt: Date?, notBefore: Date, leaseOwner: String?, leaseExpiresAt: Date?, fileCount: Int?, bytes: Int64?,
        replacedAt: Date? = nil
    ) {
        self.replacedAt = replacedAt
        self.id = id
        self.siteID = siteID
        self.number = number
        self.status = status
        self.priority = priority
        self.trigger = trigger
        self.commitSHA = commitSHA
        self.commitMessage = commitMessage
        self.error = error
        self.attempt = attempt
        self.queuedAt = queuedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.notBefore = notBefore
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.fileCount = fileCount
        self.bytes = bytes
    }

    /// The object-store prefix of the build's files: `sites/<siteId>/<buildId>/`.
    public var artifactPrefix: String { BuildManifest.filesPrefix(siteID: siteID.rawValue, buildID: id.rawValue) }
    /// The object key of the build's manifest: `manifests/<siteId>/<buildId>.json`.
    public var manifestKey: String { BuildManifest.key(siteID: siteID.rawValue, buildID: id.rawValue) }
    /// The object key of the build's persisted log: `logs/<siteId>/<buildId>.log`.
    public var logKey: String { "logs/\(siteID)/\(id).log" }
}

/// What to record when a build is asked for.
public struct BuildRequest: Sendable, Hashable {
    /// Higher runs first. Defaults to 0.
    public var priority: Int
    /// What asked for the build, at most ``BuildRequest/maxTriggerLength`` bytes.
    public var trigger: String?
    /// The commit, when the caller knows it (a push webhook); the builder
    /// records the one it checked out either way.
    public var commitSHA: String?
    public var commitMessage: String?

    public init(priority: Int = 0, trigger: String? = nil, commitSHA: String? = nil, commitMessage: String? = nil) {
        self.priority = priority
        self.trigger = trigger
        self.commitSHA = commitSHA
        self.commitMessage = commitMessage
    }

    /// Longest trigger text accepted, in bytes.
    public static let maxTriggerLength = 200
}

/// How a worker's attempt at a build ended.
public enum BuildResult: Sendable, Hashable {
    /// The build was published: `fileCount` files, `bytes` bytes in total.
    case success(fileCount: Int, bytes: Int64)
    /// The build failed with `message`. When `retryable` (the network, the
    /// object store or the container engine failed, not the build command)
    /// and attempts remain, the build is queued again after a backoff delay;
    /// otherwise it fails for good.
    case failure(message: String, retryable: Bool)
}

/// One page of a site's builds, newest first.
public struct BuildPage: Sendable, Hashable {
    public let builds: [Build]
    /// Pass as `before` to get the next (older) page; nil on the last page.
    public let nextBefore: Int?

    public init(builds: [Build], nextBefore: Int?) {
        self.builds = builds
        self.nextBefore = nextBefore
    }
}

/// Normalisation and checks of build fields that callers supply.
package enum BuildFields {
    /// Most characters kept of a commit subject or an error message.
    package static let maxCommitMessageLength = 1000
    package static let maxErrorLength = 4000
    package static let maxWorkerIDLength = 200

    /// A lower-cased hex object name of 4 to 64 digits.
    package static func commitSHA(_ value: String?) throws(CatalogError) -> String? {
        guard let value, !value.isEmpty else { return nil }
        let lowered = value.lowercased()
        guard (4...64).contains(lowered.utf8.count), lowered.utf8.allSatisfy({ isHexDigit($0) }) else {
            throw .invalidInput("commitSha '\(value.prefix(80))' is not a commit hash; give 4 to 64 hexadecimal digits")
        }
        return lowered
    }

    /// The first line of `value`, trimmed and bounded; nil when empty.
    package static func commitMessage(_ value: String?) -> String? {
        guard let value else { return nil }
        let firstLine = value.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = firstLine.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : bounded(trimmed, maxCharacters: maxCommitMessageLength)
    }

    package static func trigger(_ value: String?) throws(CatalogError) -> String? {
        guard let value, !value.isEmpty else { return nil }
        if value.utf8.count > BuildRequest.maxTriggerLength {
            throw .invalidInput("trigger is longer than \(BuildRequest.maxTriggerLength) bytes; shorten it")
        }
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw .invalidInput("trigger contains control characters; remove them")
        }
        return value
    }

    package static func workerID(_ value: String) throws(CatalogError) {
        if value.isEmpty || value.utf8.count > maxWorkerIDLength {
            throw .invalidInput("a worker id must be 1 to \(maxWorkerIDLength) bytes long")
        }
    }

    package static func errorMessage(_ value: String) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return bounded(trimmed.isEmpty ? "the build failed without a message" : trimmed, maxCharacters: maxErrorLength)
    }

    package static func bounded(_ text: String, maxCharacters: Int) -> String {
        text.count <= maxCharacters ? text : String(text.prefix(maxCharacters - 1)) + "…"
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }
}
