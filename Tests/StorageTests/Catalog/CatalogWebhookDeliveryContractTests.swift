import Foundation
import Model
import Testing

@testable import Storage

/// The webhook deliveries a catalog remembers, so a replayed GitHub delivery
/// queues nothing: the catalog contract.
@Suite struct CatalogWebhookDeliveryContractTests {
    static let delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

    @Test(arguments: CatalogUnderTest.all)
    func aDeliveryIsNewOnceThenAReplayOnEveryHandle(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id))
            #expect(try await !f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id))
            // Another process sharing the catalog sees it too.
            let other = try await f.openAnother()
            #expect(try await !other.recordWebhookDelivery(id: Self.delivery, siteID: site.id))
            // Other ids are new, and ids are compared exactly.
            #expect(try await other.recordWebhookDelivery(id: "delivery-2", siteID: site.id))
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery.uppercased(), siteID: site.id))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func deliveriesAreRememberedPerSite(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let blog = try await f.makeSite("blog")
            let docs = try await f.makeSite("handbook")
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: blog.id))
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: docs.id))
            #expect(try await !f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: docs.id))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func copiesRecordedAtOnceOnSeveralHandlesHaveExactlyOneWinner(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let handles = [f.catalog, try await f.openAnother(), try await f.openAnother()]
            for round in 0..<5 {
                let id = "concurrent-\(round)"
                let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for copy in 0..<24 {
                        let catalog = handles[copy % handles.count]
                        group.addTask { try await catalog.recordWebhookDelivery(id: id, siteID: site.id) }
                    }
                    return try await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                #expect(results.count == 24)
                #expect(results.filter { $0 }.count == 1, "round \(round): \(results.filter { $0 }.count) winners")
            }
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func anIDIsNewAgainOnceTheWindowHasPassed(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let window = Duration.seconds(3600)
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id, window: window))
            f.clock.advance(by: window - .milliseconds(1))
            #expect(try await !f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id, window: window))
            f.clock.advance(by: .milliseconds(1))
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id, window: window))
            // Recorded afresh: a replay again for a whole window.
            f.clock.advance(by: window - .milliseconds(1))
            #expect(try await !f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id, window: window))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func theDefaultWindowIs24Hours(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            #expect(WebhookDeliveries.defaultWindow == .seconds(86_400))
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id))
            f.clock.advance(by: .seconds(86_400) - .milliseconds(1))
            #expect(try await !f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id))
            f.clock.advance(by: .milliseconds(1))
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func aForgottenDeliveryIsNewAgain(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id))
            try await f.catalog.forgetWebhookDelivery(id: Self.delivery, siteID: site.id)
            #expect(try await f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id))
            // Forgetting what is not recorded does nothing.
            try await f.catalog.forgetWebhookDelivery(id: "never-recorded", siteID: site.id)
            #expect(try await !f.catalog.recordWebhookDelivery(id: Self.delivery, siteID: site.id))
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func badIDsWindowsAndSitesAreRefusedWithTypedErrors(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            for id in ["", String(repeating: "a", count: WebhookDeliveries.maxIDLength + 1), "has space", "tab\t", "é"]
            {
                let error = await catalogError { try await f.catalog.recordWebhookDelivery(id: id, siteID: site.id) }
                #expect(error?.code == .invalidInput, "\(id.debugDescription)")
                let forget = await catalogError { try await f.catalog.forgetWebhookDelivery(id: id, siteID: site.id) }
                #expect(forget?.code == .invalidInput, "\(id.debugDescription)")
            }
            #expect(
                try await f.catalog.recordWebhookDelivery(
                    id: String(repeating: "a", count: WebhookDeliveries.maxIDLength), siteID: site.id))
            for window in [Duration.zero, .microseconds(999), .seconds(-1), WebhookDeliveries.maxWindow + .seconds(1)] {
                let error = await catalogError {
                    try await f.catalog.recordWebhookDelivery(id: "d-window", siteID: site.id, window: window)
                }
                #expect(error?.code == .invalidInput, "\(window)")
            }
            let unknown = SiteID.generate()
            let missing = await catalogError { try await f.catalog.recordWebhookDelivery(id: "d", siteID: unknown) }
            #expect(missing?.code == .siteNotFound)
            // The refusals recorded nothing.
            #expect(try await f.catalog.recordWebhookDelivery(id: "d-window", siteID: site.id))
        }
    }
}
