import Foundation

/// A build as Slipway shows it to the outside: in the admin API's answers,
/// its live log's `status` events and build notifications. Secrets never
/// appear in a build.
///
/// `{id, deploymentId, number, status, commitSha, commitMessage, error,
/// attempt, queuedAt, startedAt, finishedAt, fileCount, bytes, previewUrl}`;
/// encode it with ``APIJSON/encoder()``.
public struct BuildJSON: Encodable, Sendable {
    public let build: Build
    /// Only for successful builds.
    public let previewURL: String?

    public init(build: Build, previewURL: String?) {
        self.build = build
        self.previewURL = previewURL
    }

    /// `build` with its preview URL (only a successful build has one).
    public init(build: Build, slug: String, urls: SiteURLs) {
        self.init(
            build: build, previewURL: build.status == .success ? urls.previewURL(slug: slug, number: build.number) : nil
        )
    }

    private enum CodingKeys: String, CodingKey {
        case id, deploymentId, number, status, commitSha, commitMessage, error, attempt, queuedAt, startedAt, finishedAt
        case fileCount, bytes, previewUrl
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        // Every key is written, null included: clients rely on the full shape.
        try container.encode(build.id.rawValue, forKey: .id)
        try container.encode(build.siteID.rawValue, forKey: .deploymentId)
        try container.encode(build.number, forKey: .number)
        try container.encode(build.status.rawValue, forKey: .status)
        try container.encode(build.commitSHA, forKey: .commitSha)
        try container.encode(build.commitMessage, forKey: .commitMessage)
        try container.encode(build.error, forKey: .error)
        try container.encode(build.attempt, forKey: .attempt)
        try container.encode(build.queuedAt, forKey: .queuedAt)
        try container.encode(build.startedAt, forKey: .startedAt)
        try container.encode(build.finishedAt, forKey: .finishedAt)
        try container.encode(build.fileCount, forKey: .fileCount)
        try container.encode(build.bytes, forKey: .bytes)
        try container.encode(previewURL, forKey: .previewUrl)
    }
}
