import Foundation
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Synchronization
import Testing

@testable import Builder

/// Publishing by content against the real stores (the disk store and the
/// Ceph gateway): a redeploy writes only what changed, a site is told only
/// about its own blobs, and collection deletes exactly what no kept build
/// needs, even when it stops half-way.
@Suite struct ContentAddressedPublishingTests {
    /// A catalog on a manual clock, a counting store and a scratch directory.
    final class Rig: Sendable {
        let directory: String
        let catalog: SQLiteCatalog
        let store: CountingStore
        let now: Locked<Date>

        init(directory: String, base: any ObjectStore) throws {
            self.directory = directory
            let now = Locked(Date(timeIntervalSince1970: 1_800_000_000))
            self.now = now
            catalog = try SQLiteCatalog(
                dataDirectory: directory + "/data", clock: { now.withLock { $0 } }, bus: InProcessEventBus())
            store = CountingStore(base: base)
        }

        func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
        var date: Date { now.withLock { $0 } }

        func publisher() -> Publisher {
            Publisher(
                uploader: Uploader(store: store, attempts: 3, backoff: .milliseconds(50)), catalog: catalog,
                concurrency: 4, scratchDirectory: directory, warmMaxFileBytes: 64 << 10, warmMaxBytes: 1 << 20)
        }

        func collector(grace: Duration = .seconds(3600), store: (any ObjectStore)? = nil) -> BlobCollector {
            BlobCollector(
                catalog: catalog, store: store ?? self.store, grace: grace, logger: BuilderHarness.logger)
        }

        /// Writes `files` into a new output directory and publishes them as a new build of `site`.
        func publish(_ files: [String: String], site: Site) async throws -> (Build, PublishResult) {
            let output = directory + "/out-\(UUID().uuidString.prefix(8))"
            for (path, text) in files {
                let url = URL(fileURLWithPath: output + "/" + path)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: true, encoding: .utf8)
            }
            let build = try await catalog.createBuild(siteID: site.id, BuildRequest(trigger: "test"))
            let scan = try OutputScanner(maxFiles: 60_000, maxBytes: 1 << 30).scan(output, shownAs: "dist")
            let log = try BuildLog(
                buildID: build.id, path: directory + "/\(build.id).log", bus: InProcessEventBus())
            let result = try await publisher().publish(
                scan, siteID: site.id.rawValue, buildID: build.id.rawValue, log: log)
            return (build, result)
        }

