import Foundation
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Proxy

extension EndToEnd {
    /// Slipway's own pages over real HTTP: building, failure, not deployed,
    /// unknown site, method not allowed.
    @Suite struct PagesEndToEndTests {
        @Test(arguments: EdgeTransport.allCases) func aSiteWhoseFirstBuildRunsShowsTheBuildingPageThatRefreshesItself(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let site = try await proxy.createSite("fresh")
                let queued = try await proxy.catalog.createBuild(siteID: site.id, BuildRequest())
                try await proxy.waitUntil("the build is known") {
                    proxy.server.siteTable.lookup(slug: "fresh")?.unfinishedBuilds[queued.id] != nil
                }
                let waiting = try await proxy.get("/any/path", slug: "fresh")
                #expect(waiting.status == 503)
                #expect(waiting.header("Cache-Control") == "no-store")
                #expect(waiting.header("Retry-After") == "5")
                #expect(waiting.header("Content-Type") == "text/html; charset=utf-8")
                #expect(waiting.text.contains("<meta http-equiv=\"refresh\""))
                #expect(waiting.text.contains("<code>fresh</code>"))
                #expect(waiting.text.contains("Build #1 · queued"))
                #expect(!waiting.text.contains("/any/path"))

                _ = try await proxy.catalog.claimNextBuild(workerID: "test-worker", leaseDuration: .seconds(600))
                try await proxy.waitUntil("the build is running") {
                    proxy.server.siteTable.lookup(slug: "fresh")?.unfinishedBuilds[queued.id]?.status == .building
                }
                #expect(try await proxy.get("/", slug: "fresh").text.contains("Build #1 · building"))
            }
        }

        @Test(arguments: EdgeTransport.allCases) func aSiteWhoseOnlyBuildFailedShowsTheFailurePage(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let site = try await proxy.createSite("broken")
                let build = try await proxy.startBuild(of: site)
                _ = try await proxy.catalog.finishBuild(
                    buildID: build.id, workerID: "test-worker",
                    result: .failure(message: "npm ERR! <script>", retryable: false))
                try await proxy.waitUntil("the failure is known") {
                    proxy.server.siteTable.lookup(slug: "broken")?.latestFinished?.status == .failed
                }
                let failed = try await proxy.get("/", slug: "broken")
                #expect(failed.status == 503)
                #expect(failed.header("Cache-Control") == "no-store")
                #expect(failed.text.contains("Build #1 of this site failed"))
                #expect(!failed.text.contains("<script>")) // build output never reaches the page

                // A later build that runs shows the building page again; the
                // failed one never changes what is served once a build is live.
                let second = try await proxy.startBuild(of: site)
                try await proxy.waitUntil("build 2 runs") {
                    proxy.server.siteTable.lookup(slug: "broken")?.availability
                        == .building(.init(number: 2, status: .building))
                }
                #expect(try await proxy.get("/", slug: "broken").text.contains("Build #2 · building"))
                _ = try await proxy.succeed(second, with: try proxy.fixture("docs", site: site, build: second))
                _ = try await proxy.catalog.activate(siteID: site.id, buildID: second.id, allowOlder: false)
                try await proxy.waitUntil("build 2 is live") {
                    proxy.server.siteTable.lookup(slug: "broken")?.activeBuildID == second.id
                }
                #expect(try await proxy.get("/", slug: "broken").status == 200)
            }
        }

        @Test(arguments: EdgeTransport.allCases) func aCanceledFirstBuildSaysSo(_ transport: EdgeTransport) async throws
        {
            try await withTestProxy(transport: transport) { proxy in
                let site = try await proxy.createSite("stopped")
                let build = try await proxy.catalog.createBuild(siteID: site.id, BuildRequest())
                _ = try await proxy.catalog.cancelBuild(id: build.id)
                try await proxy.waitUntil("the cancel is known") {
                    proxy.server.siteTable.lookup(slug: "stopped")?.latestFinished?.status == .canceled
                }
                let page = try await proxy.get("/", slug: "stopped")
                #expect(page.status == 503 && page.text.contains("Build #1 of this site was canceled"))
            }
        }

        @Test(arguments: EdgeTransport.allCases) func aSiteWithoutAnyBuildSaysNothingIsDeployed(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.createSite("empty")
                try await proxy.waitUntil("the site is known") { proxy.server.siteTable.lookup(slug: "empty") != nil }
                let page = try await proxy.get("/", slug: "empty")
                #expect(page.status == 503 && page.text.contains("Nothing deployed yet"))
            }
        }

        @Test(arguments: EdgeTransport.allCases) func unknownSitesGetThe404PageWithoutEchoingTheRequest(
            _ transport: EdgeTransport
        ) async throws {
            try await withTestProxy(transport: transport) { proxy in
                let page = try await proxy.request("/%3Cscript%3Ealert(1)%3C/script%3E", host: "nosuch.apps.test")
                #expect(page.status == 404)
                #expect(page.header("Cache-Control") == "no-store")
                #expect(page.header("X-Content-Type-Options") == "nosniff")
                #expect(page.text.contains("No site here"))
                #expect(
                    !page.text.contains("nosuch") && !page.text.contains("script%3E") && !page.text.contains("alert"))
            }
        }

        @Test(arguments: EdgeTransport.allCases) func otherMethodsAre405WithAllow(_ transport: EdgeTransport)
            async throws
        {
            try await withTestProxy(transport: transport) { proxy in
                _ = try await proxy.deploy("docs", as: "manual")
                for method in [HTTPMethod.POST, .PUT, .DELETE, .OPTIONS, .PATCH] {
                    let response = try await proxy.request("/", host: "manual.apps.test", method: method)
                    #expect(response.status == 405, "\(method)")
                    #expect(response.header("Allow") == "GET, HEAD", "\(method)")
                }
            }
        }

        @Test(arguments: EdgeTransport.allCases) func theDeleteOfASiteTakesItOffline(_ transport: EdgeTransport)
            async throws
        {
            try await withTestProxy(transport: transport) { proxy in
                let deployed = try await proxy.deploy("docs", as: "manual")
                _ = try await proxy.catalog.deleteSite(id: deployed.site.id)
                try await proxy.waitUntil("the site is gone") { proxy.server.siteTable.lookup(slug: "manual") == nil }
                #expect(try await proxy.get("/", slug: "manual").status == 404)
            }
        }

        @Test(arguments: EdgeTransport.allCases) func aRenamedSiteAnswersAtItsNewSlugOnly(_ transport: EdgeTransport)
            async throws
        {
            try await withTestProxy(transport: transport) { proxy in
                let deployed = try await proxy.deploy("docs", as: "manual")
                _ = try await proxy.catalog.updateSite(id: deployed.site.id) { $0.slug = "handbook" }
                try await proxy.waitUntil("the new slug is known") {
                    proxy.server.siteTable.lookup(slug: "handbook") != nil
                }
                #expect(try await proxy.get("/", slug: "handbook").status == 200)
                #expect(try await proxy.get("/", slug: "manual").status == 404)
            }
        }
    }
}
