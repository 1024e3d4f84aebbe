import Foundation
import Model
import Testing

@testable import Storage

/// Uploads in the catalog: recorded, filled, finished into a build exactly
/// once, expired and pruned — the contract every implementation keeps.
@Suite struct CatalogUploadContractTests {
    static func file(_ path: String, _ text: String) -> UploadFile {
        let blob = CatalogBlobContractTests.blob(text)
        return UploadFile(path: path, sha256: blob.sha256, size: blob.size)
    }

    static func draft(_ site: Site, preview: Bool = false, lifetime: Duration = .seconds(3600)) -> UploadDraft {
        UploadDraft(
            siteID: site.id, kind: .output, preview: preview,
            files: [file("index.html", "<h1>hi</h1>"), file("app.js", "go()")], lifetime: lifetime)
    }

    @Test(arguments: CatalogUnderTest.all)
    func anUploadIsRecordedWithItsFilesAndFinishedIntoALiveBuildOnce(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let upload = try await f.catalog.createUpload(Self.draft(site))
            #expect(upload.state == .open && upload.fileCount == 2 && upload.totalBytes == 15 && upload.buildID == nil)
            #expect(upload.id.hasPrefix("upl_"))
            let other = try await f.openAnother()
            #expect(try await other.upload(id: upload.id) == upload)
            #expect(try await other.uploadFiles(id: upload.id) == Self.draft(site).files)

            let gzip = StoredBlob(sha256: CatalogBlobContractTests.digest("gz"), size: 9)
            let index = Self.file("index.html", "<h1>hi</h1>").sha256
            try await f.catalog.recordUploadedBlobs(uploadID: upload.id, [UploadedBlob(sha256: index, gzip: gzip)])
            let js = Self.file("app.js", "go()").sha256
            try await other.recordUploadedBlobs(uploadID: upload.id, [UploadedBlob(sha256: js, gzip: nil)])
            let variants = try await f.catalog.uploadVariants(siteID: site.id, digests: [index, js, gzip.sha256])
            #expect(variants.count == 2 && variants[index] == .some(gzip) && variants[js] == .some(nil))
            // Another site never learns what this one's uploads made.
            let shop = try await f.makeSite("shop")
            #expect(try await f.catalog.uploadVariants(siteID: shop.id, digests: [index]).isEmpty)

            var events = await f.subscribe()
            let buildID = BuildID.generate()
            let finished = try await f.catalog.finishUpload(id: upload.id, buildID: buildID, fileCount: 2, bytes: 15)
            #expect(finished.build.id == buildID && finished.build.status == .success && finished.build.number == 1)
            #expect(finished.build.trigger == "upload" && finished.build.fileCount == 2 && finished.build.bytes == 15)
            #expect(finished.upload.state == .finished && finished.upload.buildID == buildID)
            guard case .activated(previous: nil) = finished.activation else {
                Issue.record("not activated: \(String(describing: finished.activation))")
                return
            }
            #expect(try await other.site(id: site.id).activeBuildID == buildID)
            // Published when the transaction committed: the build, then its activation.
            var announced = false
            for _ in 0..<2 {
                guard case .value(let event) = await events.next() else { break }
                if case .activated(let activation) = event, activation.buildID == buildID { announced = true }
            }
            #expect(announced)

            // Finishing again changes nothing and names the same build.
            let again = try await other.finishUpload(
                id: upload.id, buildID: BuildID.generate(), fileCount: 2, bytes: 15)
            #expect(again.build.id == buildID && again.activation == nil)
            #expect(try await f.catalog.builds(siteID: site.id).builds.count == 1)
            let closed = await catalogError {
                try await f.catalog.recordUploadedBlobs(uploadID: upload.id, [UploadedBlob(sha256: js, gzip: nil)])
            }
            #expect(closed?.code == .uploadClosed && closed?.httpStatus == 409)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aPreviewIsRecordedButNeverActivated(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let live = try await f.makeSuccessfulBuild(of: site)
            _ = try await f.catalog.activate(siteID: site.id, buildID: live.id, allowOlder: false)
            let upload = try await f.catalog.createUpload(Self.draft(site, preview: true))
            let finished = try await f.catalog.finishUpload(
                id: upload.id, buildID: BuildID.generate(), fileCount: 2, bytes: 15)
            #expect(finished.activation == nil && finished.build.status == .success && finished.build.number == 2)
            #expect(try await f.catalog.site(id: site.id).activeBuildID == live.id)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func uploadsFinishedAtOnceNumberInTurnAndTheNewestStaysLive(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let other = try await f.openAnother()
            let uploads = try await (0..<6).asyncMap { _ in try await f.catalog.createUpload(Self.draft(site)) }
            let finished = try await withThrowingTaskGroup(of: FinishedUpload.self) { group in
                for (index, upload) in uploads.enumerated() {
                    let catalog = index % 2 == 0 ? f.catalog : other
                    group.addTask {
                        try await catalog.finishUpload(
                            id: upload.id, buildID: BuildID.generate(), fileCount: 2, bytes: 15)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(finished.map(\.build.number)) == Set(1...6))
            let newest = try #require(finished.max { $0.build.number < $1.build.number })
            #expect(try await f.catalog.site(id: site.id).activeBuildID == newest.build.id)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func anExpiredUploadIsClosedAndPrunedWithWhatItRecorded(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let upload = try await f.catalog.createUpload(Self.draft(site, lifetime: .seconds(60)))
            let index = Self.file("index.html", "<h1>hi</h1>").sha256
            try await f.catalog.recordUploadedBlobs(uploadID: upload.id, [UploadedBlob(sha256: index, gzip: nil)])
            f.clock.advance(by: .seconds(61))
            #expect(try await f.catalog.upload(id: upload.id).state == .expired)
            let refused = await catalogError {
                try await f.catalog.finishUpload(id: upload.id, buildID: BuildID.generate(), fileCount: 2, bytes: 15)
            }
            #expect(refused?.code == .uploadClosed)
            #expect(try await f.catalog.builds(siteID: site.id).builds.isEmpty)
            let kept = try await f.catalog.createUpload(Self.draft(site))
            #expect(try await f.catalog.pruneUploads(before: f.clock.now) == 1)
            #expect(await catalogError { try await f.catalog.upload(id: upload.id) }?.code == .uploadNotFound)
            #expect(try await f.catalog.uploadVariants(siteID: site.id, digests: [index]).isEmpty)
            #expect(try await f.catalog.upload(id: kept.id).state == .open)
            // Deleting the site takes its uploads with it.
            _ = try await f.catalog.deleteSite(id: site.id)
            #expect(await catalogError { try await f.catalog.upload(id: kept.id) }?.code == .uploadNotFound)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aSourceUploadIsQueuedAsABuildThatFindsItsUpload(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture(settings: QueueSettings(maxQueued: 2)) { f in
            let site = try await f.makeSite("blog")
            var draft = Self.draft(site)
            draft.kind = .source
            let upload = try await f.catalog.createUpload(draft)
            #expect(upload.kind == .source)
            let buildID = BuildID.generate()
            let finished = try await f.catalog.finishUpload(id: upload.id, buildID: buildID, fileCount: 0, bytes: 0)
            #expect(finished.build.status == .queued && finished.activation == nil)
            #expect(
                finished.build.trigger == "upload-source" && finished.build.commitMessage?.contains(upload.id) == true)
            let other = try await f.openAnother()
            #expect(try await other.sourceUpload(buildID: buildID)?.id == upload.id)
            #expect(try await other.sourceUploads(siteID: site.id).map(\.id) == [upload.id])
            // A build from a repository has no source upload; an output upload is not one either.
            let queued = try await f.catalog.createBuild(siteID: site.id, BuildRequest(trigger: "test"))
            #expect(try await f.catalog.sourceUpload(buildID: queued.id) == nil)
            // The claimed build is the uploaded one, like any queued build.
            let claimed = try #require(try await f.catalog.claimNextBuild(workerID: "w"))
            #expect(claimed.id == buildID)
            // A full queue refuses a source upload's build and leaves the upload open.
            _ = try await f.catalog.createBuild(siteID: site.id, BuildRequest(trigger: "test"))
            let full = try await f.catalog.createUpload(draft)
            let refused = await catalogError {
                try await f.catalog.finishUpload(id: full.id, buildID: BuildID.generate(), fileCount: 0, bytes: 0)
            }
            #expect(refused?.code == .queueFull)
            #expect(try await f.catalog.upload(id: full.id).state == .open)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func unknownIdsAndSitesAreRefused(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            for id in ["", "upl_", "upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", "../etc", String(repeating: "x", count: 300)] {
                #expect(await catalogError { try await f.catalog.upload(id: id) }?.code == .uploadNotFound, "\(id)")
                #expect(await catalogError { try await f.catalog.uploadFiles(id: id) }?.code == .uploadNotFound)
            }
            var draft = Self.draft(site)
            draft.siteID = SiteID.generate()
            #expect(await catalogError { try await f.catalog.createUpload(draft) }?.code == .siteNotFound)
            draft = Self.draft(site)
            draft.files = []
            #expect(await catalogError { try await f.catalog.createUpload(draft) }?.code == .invalidInput)
        }
    }
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
