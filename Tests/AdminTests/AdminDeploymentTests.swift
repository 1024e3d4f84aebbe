import AsyncHTTPClient
import Foundation
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Admin

@Suite struct AdminDeploymentTests {
    @Test func createListGetAndUpdateNeverReturnSecretValues() async throws {
        try await AdminTestServer.run { server in
            let create = try await server.request(
                .POST, "/api/deployments",
                body: #"""
                    {"slug": "blog", "repoUrl": "https://github.com/example/blog.git", "branch": "trunk", "buildCommand": "npm run build",
                     "spa": "spa", "env": [{"name": "API_URL", "value": "https://api.test"}, {"name": "TOKEN", "value": "s3cr3t-value", "secret": true}]}
                    """#)
            #expect(create.status == 201, "\(create.body)")
            #expect(!create.body.contains("s3cr3t-value"))
            let deployment = try #require(try create.json["deployment"] as? [String: Any])
            #expect(deployment["slug"] as? String == "blog")
            #expect(deployment["url"] as? String == "http://blog.apps.test:8080/")
            #expect(deployment["status"] as? String == "building")
            #expect(deployment["branch"] as? String == "trunk")
            #expect(deployment["spa"] as? String == "spa")
            #expect(deployment["activeBuildId"] is NSNull)
            let env = try #require(deployment["env"] as? [[String: Any]])
            #expect(env.count == 2)
            #expect(env[0]["value"] as? String == "https://api.test")
            #expect(env[1]["secret"] as? Bool == true)
            #expect(env[1]["value"] == nil)
            let build = try #require(try create.json["build"] as? [String: Any])
            #expect(build["status"] as? String == "queued")
            #expect(build["number"] as? Int == 1)
            #expect(build["previewUrl"] is NSNull)
            #expect((build["queuedAt"] as? String)?.hasSuffix("Z") == true)
            #expect(server.wakes.count == 1)

            let list = try await server.request(.GET, "/api/deployments")
            #expect(list.status == 200)
            let listed = try #require(try list.json["deployments"] as? [[String: Any]])
            #expect(listed.map { $0["slug"] as? String } == ["blog"])
            #expect(!list.body.contains("s3cr3t-value"))

            // Keep the secret by leaving out its value, rename, clear a command, rebuild.
            let patch = try await server.request(
                .PATCH, "/api/deployments/blog",
                body: #"""
                    {"slug": "journal", "buildCommand": null, "rebuild": true,
                     "env": [{"name": "TOKEN", "secret": true}, {"name": "MODE", "value": "prod"}]}
                    """#)
            #expect(patch.status == 200, "\(patch.body)")
            #expect(!patch.body.contains("s3cr3t-value"))
            let updated = try patch.json
            #expect(updated["slug"] as? String == "journal")
            #expect(updated["buildCommand"] is NSNull)
            #expect(updated["url"] as? String == "http://journal.apps.test:8080/")
            let stored = try await server.catalog.site(slug: "journal")
            #expect(
                stored.env == [
                    BuildVariable(name: "TOKEN", value: "s3cr3t-value", secret: true),
                    BuildVariable(name: "MODE", value: "prod"),
                ])
            #expect(try await server.catalog.builds(siteID: stored.id).builds.count == 2)

            let keepUnknownSecret = try await server.request(
                .PATCH, "/api/deployments/journal", body: #"{"env": [{"name": "OTHER", "secret": true}]}"#)
            #expect(keepUnknownSecret.status == 422)
            #expect(keepUnknownSecret.errorMessage?.contains("env[0].value") == true)

            let nullSlug = try await server.request(.PATCH, "/api/deployments/journal", body: #"{"slug": null}"#)
            #expect(nullSlug.status == 422)

            let get = try await server.request(.GET, "/api/deployments/journal")
            #expect(get.status == 200)
            #expect(try get.json["id"] as? String == stored.id.rawValue)
            #expect(!get.body.contains("s3cr3t-value"))
        }
    }

    @Test func statusFollowsTheBuildsAndBuildsListNewestFirst() async throws {
        try await AdminTestServer.run { server in
            let (slug, firstID) = try await server.createDeployment(slug: "shop")
            let failed = try await server.runNextBuild(succeeding: false)
            #expect(failed.id == firstID)
            #expect(try await server.request(.GET, "/api/deployments/shop").json["status"] as? String == "failed")

            let trigger = try await server.request(.POST, "/api/deployments/\(slug)/builds")
            #expect(trigger.status == 202)
            #expect(try (trigger.json["build"] as? [String: Any])?["number"] as? Int == 2)
            let success = try await server.runNextBuild()
            let deployment = try await server.request(.GET, "/api/deployments/shop").json
            #expect(deployment["status"] as? String == "live")
            #expect(deployment["activeBuildId"] as? String == success.id.rawValue)

            let builds = try await server.request(.GET, "/api/deployments/shop/builds").json
            let list = try #require(builds["builds"] as? [[String: Any]])
            #expect(list.map { $0["number"] as? Int } == [2, 1])
            #expect(list[0]["previewUrl"] as? String == "http://2--shop.apps.test:8080/")
            #expect(list[0]["fileCount"] as? Int == 2)
            #expect(list[1]["error"] as? String == "npm run build exited with 1")

            let one = try await server.request(.GET, "/api/builds/\(success.id)")
            #expect(try one.json["deploymentId"] as? String == success.siteID.rawValue)
        }
    }

    @Test func cancelStopsAQueuedBuildAndRefusesAFinishedOne() async throws {
        try await AdminTestServer.run { server in
            let (_, buildID) = try await server.createDeployment(slug: "cancel-me")
            let cancel = try await server.request(.POST, "/api/builds/\(buildID)/cancel")
            #expect(cancel.status == 200)
            #expect(try cancel.json["status"] as? String == "canceled")
            let again = try await server.request(.POST, "/api/builds/\(buildID)/cancel")
            #expect(again.status == 409)
            #expect(again.errorCode == "illegal_transition")
        }
    }

    @Test func rollbackGoesToThePreviousSuccessOrTheNamedBuild() async throws {
        try await AdminTestServer.run { server in
            let (slug, _) = try await server.createDeployment(slug: "guides")
            let noActive = try await server.request(.POST, "/api/deployments/\(slug)/rollback")
            #expect(noActive.status == 409)
            #expect(noActive.errorCode == "no_active_build")

            let first = try await server.runNextBuild()
            let onlyOne = try await server.request(.POST, "/api/deployments/\(slug)/rollback", body: "{}")
            #expect(onlyOne.status == 409)
            #expect(onlyOne.errorCode == "no_previous_build")

            _ = try await server.request(.POST, "/api/deployments/\(slug)/builds")
            _ = try await server.runNextBuild(succeeding: false)
            _ = try await server.request(.POST, "/api/deployments/\(slug)/builds")
            let third = try await server.runNextBuild()

            let back = try await server.request(.POST, "/api/deployments/\(slug)/rollback")
            #expect(back.status == 200, "\(back.body)")
            #expect(try back.json["activeBuildId"] as? String == first.id.rawValue)

            let forward = try await server.request(
                .POST, "/api/deployments/\(slug)/rollback", body: #"{"buildId": "\#(third.id)"}"#)
            #expect(forward.status == 200)
            #expect(try forward.json["activeBuildId"] as? String == third.id.rawValue)

            let (_, otherBuild) = try await server.createDeployment(slug: "other")
            let foreign = try await server.request(
                .POST, "/api/deployments/\(slug)/rollback", body: #"{"buildId": "\#(otherBuild)"}"#)
            #expect(foreign.status == 409)
            #expect(foreign.errorCode == "not_activatable")
        }
    }

    @Test func deleteRemovesTheDeploymentAndItsObjects() async throws {
        try await AdminTestServer.run { server in
            let (slug, _) = try await server.createDeployment(slug: "gone")
            let build = try await server.runNextBuild()
            try await server.store.put(build.artifactPrefix + "index.html", body: .string("<h1>hi</h1>"))
            try await server.store.put(build.manifestKey, body: .string("{}"))
            try await server.store.put(build.logKey, body: .string("log\n"))
            let (_, _) = try await server.createDeployment(slug: "kept")
            let kept = try await server.catalog.site(slug: "kept")
            try await server.store.put("sites/\(kept.id)/x/index.html", body: .string("kept"))

            let delete = try await server.request(.DELETE, "/api/deployments/\(slug)")
            #expect(delete.status == 204)
            #expect(try await server.request(.GET, "/api/deployments/\(slug)").status == 404)
            #expect(try await server.request(.GET, "/api/builds/\(build.id)").status == 404)
            for prefix in ["sites/\(build.siteID)/", "manifests/\(build.siteID)/", "logs/\(build.siteID)/"] {
                #expect(try await server.store.listAll(prefix: prefix).isEmpty, "\(prefix)")
            }
            #expect(try await server.store.listAll(prefix: "sites/\(kept.id)/").count == 1)
        }
    }

    @Test func statsReportQueueCountsRunningBuildsAndTheCache() async throws {
        let cache = CacheFigures(hits: 3, misses: 1, bytes: 2048, entries: 2, capacityBytes: 1 << 20)
        try await AdminTestServer.run(cache: cache) { server in
            _ = try await server.createDeployment(slug: "one")
            _ = try await server.createDeployment(slug: "two")
            _ = try #require(try await server.catalog.claimNextBuild(workerID: "w"))
            let stats = try await server.request(.GET, "/api/stats").json
            let builds = try #require(stats["builds"] as? [String: Int])
            #expect(builds["queued"] == 1)
            #expect(builds["building"] == 1)
            #expect(builds["success"] == 0)
            #expect(stats["queueDepth"] as? Int == 1)
            #expect(stats["runningBuilds"] as? Int == 1)
            let figures = try #require(stats["cache"] as? [String: Any])
            #expect(figures["hitRatio"] as? Double == 0.75)
            #expect(figures["bytes"] as? Int == 2048)
        }
    }
}
