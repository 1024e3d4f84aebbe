import Foundation
import Model
import NIOCore
import Storage
import Testing

@testable import Builder

/// The whole build path with the local runner: real git, real node on the
/// host, the disk store. No Docker needed.
@Suite(.serialized) struct LocalPipelineTests {
    @Test func aSiteWithoutABuildStepIsPublishedAsItIs() async throws {
        try await BuilderHarness.with(runner: .local) { harness in
            let repository = try await harness.repository("static-site")
            let site = try await harness.site(repository: repository)
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            #expect(build.commitSHA == (try await FixtureRepository.head(of: repository)))
            #expect(build.commitMessage == "Add the static-site fixture")
            #expect(build.fileCount == 3)
            let expected = try PublishedBuild.files(in: try FixtureRepository.fixturePath("static-site") + "/public")
            _ = try await PublishedBuild.verify(build, in: harness.store, matches: expected)
            #expect(try await harness.catalog.site(id: site.id).activeBuildID == build.id)
            let log = try await harness.storedLog(build)
            #expect(log.contains("no package.json and no commands configured"))
            #expect(log.contains("build #1 is live"))
        }
    }

    @Test func theSPABuildsWithTheLocalRunnerAndWarnsLoudly() async throws {
        try await BuilderHarness.with(runner: .local) { harness in
            let site = try await harness.site(repository: try await harness.repository("vite-spa"))
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            let reference = try await PublishedBuild.referenceOutput(of: "vite-spa", in: harness.root)
            _ = try await PublishedBuild.verify(
                build, in: harness.store, matches: try PublishedBuild.files(in: reference))
            let log = try await harness.storedLog(build)
            #expect(log.contains(LocalRunner.warning))
            #expect(log.contains("running the install command: npm ci"))
            #expect(log.contains("running the build command: npm run build"))
        }
    }

    @Test func theLocalRunnerKillsTheWholeProcessGroupAtTheTimeout() async throws {
        let marker = NSTemporaryDirectory() + "slipway-orphan-" + UUID().uuidString
        try await BuilderHarness.with(runner: .local, configure: { $0.timeout = .seconds(2) }) { harness in
            // A background child that would outlive its shell if only the shell were killed.
            let site = try await harness.site(
                repository: try await harness.repository("static-site"), install: "true",
                build: "(sleep 4; touch \(marker)) & sleep 60")
            let clock = ContinuousClock()
            let started = clock.now
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .failed)
            #expect(build.error?.contains("ran longer than its 2s limit") == true)
            #expect(clock.now - started < .seconds(30))
            try await Task.sleep(for: .seconds(3))
            #expect(!FileManager.default.fileExists(atPath: marker), "the background child survived the timeout")
        }
    }

    @Test func theLocalRunnerPassesOnlyAScrubbedEnvironment() async throws {
        try await BuilderHarness.with(runner: .local) { harness in
            let site = try await harness.site(
                repository: try await harness.repository("static-site"), install: "true",
                build: "env | sort | sed 's/^/env: /'",
                env: [BuildVariable(name: "DEPLOY_KEY", value: "s3cr3t-value-42", secret: true)])
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            let log = try await harness.storedLog(build)
            let names = log.split(separator: "\n").compactMap { line -> String? in
                guard let range = line.range(of: " stdout env: ") else { return nil }
                return String(line[range.upperBound...].prefix { $0 != "=" })
            }
            #expect(names.contains("DEPLOY_KEY") && names.contains("CI") && names.contains("npm_config_cache"))
            // Exactly what the runner sets (plus what sh adds itself): nothing of this process's environment.
            let allowed: Set<String> = [
                "PATH", "HOME", "TMPDIR", "LANG", "npm_config_cache", "npm_config_update_notifier", "npm_config_fund",
                "npm_config_audit", "XDG_CACHE_HOME", "CI", "SLIPWAY", "SLIPWAY_BUILD_ID", "SLIPWAY_BUILD_NUMBER",
                "SLIPWAY_SITE_SLUG", "SLIPWAY_COMMIT_SHA", "DEPLOY_KEY", "PWD", "SHLVL", "_", "OLDPWD",
            ]
            let leaked = Set(names).subtracting(allowed)
            #expect(leaked.isEmpty, "inherited from Slipway's environment: \(leaked.sorted())")
            #expect(
                ProcessInfo.processInfo.environment.keys.contains { !allowed.contains($0) },
                "the test needs variables to leak")
            #expect(!log.contains("s3cr3t-value-42"))
            #expect(log.contains("env: DEPLOY_KEY=***"))
        }
    }

    @Test func anEmptyOrMissingOutputFailsWithWhatToDo() async throws {
        try await BuilderHarness.with(runner: .local) { harness in
            let repository = try await harness.repository("static-site")
            let empty = try await harness.buildAndWait(
                try await harness.site(
                    repository: repository, outputDir: "site", install: "true", build: "mkdir -p site"))
            #expect(empty.status == .failed)
            #expect(empty.error?.contains("the output directory 'site' holds no files to publish") == true)
            let missing = try await harness.buildAndWait(
                try await harness.site(repository: repository, outputDir: "_site", install: "true", build: "true"))
            #expect(missing.status == .failed)
            #expect(missing.error?.contains("the output directory '_site' does not exist after the build") == true)
            #expect(harness.reports(for: missing.id).last?.error?.code == .outputMissing)
        }
    }

    @Test func deletingASiteDropsItsDependencyCache() async throws {
        try await BuilderHarness.with(runner: .local) { harness in
            let site = try await harness.site(
                repository: try await harness.repository("static-site"), install: "true",
                build: "mkdir -p \"$npm_config_cache\" && echo kept > \"$npm_config_cache/entry\"")
            #expect(try await harness.buildAndWait(site).status == .success)
            let cache = harness.configuration.dependencyCacheDirectory(siteID: site.id.rawValue)
            #expect(FileManager.default.fileExists(atPath: cache + "/npm/entry"))
            _ = try await harness.catalog.deleteSite(id: site.id)
            try await harness.eventually("the cache directory to go") { !FileManager.default.fileExists(atPath: cache) }
        }
    }
}