        /// Every file of `manifest` reads back with its manifest size.
        func expectReadable(_ manifest: BuildManifest, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            for (path, file) in manifest.files {
                let bytes = try await store.getBytes(manifest.objectKey(for: path), limit: 1 << 20)
                #expect(Int64(bytes.readableBytes) == file.size, "\(path)", sourceLocation: sourceLocation)
            }
        }
    }

    static func withRig(_ kind: TestStoreKind, _ body: (Rig) async throws -> Void) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await kind.withStore(in: directory) { store in
            let rig = try Rig(directory: directory, base: store)
            do { try await body(rig) } catch {
                try? await rig.catalog.close()
                throw error
            }
            try await rig.catalog.close()
        }
    }

    /// 30 files (``SampleSite/thirtyFiles``).
    static let site = SampleSite.thirtyFiles

    @Test(arguments: TestStoreKind.all)
    func aRedeployWithOneFileChangedWritesOneBlob(_ kind: TestStoreKind) async throws {
        try await Self.withRig(kind) { rig in
            let site = try await rig.catalog.createSite(
                SiteDraft(slug: "handbook", repoURL: "https://example.test/d.git"))
            let (_, first) = try await rig.publish(Self.site, site: site)
            // 29 distinct contents (two files share theirs), their gzip variants, and the manifest.
            let blobs = first.manifest.blobDigests.count
            #expect(first.manifest.files.count == 30 && blobs == 29 + first.variantCount)
            #expect(rig.store.blobPuts == blobs, "each content once")
            #expect(rig.store.puts == blobs + 1 && first.objectCount == blobs + 1 && first.reusedCount == 0)
            try await rig.expectReadable(first.manifest)

            rig.store.reset()
            var changed = Self.site
            changed["data.bin"] = "version 2"
            let (_, second) = try await rig.publish(changed, site: site)
            #expect(rig.store.blobPuts == 1, "only the changed file's content: \(rig.store.keys)")
            #expect(rig.store.puts == 2 && second.objectCount == 2 && second.reusedCount == blobs)
            #expect(second.manifest.files["copy.bin"]?.sha256 == first.manifest.files["copy.bin"]?.sha256)
            #expect(second.manifest.files["data.bin"]?.sha256 != first.manifest.files["data.bin"]?.sha256)
            try await rig.expectReadable(second.manifest)
            // The unchanged pages have the same object keys: the proxy's cache keeps them.
            #expect(
                second.manifest.objectKey(for: "page-3.html") == first.manifest.objectKey(for: "page-3.html"))
        }
    }

    @Test(arguments: TestStoreKind.all)
    func theSameFileInTwoSitesIsStoredForEachOnItsOwn(_ kind: TestStoreKind) async throws {
        try await Self.withRig(kind) { rig in
            let blog = try await rig.catalog.createSite(SiteDraft(slug: "blog", repoURL: "https://example.test/b.git"))
            let shop = try await rig.catalog.createSite(SiteDraft(slug: "shop", repoURL: "https://example.test/s.git"))
            let files = ["index.html": "<!doctype html><title>same</title>", "logo.bin": "same logo"]
            _ = try await rig.publish(files, site: blog)
            rig.store.reset()
            let (_, result) = try await rig.publish(files, site: shop)
            // The shop is not told the blog has these bytes: it sends them, and they are checked for it.
            #expect(rig.store.blobPuts == 2 && result.reusedCount == 0)
            #expect(
                try await rig.catalog.missingBlobs(siteID: shop.id, digests: Array(result.manifest.blobDigests)) == [])
        }
    }

    @Test(arguments: TestStoreKind.all)
    func collectionKeepsWhatKeptBuildsNeedAndDeletesTheRest(_ kind: TestStoreKind) async throws {
        try await Self.withRig(kind) { rig in
            let blog = try await rig.catalog.createSite(SiteDraft(slug: "blog", repoURL: "https://example.test/b.git"))
            let shop = try await rig.catalog.createSite(SiteDraft(slug: "shop", repoURL: "https://example.test/s.git"))
            let (_, blogBuild) = try await rig.publish(
                ["index.html": "<p>blog</p>", "shared.bin": "shared"], site: blog)
            let (shopOld, _) = try await rig.publish(
                ["index.html": "<p>shop v1</p>", "shared.bin": "shared"], site: shop)
            let (_, shopNew) = try await rig.publish(
                ["index.html": "<p>shop v2</p>", "shared.bin": "shared"], site: shop)
            let blogOnly = blogBuild.manifest.files["index.html"]!.sha256!
            let shopV1 = try Self.sha("<p>shop v1</p>")

            // Within the grace period nothing goes, whatever is deleted.
            _ = try await rig.catalog.deleteSite(id: blog.id)
            try await rig.store.delete([shopOld.manifestKey])
            _ = try await rig.catalog.cancelBuild(id: shopOld.id)
            _ = try await rig.catalog.deleteBuild(id: shopOld.id)
            #expect(try await rig.collector().collect(now: rig.date) == BlobCollector.Report())

            rig.advance(7200)
            let report = try await rig.collector().collect(now: rig.date)
            #expect(report.deleted == 2, "the blog's page and the shop's old page: \(report)")
            for gone in [blogOnly, shopV1] {
                await #expect(throws: ObjectStoreError.self) {
                    try await rig.store.head(ContentAddress.key(sha256: gone))
                }
            }
            // The shop's live build is whole, the shared file included.
            try await rig.expectReadable(shopNew.manifest)
            #expect(try await rig.catalog.blobStats().blobs == 2)
            // A second pass finds nothing more, and reads no manifest for blobs it just found needed.
            #expect(try await rig.collector().collect(now: rig.date) == BlobCollector.Report())
        }
    }

    @Test(arguments: TestStoreKind.all)
    func aSourceUploadsFilesAreKeptUntilTheUploadIsPruned(_ kind: TestStoreKind) async throws {
        try await Self.withRig(kind) { rig in
            let site = try await rig.catalog.createSite(SiteDraft(slug: "blog", repoURL: ""))
            let text = "export default 1;\n"
            let digest = try Self.sha(text)
            let blob = StoredBlob(sha256: digest, size: Int64(text.utf8.count))
            try await SiteBlobWriter(catalog: rig.catalog, siteID: site.id).store([blob]) {
                _ = try await rig.store.put(ContentAddress.key(sha256: digest), body: .string(text))
            }
            let upload = try await rig.catalog.createUpload(
                UploadDraft(
                    siteID: site.id, kind: .source, preview: false,
                    files: [UploadFile(path: "src/main.js", sha256: digest, size: blob.size)],
                    lifetime: .seconds(24 * 3600)))
            _ = try await rig.catalog.finishUpload(id: upload.id, buildID: BuildID.generate(), fileCount: 0, bytes: 0)
            // Unused for longer than the grace period, referenced by no manifest: kept for the queued build.
            rig.advance(7200)
            #expect(try await rig.collector().collect(now: rig.date).deleted == 0)
            #expect(try await rig.catalog.missingBlobs(siteID: site.id, digests: [digest]).isEmpty)
            // Once the upload is pruned, its files go like any unused content.
            rig.advance(25 * 3600)
            let report = try await rig.collector().collect(now: rig.date)
            #expect(report.uploadsRemoved == 1 && report.deleted == 1, "\(report)")
        }
    }

    @Test(arguments: TestStoreKind.all)
    func aCollectionStoppedHalfWayLosesNothingAndTheNextOneFinishesIt(_ kind: TestStoreKind) async throws {
        try await Self.withRig(kind) { rig in
            let blog = try await rig.catalog.createSite(SiteDraft(slug: "blog", repoURL: "https://example.test/b.git"))
            let shop = try await rig.catalog.createSite(SiteDraft(slug: "shop", repoURL: "https://example.test/s.git"))
            var files: [String: String] = [:]
            for index in 0..<12 { files["f\(index).bin"] = "blog file \(index)" }
            files["shared.bin"] = "shared"
            _ = try await rig.publish(files, site: blog)
            let (_, shopBuild) = try await rig.publish(["shared.bin": "shared", "own.bin": "shop"], site: shop)
            _ = try await rig.catalog.deleteSite(id: blog.id)
            rig.advance(7200)

            // The collector dies while deleting: after claiming, mid-way through the objects.
            let dying = DyingStore(base: rig.store, deletesBeforeDeath: 5)
            var collector = rig.collector(store: dying)
            collector.batch = 4
            await #expect(throws: DyingStore.Death.self) { _ = try await collector.collect(now: rig.date) }

            // Whatever it left, every blob the catalog still counts as live is whole,
            // and the shop's build reads back entirely.
            try await rig.expectReadable(shopBuild.manifest)
            #expect(dying.deletedBlobs == 5)
            _ = try await rig.collector().collect(now: rig.date)
            #expect(try await rig.catalog.blobStats() == BlobStats(blobs: 2, bytes: 10, unreferenced: 0))
            #expect(try await rig.store.list(prefix: ContentAddress.prefix, after: nil, limit: 100).objects.count == 2)
            try await rig.expectReadable(shopBuild.manifest)
        }
    }

    @Test func oneCollectorOfAFleetRunsAtATime() async throws {
        try await Self.withRig(.disk) { rig in
            let lease = BlobCollectorService.leaseName
            #expect(try await rig.catalog.acquireLease(lease, owner: "another-node", duration: .seconds(600)))
            let service = BlobCollectorService(
                collector: rig.collector(), interval: .seconds(3600), nodeID: "this-node")
            #expect(await service.runOnce() == nil, "another node holds the lease")
            try await rig.catalog.releaseLease(lease, owner: "another-node")
            #expect(await service.runOnce() == BlobCollector.Report())
        }
    }

    /// The SHA-256 of `text`, as a manifest gives it.
    static func sha(_ text: String) throws -> String {
        try #require(try ManifestEntryBuilder.entry(path: "x.bin", bytes: Array(text.utf8)).file.sha256)
    }
}

/// A store whose deletes stop working (as if the process died) after a
/// number of blob deletions.
final class DyingStore: WrappingStore {
    struct Death: Error {}
    let base: any ObjectStore
    private let remaining: Mutex<Int>
    private let deleted = Mutex(0)

    init(base: any ObjectStore, deletesBeforeDeath: Int) {
        self.base = base
        remaining = Mutex(deletesBeforeDeath)
    }

    var deletedBlobs: Int { deleted.withLock { $0 } }

    func delete(_ keys: [String]) async throws {
        for key in keys {
            guard
                remaining.withLock({ value in
                    value -= 1
                    return value >= 0
                })
            else { throw Death() }
            try await base.delete([key])
            deleted.withLock { $0 += 1 }
        }
    }

}
