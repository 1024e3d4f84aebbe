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

    @Test func noProcessABuildStartsOutlivesIt() async throws {
        let marker = "1000.\(UInt32.random(in: 1...UInt32.max))"
        try await BuilderHarness.with(runner: .local) { harness in
            // A background job, a redirected one, one in its own session, one in a
            // double fork; started by the install step and by the build step.
            let detach =
                "sleep \(marker) & nohup sleep \(marker) >/dev/null 2>&1 & setsid sleep \(marker) & (sh -c 'sleep \(marker) &' &)"
            let site = try await harness.site(
                repository: try await harness.repository("static-site"), install: detach,
                build: detach + "; echo started")
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            #expect(try await harness.storedLog(build).contains("started"))
            // The supervisor has killed them when its step ended; give the kill a moment to land.
            var survivors = LocalPipelineTests.processes(withArgument: marker)
            for _ in 0..<50 where !survivors.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                survivors = LocalPipelineTests.processes(withArgument: marker)
            }
            #expect(survivors.isEmpty, "processes outlived the build: \(survivors)")
            for pid in survivors { kill(pid, SIGKILL) }
        }
    }

    @Test func aLocalBuildCannotReadTheServersSecrets() async throws {
        try #require(getuid() == 0, "Slipway runs as root here and in CI")
        try await BuilderHarness.with(runner: .local) { harness in
            let data = harness.configuration.dataDirectory
            let probe = [
                "echo \"uid: $(id -u)\"",
                "cat /proc/$SERVER_PID/environ >/dev/null 2>&1 && echo 'environ: read' || echo 'environ: denied'",
                "ls \"$DATA_DIR\" >/dev/null 2>&1 && echo 'data listing: read' || echo 'data listing: denied'",
                "cat \"$DATA_DIR/catalog.sqlite\" >/dev/null 2>&1 && echo 'catalog: read' || echo 'catalog: denied'",
                "cat \"$DATA_DIR/catalog.sqlite-wal\" >/dev/null 2>&1 && echo 'wal: read' || echo 'wal: denied'",
            ].joined(separator: "; ")
            let site = try await harness.site(
                repository: try await harness.repository("static-site"), install: "true", build: probe,
                env: [
                    BuildVariable(name: "SERVER_PID", value: String(getpid()), secret: false),
                    BuildVariable(name: "DATA_DIR", value: data, secret: false),
                ])
            #expect(FileManager.default.isReadableFile(atPath: data + "/catalog.sqlite"), "the probe needs the file")
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            let log = try await harness.storedLog(build)
            let uid = log.split(separator: "\n").compactMap { line -> String? in
                guard let range = line.range(of: " stdout uid: ") else { return nil }
                return String(line[range.upperBound...])
            }
            #expect(uid.count == 1 && uid.first != "0", "the build ran as uid \(uid)")
            // (The command itself is in the log too: only the output lines count.)
            for read in ["environ", "data listing", "catalog", "wal"] {
                #expect(log.contains(" stdout \(read): denied"), "the build could read: \(read)")
                #expect(!log.contains(" stdout \(read): read"), "the build could read: \(read)")
            }
        }
    }

    /// The live processes with `argument` in their command line.
    static func processes(withArgument argument: String) -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline")
            else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            // A zombie has an empty command line: it is dead.
            return arguments.contains(argument) ? pid : nil
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
