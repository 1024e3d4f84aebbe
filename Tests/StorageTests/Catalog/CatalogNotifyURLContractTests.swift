import Model
import Testing

@testable import Storage

/// Notify URLs as part of a site's settings: the catalog contract.
@Suite struct CatalogNotifyURLContractTests {
    @Test(arguments: CatalogUnderTest.all)
    func aSitesNotifyURLIsCheckedStoredAndCleared(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeNotifiedSite("blog", url: "https://hooks.example.com/a")
            #expect(site.notifyURL == "https://hooks.example.com/a")
            #expect(try await f.catalog.site(id: site.id).notifyURL == "https://hooks.example.com/a")
            #expect(try await f.makeNotifiedSite("empty", url: "").notifyURL == nil)

            let refused = await catalogError { try await f.makeNotifiedSite("bad", url: "ftp://x.example.com/") }
            #expect(refused?.code == .invalidInput)
            #expect(await catalogError { try await f.catalog.site(slug: "bad") }?.code == .siteNotFound)

            let badUpdate = await catalogError {
                try await f.catalog.updateSite(id: site.id) { $0.notifyURL = "https://no spaces/" }
            }
            #expect(badUpdate?.code == .invalidInput)
            #expect(try await f.catalog.site(id: site.id).notifyURL == "https://hooks.example.com/a")

            let changed = try await f.catalog.updateSite(id: site.id) { $0.notifyURL = "http://10.0.0.5:8080/hook" }
            #expect(changed.notifyURL == "http://10.0.0.5:8080/hook" && changed.updatedAt >= site.updatedAt)
            #expect(try await f.catalog.updateSite(id: site.id) { $0.notifyURL = "" }.notifyURL == nil)
            _ = try await f.catalog.updateSite(id: site.id) { $0.notifyURL = "https://hooks.example.com/b" }
            #expect(try await f.catalog.updateSite(id: site.id) { $0.notifyURL = nil }.notifyURL == nil)
        }
    }
}
