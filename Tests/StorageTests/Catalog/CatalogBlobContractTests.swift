import Crypto
import Foundation
import Model
import Testing

@testable import Storage

/// Content blobs in the catalog: which sites have which, the reservation
/// that keeps the collector away, and collection — the contract every
/// implementation keeps.
@Suite struct CatalogBlobContractTests {
    static func digest(_ text: String) -> String { Hex.encode(SHA256.hash(data: Data(text.utf8))) }
    static func blob(_ text: String) -> StoredBlob { StoredBlob(sha256: digest(text), size: Int64(text.utf8.count)) }

    /// Reserves, then records, as a writer does.
    static func store(_ blobs: [StoredBlob], for site: SiteID, in catalog: any Catalog) async throws {
        #expect(try await catalog.reserveBlobs(blobs) == [])
        try await catalog.recordBlobs(siteID: site, digests: blobs.map(\.sha256))
    }

    @Test(arguments: CatalogUnderTest.all)
    func aSiteIsToldOnlyAboutItsOwnBlobs(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let blog = try await f.makeSite("blog")
            let shop = try await f.makeSite("shop")
            let (a, b, c) = (Self.blob("a"), Self.blob("b"), Self.blob("c"))
            #expect(
                try await f.catalog.missingBlobs(siteID: blog.id, digests: [a.sha256, b.sha256]) == [
                    a.sha256, b.sha256,
                ])
            try await Self.store([a, b], for: blog.id, in: f.catalog)
            let other = try await f.openAnother()
            #expect(
                try await other.missingBlobs(siteID: blog.id, digests: [a.sha256, b.sha256, c.sha256]) == [c.sha256])
            // The shop has not uploaded `a`: it must, and its bytes are checked for it too.
            #expect(try await other.missingBlobs(siteID: shop.id, digests: [a.sha256]) == [a.sha256])
            try await Self.store([a], for: shop.id, in: other)
            #expect(try await f.catalog.missingBlobs(siteID: shop.id, digests: [a.sha256]) == [])
            let stats = try await f.catalog.blobStats()
            #expect(stats == BlobStats(blobs: 2, bytes: 2, unreferenced: 0))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func malformedDigestsAndUnknownSitesAreRefused(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            for bad in ["", "abc", String(repeating: "A", count: 64), String(repeating: "g", count: 64)] {
                let refused = await catalogError { try await f.catalog.missingBlobs(siteID: site.id, digests: [bad]) }
                #expect(refused?.code == .invalidInput, "\(bad)")
            }
            let tooMany = (0..<5001).map { Self.digest("\($0)") }
            #expect(
                await catalogError { try await f.catalog.missingBlobs(siteID: site.id, digests: tooMany) }?.code
                    == .invalidInput)
            let a = Self.blob("a")
            #expect(try await f.catalog.reserveBlobs([a]) == [])
            let unknown = await catalogError {
                try await f.catalog.recordBlobs(siteID: SiteID.generate(), digests: [a.sha256])
            }
            #expect(unknown?.code == .siteNotFound)
            // Never reserved: not recorded.
            let unreserved = await catalogError {
                try await f.catalog.recordBlobs(siteID: site.id, digests: [Self.digest("z")])
            }
            #expect(unreserved?.code == .blobCollecting && unreserved?.httpStatus == 503)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func collectionForgetsWhatASiteStoppedUsingAndDeletesWhatNoSiteHas(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let blog = try await f.makeSite("blog")
            let shop = try await f.makeSite("shop")
            let (shared, own, kept) = (Self.blob("shared"), Self.blob("own"), Self.blob("kept"))
            try await Self.store([shared, own, kept], for: blog.id, in: f.catalog)
            try await Self.store([shared], for: shop.id, in: f.catalog)
            let cutoffNow = f.clock.now
            // Nothing is older than the cutoff yet.
            #expect(try await f.catalog.siteBlobs(siteID: blog.id, unusedSince: cutoffNow, limit: 10) == [])
            f.clock.advance(by: .seconds(3600))
            // `kept` is used again (a publish found it): it stays.
            #expect(try await f.catalog.missingBlobs(siteID: blog.id, digests: [kept.sha256]) == [])
            let cutoff = f.clock.now.addingTimeInterval(-1)
            let unused = try await f.catalog.siteBlobs(siteID: blog.id, unusedSince: cutoff, limit: 10)
            #expect(Set(unused) == [shared.sha256, own.sha256])
            #expect(
                try await f.catalog.forgetSiteBlobs(
                    siteID: blog.id, digests: [shared.sha256, own.sha256, kept.sha256], unusedSince: cutoff) == 2)
            // `shared` is still the shop's; `own` belongs to nobody now.
            #expect(try await f.catalog.blobStats().unreferenced == 1)
            let claimed = try await f.catalog.claimUnreferencedBlobs(unusedSince: cutoff, limit: 10)
            #expect(claimed == [own.sha256])
            // A writer that wants it now waits for the collector, then stores it anew.
            #expect(try await f.catalog.reserveBlobs([own]) == [own.sha256])
            let meanwhile = await catalogError {
                try await f.catalog.recordBlobs(siteID: blog.id, digests: [own.sha256])
            }
            #expect(meanwhile?.code == .blobCollecting)
            #expect(try await f.catalog.missingBlobs(siteID: shop.id, digests: [own.sha256]) == [own.sha256])
            // A collector that died leaves it claimed: the next one gets it again.
            let other = try await f.openAnother()
            #expect(try await other.claimUnreferencedBlobs(unusedSince: cutoff, limit: 10) == [own.sha256])
            #expect(try await other.removeCollectedBlobs([own.sha256, shared.sha256]) == 1, "only claimed ones go")
            #expect(try await f.catalog.reserveBlobs([own]) == [])
            try await f.catalog.recordBlobs(siteID: blog.id, digests: [own.sha256])
            #expect(
                try await f.catalog.missingBlobs(siteID: blog.id, digests: [own.sha256, shared.sha256])
                    == [shared.sha256])
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aReservationKeepsTheCollectorAwayAndDeletingASiteLeavesItsBlobsToIt(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let blog = try await f.makeSite("blog")
            let shop = try await f.makeSite("shop")
            let (shared, own) = (Self.blob("shared"), Self.blob("own"))
            try await Self.store([shared, own], for: blog.id, in: f.catalog)
            try await Self.store([shared], for: shop.id, in: f.catalog)
            _ = try await f.catalog.deleteSite(id: blog.id)
            f.clock.advance(by: .seconds(3600))
            // Reserved just now (a writer is uploading it): not collected.
            #expect(try await f.catalog.reserveBlobs([own]) == [])
            let cutoff = f.clock.now.addingTimeInterval(-60)
            #expect(try await f.catalog.claimUnreferencedBlobs(unusedSince: cutoff, limit: 10) == [])
            f.clock.advance(by: .seconds(3600))
            let later = f.clock.now.addingTimeInterval(-60)
            #expect(try await f.catalog.claimUnreferencedBlobs(unusedSince: later, limit: 10) == [own.sha256])
            #expect(try await f.catalog.removeCollectedBlobs([own.sha256]) == 1)
            #expect(try await f.catalog.blobStats() == BlobStats(blobs: 1, bytes: 6, unreferenced: 0))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aCollectorAndWritersAtOnceNeverLeaveARecordedBlobCollected(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let blobs = (0..<40).map { Self.blob("content-\($0)") }
            // Stored, then forgotten by every site and old: each is up for collection.
            try await Self.store(blobs, for: site.id, in: f.catalog)
            f.clock.advance(by: .seconds(7200))
            let cutoff = f.clock.now.addingTimeInterval(-3600)
            #expect(
                try await f.catalog.forgetSiteBlobs(siteID: site.id, digests: blobs.map(\.sha256), unusedSince: cutoff)
                    == 40)
            let writer = try await f.openAnother()
            let collector = try await f.openAnother()
            // Writers reserve and record each blob while a collector claims.
            let (recorded, claimed) = try await withThrowingTaskGroup(of: ([String], [String]).self) { group in
                group.addTask {
                    var recorded: [String] = []
                    for blob in blobs where try await writer.reserveBlobs([blob]).isEmpty {
                        try await writer.recordBlobs(siteID: site.id, digests: [blob.sha256])
                        recorded.append(blob.sha256)
                    }
                    return (recorded, [])
                }
                group.addTask {
                    var claimed: [String] = []
                    for _ in 0..<8 {
                        claimed += try await collector.claimUnreferencedBlobs(unusedSince: cutoff, limit: 5)
                    }
                    return ([], claimed)
                }
                var recorded: [String] = []
                var claimed: [String] = []
                for try await (r, c) in group {
                    recorded += r
                    claimed += c
                }
                return (recorded, claimed)
            }
            // Each blob went one way: recorded for the site, or claimed by the collector.
            #expect(Set(recorded).isDisjoint(with: claimed))
            #expect(Set(recorded).union(claimed) == Set(blobs.map(\.sha256)))
            let present = try await f.catalog.missingBlobs(siteID: site.id, digests: blobs.map(\.sha256))
            #expect(present == Set(blobs.map(\.sha256)).subtracting(recorded))
        }
    }
}
