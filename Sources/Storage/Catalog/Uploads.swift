public import Foundation
public import Model

/// A folder being uploaded to a deployment (`slipway deploy --dir` or
/// `--source`): announced with every file's path, SHA-256 and size, filled
/// with the blobs the site lacks, then finished into a build.
///
/// ```
/// open ──finish──▶ finished (its build recorded)
///   └──(expiresAt passes)──▶ expired: never finished; its blobs fall to the collector
/// ```
public struct Upload: Sendable, Hashable {
    /// `upl_` and 26 random base-32 characters.
    public let id: String
    public let siteID: SiteID
    public let kind: UploadKind
    /// Kept as a preview when finished, without touching production.
    public let preview: Bool
    public package(set) var state: UploadState
    public let fileCount: Int
    public let totalBytes: Int64
    public let createdAt: Date
    public let expiresAt: Date
    /// The build the upload became, once finished.
    public package(set) var buildID: BuildID?

    public init(
        id: String, siteID: SiteID, kind: UploadKind, preview: Bool, state: UploadState, fileCount: Int,
        totalBytes: Int64, createdAt: Date, expiresAt: Date, buildID: BuildID?
    ) {
        self.id = id
        self.siteID = siteID
        self.kind = kind
        self.preview = preview
        self.state = state
        self.fileCount = fileCount
        self.totalBytes = totalBytes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.buildID = buildID
    }

    /// Whether blobs may still be added and the upload finished at `now`.
    public func isOpen(at now: Date) -> Bool { state == .open && now < expiresAt }
}

/// Where an upload is in its life (an expired one is `open` past its
/// `expiresAt`, and reported as `expired`).
public enum UploadState: String, Sendable, Hashable, Codable {
    case open
    case finished
    case expired
}

/// What to record when an upload starts.
public struct UploadDraft: Sendable, Hashable {
    public var siteID: SiteID
    public var kind: UploadKind
    public var preview: Bool
    /// Checked with ``UploadRules/problem(files:kind:maxFiles:maxBytes:)`` by the caller.
    public var files: [UploadFile]
    /// How long the upload may take before it expires.
    public var lifetime: Duration

    public init(siteID: SiteID, kind: UploadKind, preview: Bool, files: [UploadFile], lifetime: Duration) {
        self.siteID = siteID
        self.kind = kind
        self.preview = preview
        self.files = files
        self.lifetime = lifetime
    }
}

/// A blob an upload sent, stored and verified, with the gzip variant the
/// server made of it (nil when its files are not compressible text, or
/// compressing saved too little).
public struct UploadedBlob: Sendable, Hashable {
    public var sha256: String
    public var gzip: StoredBlob?

    public init(sha256: String, gzip: StoredBlob?) {
        self.sha256 = sha256
        self.gzip = gzip
    }
}

/// What finishing an upload recorded.
public struct FinishedUpload: Sendable, Hashable {
    public var upload: Upload
    /// The new build: a success for an output upload, queued for a source upload.
    public var build: Build
    /// What the activation did; nil for a preview, a source upload, or a
    /// repeated finish.
    public var activation: ActivationOutcome?

    public init(upload: Upload, build: Build, activation: ActivationOutcome?) {
        self.upload = upload
        self.build = build
        self.activation = activation
    }
}

/// Checks and values shared by both catalogs' upload methods.
package enum UploadCatalogRules {
    package static func newID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var generator = SystemRandomNumberGenerator()
        return "upl_" + String((0..<26).map { _ in alphabet[Int(generator.next() % 32)] })
    }

    package static func isID(_ text: String) -> Bool {
        text.utf8.count == 30 && text.hasPrefix("upl_")
            && text.utf8.dropFirst(4).allSatisfy { (0x61...0x7a).contains($0) || (0x32...0x37).contains($0) }
    }

    package static func notFound(_ id: String) -> CatalogError {
        CatalogError(
            code: .uploadNotFound,
            message:
                "no upload with id '\(id.prefix(40))'; it may have expired and been removed — start the deploy again")
    }

    package static func closed(_ upload: Upload, now: Date) -> CatalogError {
        let why =
            upload.state == .finished
            ? "was finished already\(upload.buildID.map { " (build \($0))" } ?? "")"
            : "expired at \(ISO8601DateFormatter().string(from: upload.expiresAt))"
        return CatalogError(
            code: .uploadClosed, message: "upload \(upload.id) \(why); start a new deploy to upload again")
    }

    package static func check(_ draft: UploadDraft) throws {
        guard !draft.files.isEmpty, draft.lifetime > .zero else {
            throw CatalogError(code: .invalidInput, message: "an upload needs files and a positive lifetime")
        }
    }

    /// The trigger recorded on an upload's build.
    package static func trigger(_ kind: UploadKind) -> String {
        kind == .output ? "upload" : "upload-source"
    }

    /// What a build from uploaded source shows as its commit message.
    package static func sourceMessage(_ upload: Upload) -> String {
        "uploaded source (\(upload.fileCount) file\(upload.fileCount == 1 ? "" : "s"), upload \(upload.id))"
    }
}
