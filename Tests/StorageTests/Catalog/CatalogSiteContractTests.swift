import Foundation
import Model
import Testing

@testable import Storage

/// The site half of the catalog contract, run against every implementation.
@Suite struct CatalogSiteContractTests {
    @Test(arguments: CatalogUnderTest.all)
    func createdSiteCanBeReadByIdAndBySlug(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.catalog.createSite(
                SiteDraft(
                    slug: "blog", repoURL: "https://github.com/acme/blog.git", rootDir: "web",
                    buildCommand: "npm run build",
                    spa: .spa,
                    env: [
                        BuildVariable(name: "API_URL", value: "https://api"),
                        BuildVariable(name: "TOKEN", value: "s3cr3t", secret: true),
                    ]
                )
            )
            #expect(site.slug == "blog")
            #expect(site.branch == "main")
            #expect(site.rootDir == "web")
            #expect(site.spa == .spa)
            #expect(site.env.count == 2 && site.env[1].secret && site.env[1].value == "s3cr3t")
            #expect(site.activeBuildID == nil)
            #expect(site.createdAt == f.clock.now && site.updatedAt == f.clock.now)
            #expect(SiteID(site.id.rawValue) == site.id)
            #expect(try await f.catalog.site(id: site.id) == site)
            #expect(try await f.catalog.site(slug: "blog") == site)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func siteWithoutSlugGetsOneDerivedFromTheRepositoryAndMadeUnique(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let repo = "https://github.com/acme/My_Site.git"
            let first = try await f.makeSite(repo: repo)
            let second = try await f.makeSite(repo: repo)
            let third = try await f.makeSite(repo: "git@github.com:other/my-site")
            #expect([first.slug, second.slug, third.slug] == ["my-site", "my-site-2", "my-site-3"])
            let reserved = try await f.makeSite(repo: "https://github.com/acme/api.git")
            #expect(reserved.slug == "api-site")
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func invalidReservedAndDoubleHyphenSlugsAreRefusedAndNothingIsWritten(_ implementation: CatalogUnderTest)
        async throws
    {
        try await implementation.withFixture { f async throws in
            for slug in [
                "", "Blog", "-blog", "blog-", "my--site", "admin", "www", "a_b", String(repeating: "a", count: 64),
            ] {
                let error = await catalogError { try await f.makeSite(slug) }
                #expect(error?.code == .slugInvalid, "\(slug)")
                #expect(error?.httpStatus == 422)
            }
            let reserved = await catalogError { try await f.makeSite("admin") }
            #expect(reserved?.message.contains("reserved") == true)
            let preview = await catalogError { try await f.makeSite("my--site") }
            #expect(preview?.message.contains("--") == true)
            #expect(try await f.catalog.sites().isEmpty)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func takenSlugIsRefusedOnCreateAndOnRename(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            try await f.makeSite("blog")
            let shop = try await f.makeSite("shop")
            let onCreate = await catalogError { try await f.makeSite("blog") }
            #expect(onCreate?.code == .slugTaken)
            #expect(onCreate?.message.contains("'blog'") == true)
            #expect(onCreate?.httpStatus == 409)
            let onRename = await catalogError { try await f.catalog.updateSite(id: shop.id) { $0.slug = "blog" } }
            #expect(onRename?.code == .slugTaken)
            #expect(try await f.catalog.site(id: shop.id).slug == "shop")
            #expect(try await f.catalog.sites().count == 2)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func updateChangesSettingsKeepsIdentityAndPublishesTheSite(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            var events = await f.subscribe()
            f.clock.advance(by: .seconds(60))
            let updated = try await f.catalog.updateSite(id: site.id) { settings in
                settings.slug = "journal"
                settings.branch = "release"
                settings.outputDir = "dist"
                settings.spa = .static
                settings.env = [BuildVariable(name: "NODE_ENV", value: "production")]
            }
            #expect(updated.id == site.id)
            #expect(
                updated.slug == "journal" && updated.branch == "release" && updated.outputDir == "dist"
                    && updated.spa == .static)
            #expect(updated.env == [BuildVariable(name: "NODE_ENV", value: "production")])
            #expect(updated.createdAt == site.createdAt)
            #expect(updated.updatedAt == f.clock.now)
            #expect(try await f.catalog.site(slug: "journal") == updated)
            #expect(await catalogError { try await f.catalog.site(slug: "blog") }?.code == .siteNotFound)

            // Emptying an optional text field clears it.
            let cleared = try await f.catalog.updateSite(id: site.id) { $0.outputDir = "" }
            #expect(cleared.outputDir == nil)

            let sentinel = CatalogEvent.siteDeleted(site)
            f.bus.publish(sentinel)
            let seen = await drain(&events, until: sentinel)
            #expect(seen == [.value(.siteUpdated(updated)), .value(.siteUpdated(cleared))])
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func invalidUpdatesAreRefusedWithNothingChanged(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let edits: [(String, @Sendable (inout SiteSettings) -> Void)] = [
                ("slug", { $0.slug = "Not Valid" }),
                // (Empty is a deployment without a repository, deployed by uploads.)
                ("repoUrl", { $0.repoURL = "-oProxyCommand=x" }),
                ("repoUrl", { $0.repoURL = "https://example.com/a b" }),
                ("branch", { $0.branch = "--upload-pack=x" }),
                ("rootDir", { $0.rootDir = "../etc" }),
                ("outputDir", { $0.outputDir = "/var/www" }),
                ("buildCommand", { $0.buildCommand = "npm run build\u{0}" }),
                ("env", { $0.env = [BuildVariable(name: "1BAD", value: "x")] }),
                ("env", { $0.env = [BuildVariable(name: "A", value: "1"), BuildVariable(name: "A", value: "2")] }),
                (
                    "env",
                    {
                        $0.env = [
                            BuildVariable(
                                name: "BIG",
                                value: String(repeating: "x", count: SiteSettings.maxVariableValueLength + 1))
                        ]
                    }
                ),
                ("env", { $0.env = (0...SiteSettings.maxVariables).map { BuildVariable(name: "V\($0)", value: "x") } }),
            ]
            for (field, edit) in edits {
                // Set a valid field too: a refused update must not keep it.
                let error = await catalogError {
                    try await f.catalog.updateSite(id: site.id) { settings in
                        settings.installCommand = "npm ci"
                        edit(&settings)
                    }
                }
                #expect(error?.code == .invalidInput || error?.code == .slugInvalid, "\(field)")
                #expect(
                    error?.message.contains(field) == true || error?.code == .slugInvalid, "\(error?.message ?? "")")
            }
            #expect(try await f.catalog.site(id: site.id) == site)
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func sitesAreListedBySlug(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            for slug in ["zeta", "alpha", "mid"] { try await f.makeSite(slug) }
            #expect(try await f.catalog.sites().map(\.slug) == ["alpha", "mid", "zeta"])
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func deletingASiteRemovesItsBuildsInTheSameTransaction(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let site = try await f.makeSite("blog")
            let other = try await f.makeSite("shop")
            let done = try await f.makeSuccessfulBuild(of: site)
            _ = try await f.catalog.activate(siteID: site.id, buildID: done.id, allowOlder: false)
            let queued = try await f.catalog.createBuild(siteID: site.id, BuildRequest())
            let kept = try await f.catalog.createBuild(siteID: other.id, BuildRequest())

            let deletion = try await f.catalog.deleteSite(id: site.id)
            #expect(deletion.site.id == site.id)
            #expect(Set(deletion.builds.map(\.id)) == [done.id, queued.id])
            #expect(await catalogError { try await f.catalog.site(id: site.id) }?.code == .siteNotFound)
            #expect(await catalogError { try await f.catalog.build(id: done.id) }?.code == .buildNotFound)
            #expect(await catalogError { try await f.catalog.build(id: queued.id) }?.code == .buildNotFound)
            #expect(try await f.catalog.build(id: kept.id) == kept)
            #expect(try await f.catalog.stats().queueDepth == 1)
            // The slug is free again.
            #expect(try await f.makeSite("blog").slug == "blog")
        }
    }

    @Test(arguments: CatalogUnderTest.all)
    func unknownSiteIdsAndSlugsAreTypedNotFoundErrors(_ implementation: CatalogUnderTest) async throws {
        try await implementation.withFixture { f in
            let unknown = SiteID.generate()
            for error in [
                await catalogError { try await f.catalog.site(id: unknown) },
                await catalogError { try await f.catalog.site(slug: "nope") },
                await catalogError { try await f.catalog.updateSite(id: unknown) { $0.branch = "dev" } },
                await catalogError { try await f.catalog.deleteSite(id: unknown) },
                await catalogError { try await f.catalog.createBuild(siteID: unknown, BuildRequest()) },
                await catalogError { try await f.catalog.builds(siteID: unknown) },
            ] {
                #expect(error?.code == .siteNotFound)
                #expect(error?.httpStatus == 404)
            }
        }
    }
}
