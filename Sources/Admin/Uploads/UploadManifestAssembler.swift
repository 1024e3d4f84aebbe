import Foundation
import Logging
import Model
import NIOCore
import Storage

/// Lays out a finished upload as a build, as the builder lays out an
/// output: every file by its blob, the gzip variant where the builder would
/// keep one, and the top-level `_redirects` and `_headers` as rules rather
/// than files.
///
/// A variant comes from the upload that sent the content (the server made
/// it from the checked bytes), or from the deployment's live build when the
/// content was stored before; a content with neither is served without a
/// variant. A variant the deployment does not have any more is left out.
struct UploadManifestAssembler: Sendable {
    var catalog: any Catalog
    var store: any ObjectStore
    var logger: Logger
    /// Largest `_headers` / `_redirects` file read (as the builder's).
    static let maxRulesFileBytes = 1 << 20

    struct Result: Sendable {
        var manifest: BuildManifest
        /// Rules lines skipped, files skipped: for the client to show.
        var warnings: [String]
    }

    func manifest(of files: [UploadFile], site: Site, buildID: BuildID) async throws -> Result {
        var warnings: [String] = []
        var published: [UploadFile] = []
        var redirects: [RedirectRule] = []
        var headers: [HeaderRule] = []
        for file in files {
            switch file.path {
            case "_redirects":
                redirects = try await rules(file, warnings: &warnings, parse: RedirectRules.parse)
            case "_headers":
                headers = try await rules(file, warnings: &warnings, parse: HeaderRules.parse)
            default:
                published.append(file)
            }
        }
        let compressible = Set(
            published.filter {
                $0.size >= ManifestEntryBuilder.minimumCompressibleSize
                    && ContentTypes.isCompressible(ContentTypes.forPath($0.path))
            }.map(\.sha256)
        ).sorted()
        var variants = try await uploadVariants(compressible, siteID: site.id)
        let unknown = Set(compressible).subtracting(variants.keys)
        if !unknown.isEmpty, let active = site.activeBuildID {
            for (digest, variant) in try await liveVariants(unknown, site: site, buildID: active) {
                variants[digest] = .some(variant)
            }
        }
        // Only variants the deployment still has.
        let variantDigests = Array(Set(variants.values.compactMap { $0?.sha256 }))
        var lacking = Set<String>()
        for start in stride(from: 0, to: variantDigests.count, by: BlobRules.maxBatch) {
            let batch = Array(variantDigests[start..<min(start + BlobRules.maxBatch, variantDigests.count)])
            lacking.formUnion(try await catalog.missingBlobs(siteID: site.id, digests: batch))
        }
        var entries: [String: ManifestFile] = [:]
        entries.reserveCapacity(published.count)
        for file in published {
            let gzip = (variants[file.sha256] ?? nil).flatMap { lacking.contains($0.sha256) ? nil : $0 }
            entries[file.path] = ManifestEntryBuilder.entry(
                path: file.path, size: file.size, sha256: file.sha256, gzip: gzip.map { ($0.sha256, $0.size) })
        }
        let manifest = BuildManifest(
            siteID: site.id.rawValue, buildID: buildID.rawValue, files: entries, redirects: redirects,
            headers: headers)
        return Result(manifest: manifest, warnings: warnings)
    }

    private func uploadVariants(_ digests: [String], siteID: SiteID) async throws -> [String: StoredBlob?] {
        var variants: [String: StoredBlob?] = [:]
        for start in stride(from: 0, to: digests.count, by: BlobRules.maxBatch) {
            let batch = Array(digests[start..<min(start + BlobRules.maxBatch, digests.count)])
            for (digest, variant) in try await catalog.uploadVariants(siteID: siteID, digests: batch) {
                variants[digest] = variant
            }
        }
        return variants
    }

    /// The gzip variants the live build has for `digests`.
    private func liveVariants(_ digests: Set<String>, site: Site, buildID: BuildID) async throws
        -> [String: StoredBlob]
    {
        let key = BuildManifest.key(siteID: site.id.rawValue, buildID: buildID.rawValue)
        let live: BuildManifest
        do {
            let buffer = try await store.getBytes(key)
            live = try BuildManifest.decode(Data(buffer.readableBytesView))
        } catch {
            logger.warning(
                "the live build's manifest could not be read; files stored before are served without a gzip variant",
                metadata: ["slug": "\(site.slug)", "build": "\(buildID)", "error": "\(error)"])
            return [:]
        }
        var found: [String: StoredBlob] = [:]
        for entry in live.files.values {
            guard let sha256 = entry.sha256, digests.contains(sha256), let gzip = entry.variants["gzip"],
                let variant = gzip.sha256
            else { continue }
            found[sha256] = StoredBlob(sha256: variant, size: gzip.size)
        }
        return found
    }

    /// Reads and parses a rules file from its blob. Never fails the deploy:
    /// a file over the limit, or one whose blob cannot be read, is skipped
    /// with a warning, as a build skips it.
    private func rules<Rule>(
        _ file: UploadFile, warnings: inout [String],
        parse: (String) -> (rules: [Rule], problems: [RuleProblem])
    ) async throws -> [Rule] {
        let kind = file.path == "_redirects" ? "redirect" : "header"
        guard file.size <= Self.maxRulesFileBytes else {
            warnings.append(
                "\(file.path) is larger than \(Self.maxRulesFileBytes >> 20) MiB, the limit for this file; it was skipped: this build has no \(kind) rules"
            )
            return []
        }
        let buffer = try await store.getBytes(ContentAddress.key(sha256: file.sha256), limit: Self.maxRulesFileBytes)
        let (rules, problems) = parse(String(decoding: buffer.readableBytesView, as: UTF8.self))
        for problem in problems { warnings.append("\(problem) (line skipped)") }
        return rules
    }
}
