import Foundation
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Testing

@testable import Builder

#if canImport(Glibc)
    import Glibc
#endif

/// Builds in real containers on the Docker engine `scripts/test` starts,
/// from real git repositories, published to the disk store.
@Suite(
    .serialized,
    .enabled(
        if: TestDocker.shouldRun,
        "needs a Docker engine and SLIPWAY_TEST_BUILD_IMAGE: run scripts/test, or scripts/docker-engine.sh start and export SLIPWAY_TEST_BUILD_IMAGE=$(scripts/docker-test-image.sh)"
    )
)
struct DockerBuildTests {
    /// Containers of a build still known to the engine.
    static func containers(of build: BuildID, harness: BuilderHarness) async throws -> [ContainerSummary] {
        let client = DockerEngineClient(socketPath: TestDocker.socketPath)
        defer { Task { await client.shutdown() } }
        return try await client.containers(withLabel: "\(DockerRunner.buildLabel)=\(build.rawValue)")
    }

    @Test func theSPAIsBuiltInAContainerAndPublishedByteForByte() async throws {
        try await BuilderHarness.with(runner: .docker) { harness in
            let site = try await harness.site(repository: try await harness.repository("vite-spa"))
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            #expect(build.fileCount == 5)

            let reference = try await PublishedBuild.referenceOutput(of: "vite-spa", in: harness.root)
            let manifest = try await PublishedBuild.verify(
                build, in: harness.store, matches: try PublishedBuild.files(in: reference))
            let script = try #require(
                manifest.files.keys.first { $0.hasPrefix("assets/index-") && $0.hasSuffix(".js") })
            #expect(manifest.files[script]?.immutable == true)
            #expect(manifest.files[script]?.variants["gzip"] != nil)
            #expect(manifest.files["index.html"]?.immutable == false)
            #expect(manifest.files["favicon.svg"]?.contentType == "image/svg+xml")
            // _redirects: three valid rules, one invalid line reported; _headers: a forbidden header reported.
            #expect(manifest.redirects.map(\.status) == [301, 302, 200])
            #expect(manifest.redirects.last?.to == "/index.html")
            #expect(manifest.headers.count == 2)
            #expect(manifest.headers.last?.operations.map(\.name) == ["Cache-Control"])

            let log = try await harness.storedLog(build)
            #expect(log.contains("_redirects line 4"))
            #expect(log.contains("'Content-Length' cannot be set from _headers"))
            #expect(log.contains("running the install command: npm ci"))
            #expect(log.contains("> node build.mjs"))
            #expect(log.contains("built 7 files"))
            #expect(!log.contains("::slipway-"), "step markers must not reach the log")

            // Live: the site points at the build, one activation event, HTML in the cache, no container left.
            #expect(try await harness.catalog.site(id: site.id).activeBuildID == build.id)
            #expect(harness.activations(of: build.id).count == 1)
            let cached = try #require(
                harness.cache.get(BodyCache.key(objectKey: manifest.objectKey(for: "index.html"))))
            #expect(cached.readableBytes == Int(manifest.files["index.html"]!.size))
            try await harness.eventually("the container to be removed") {
                try await Self.containers(of: build.id, harness: harness).isEmpty
            }
            #expect(try FileSystem.entries(of: harness.configuration.workspacesDirectory).isEmpty)
            let timings = try #require(harness.reports(for: build.id).last?.timings)
            #expect(timings.commands > .zero && timings.commands < timings.total)
        }
    }

    @Test func theBuildRunsAsANonRootUserWithoutCapabilitiesOrTheDockerSocket() async throws {
        try await BuilderHarness.with(runner: .docker) { harness in
            let site = try await harness.site(
                repository: try await harness.repository("probe"),
                env: [
                    BuildVariable(name: "API_TOKEN", value: "tok_live_8f2b9c1d", secret: true),
                    BuildVariable(name: "GREETING", value: "hello from the site settings"),
                ])
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            let manifest = try await harness.manifest(build)
            let report =
                try JSONSerialization.jsonObject(
                    with: Data(
                        try await harness.store.getBytes(manifest.objectKey(for: "report.json")).readableBytesView))
                as? [String: Any]
            let uid = try #require(report?["uid"] as? Int)
            #expect(uid != 0)
            // Slipway's own user, or the default build user when Slipway runs as root.
            #expect(uid == (getuid() == 0 ? Int(BuilderConfiguration.defaultRootBuildUser.uid) : Int(getuid())))
            #expect(report?["dockerSocket"] as? Bool == false)
            #expect(report?["capEff"] as? String == "0000000000000000")
            #expect(
                report?["capBnd"] as? String == "0000000000000000",
                "every capability is dropped, even from the bounding set")
            #expect(report?["noNewPrivs"] as? String == "1")
            #expect((report?["storeKeysVisible"] as? [Any])?.isEmpty == true)
            #expect(report?["npmCache"] as? String == "/cache/npm")
            #expect(report?["ci"] as? String == "true")

            let log = try await harness.storedLog(build)
            #expect(log.contains("uid=\(uid)"))
            #expect(log.contains("docker.sock present: false"))
            #expect(log.contains("the api token is ***"))
            #expect(!log.contains("tok_live_8f2b9c1d"))
            #expect(log.contains("public greeting: hello from the site settings"))
            for line in await harness.liveLog(build.id) { #expect(!line.text.contains("tok_live_8f2b9c1d")) }
        }
    }

    @Test func theDependencyCacheIsKeptPerSiteBetweenBuilds() async throws {
        try await BuilderHarness.with(runner: .docker) { harness in
            let site = try await harness.site(repository: try await harness.repository("probe"))
            let first = try await harness.buildAndWait(site)
            let second = try await harness.buildAndWait(site)
            #expect(first.status == .success && second.status == .success)
            #expect(try await harness.storedLog(first).contains("cache runs: 1"))
            #expect(try await harness.storedLog(second).contains("cache runs: 2"))
            // Another site starts with an empty cache.
            let other = try await harness.site(repository: try await harness.repository("probe"))
            #expect(try await harness.storedLog(try await harness.buildAndWait(other)).contains("cache runs: 1"))
        }
    }

    @Test func aFailingBuildCommandFailsAtOnceWithItsStatusAndTheLiveBuildStays() async throws {
        try await BuilderHarness.with(runner: .docker) { harness in
            let good = try await harness.buildAndWait(
                try await harness.site(repository: try await harness.repository("vite-spa")))
            #expect(good.status == .success)
            let siteID = good.siteID
            let broken = try await harness.repository("failing-build")
            _ = try await harness.catalog.updateSite(id: siteID) { $0.repoURL = broken }
            let failed = try await harness.buildAndWait(try await harness.catalog.site(id: siteID))
            #expect(failed.status == .failed)
            #expect(failed.attempt == 1, "a failing command is not retried")
            #expect(failed.error?.contains("the build command `npm run build` exited with status 3") == true)
            let report = try #require(harness.reports(for: failed.id).last)
            #expect(report.error?.code == .commandFailed && report.error?.exitCode == 3)
            #expect(try await harness.catalog.site(id: siteID).activeBuildID == good.id)
            let log = try await harness.storedLog(failed)
            #expect(log.contains("stderr error: Could not resolve \"./missing-module\""))
            #expect(log.contains("the build command exited with status 3"))
            #expect(try await harness.store.listAll(prefix: failed.artifactPrefix).isEmpty)
            #expect(try await Self.containers(of: failed.id, harness: harness).isEmpty)
        }
    }

    @Test func aBuildPastItsTimeoutIsKilledAndReportedAsATimeout() async throws {
        try await BuilderHarness.with(runner: .docker, configure: { $0.timeout = .seconds(4) }) { harness in
            let site = try await harness.site(
                repository: try await harness.repository("slow-build"),
                env: [BuildVariable(name: "SLEEP_SECONDS", value: "600")])
            let clock = ContinuousClock()
            let started = clock.now
            let build = try await harness.buildAndWait(site)
            #expect(clock.now - started < .seconds(60))
            #expect(build.status == .failed)
            #expect(build.error?.contains("ran longer than its 4s limit and was killed") == true)
            #expect(harness.reports(for: build.id).last?.error?.code == .timedOut)
            #expect(try await Self.containers(of: build.id, harness: harness).isEmpty)
            #expect(try await harness.catalog.site(id: site.id).activeBuildID == nil)
        }
    }

    @Test func aBuildOverItsMemoryLimitIsReportedAsOutOfMemory() async throws {
        try await BuilderHarness.with(runner: .docker, configure: { $0.memoryBytes = 96 << 20 }) { harness in
            let site = try await harness.site(repository: try await harness.repository("memory-hog"))
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .failed)
            #expect(
                build.error?.contains("the build command ran out of memory: it used the whole 96 MiB limit") == true)
            let report = try #require(harness.reports(for: build.id).last)
            #expect(report.error?.code == .outOfMemory)
            #expect(try await Self.containers(of: build.id, harness: harness).isEmpty)
        }
    }

    @Test func cancelingMidBuildKillsTheContainerAndActivatesNothing() async throws {
        try await BuilderHarness.with(runner: .docker) { harness in
            let site = try await harness.site(repository: try await harness.repository("slow-build"))
            let queued = try await harness.catalog.createBuild(siteID: site.id, BuildRequest())
            // Wait until the command runs in its container.
            try await harness.waitForLogLine(queued.id, containing: "working for 600s")
            #expect(try await Self.containers(of: queued.id, harness: harness).count == 1)
            let clock = ContinuousClock()
            let canceledAt = clock.now
            _ = try await harness.catalog.cancelBuild(id: queued.id)
            try await harness.eventually("the worker to let go of the canceled build") {
                harness.reports(for: queued.id).last?.outcome == .canceled
            }
            #expect(clock.now - canceledAt < .seconds(15))
            let build = try await harness.catalog.build(id: queued.id)
            #expect(build.status == .canceled && build.leaseOwner == nil)
            #expect(try await Self.containers(of: queued.id, harness: harness).isEmpty)
            #expect(try await harness.catalog.site(id: site.id).activeBuildID == nil)
            #expect(harness.activations(of: queued.id).isEmpty)
            #expect(try await harness.storedLog(build).contains("build canceled; nothing was activated"))
        }
    }

    @Test func aSymlinkOutOfTheOutputFailsTheBuild() async throws {
        try await BuilderHarness.with(runner: .docker) { harness in
            let build = try await harness.buildAndWait(
                try await harness.site(repository: try await harness.repository("symlink-escape")))
            #expect(build.status == .failed)
            #expect(build.error?.contains("dist/x is a symlink that leaves the output directory") == true)
            #expect(harness.reports(for: build.id).last?.error?.code == .outputRejected)
            #expect(try await harness.store.listAll(prefix: build.artifactPrefix).isEmpty)
        }
    }

    @Test func aLogFloodIsCutInTheStoredLogAndTheBuildGoesOn() async throws {
        try await BuilderHarness.with(runner: .docker, configure: { $0.maxLogBytes = 1 << 20 }) { harness in
            let build = try await harness.buildAndWait(
                try await harness.site(repository: try await harness.repository("log-flood")))
            #expect(build.status == .success, "\(build.error ?? "")")
            let info = try await harness.store.head(build.logKey)
            #expect(info.size <= (1 << 20) + 4096)
            let log = try await harness.storedLog(build)
            #expect(log.contains("the log reached its 1 MiB limit here"))
            #expect(log.contains("more lines were left out of the stored log"))
            #expect(harness.reports(for: build.id).last?.outcome == .succeeded)
        }
    }

    @Test func containersOfAttemptsNobodyRunsAreRemoved() async throws {
        try await BuilderHarness.with(runner: .docker) { harness in
            // A container as a crashed Slipway leaves it: labelled, running, its build long gone.
            let runner = try #require(harness.runner as? DockerRunner)
            let orphanBuild = BuildID.generate()
            var spec = runner.containerSpec(
                for: RunJob(
                    siteID: SiteID.generate().rawValue, buildID: orphanBuild.rawValue, attempt: 1,
                    steps: [RunStep(name: "build", command: "sleep 600")], checkoutDirectory: harness.root,
                    projectPath: "", homeDirectory: harness.root, temporaryDirectory: harness.root,
                    cacheDirectory: harness.root,
                    environment: [:], user: .init(uid: 10_000, gid: 10_000), timeout: .seconds(600)),
                driver: StepDriver())
            spec.hostConfig.mounts = []
            let id = try #require(try await runner.client.createContainer(name: "slipway-orphan-\(orphanBuild)", spec))
            // The pool's background sweep may find the orphan between its creation and its start,
            // and remove it first: the engine then refuses the start, and the orphan is gone as wanted.
            if (try? await runner.client.startContainer(id)) != nil {
                await harness.pool.sweepOnce()
            }
            // The pool's own sweep may be removing it at the same moment (the engine then refuses the second removal).
            try await harness.eventually("the orphan container to be removed") {
                try await Self.containers(of: orphanBuild, harness: harness).isEmpty
            }
        }
    }
}

extension DockerBuildTests {
    @Test func aMissingImageIsPulledAndAPullFailureIsReported() async throws {
        let image = "slipway-test-missing-\(UUID().uuidString.prefix(8).lowercased()):1"
        try await BuilderHarness.with(runner: .docker, configure: { $0.image = image }) { harness in
            let build = try await harness.buildAndWait(
                try await harness.site(repository: try await harness.repository("vite-spa")))
            #expect(build.status == .failed)
            #expect(
                build.error?.contains("the build image \(image)") == true
                    || build.error?.contains("pulling the build image \(image)") == true,
                "\(build.error ?? "")")
            #expect(harness.reports(for: build.id).last?.error?.code == .imageUnavailable)
            #expect(try await harness.storedLog(build).contains("pulling the build image \(image)"))
        }
    }
}

/// Containers carry their own deadline, and any builder on the engine
/// removes the containers whose deadline passed or whose build's lease
/// lapsed, whichever installation started them.
extension DockerBuildTests {
    /// A container for `build` made by `runner` as a build would make it,
    /// sleeping for ten minutes; started unless `start` is false.
    static func container(
        of build: Build, runner: DockerRunner, root: String, timeout: Duration = .seconds(600), start: Bool = true
    ) async throws -> String {
        var spec = runner.containerSpec(
            for: RunJob(
                siteID: build.siteID.rawValue, buildID: build.id.rawValue, attempt: build.attempt,
                steps: [RunStep(name: "build", command: "sleep 600 & setsid sleep 600 & sleep 600")],
                checkoutDirectory: root, projectPath: "", homeDirectory: root, temporaryDirectory: root,
                cacheDirectory: root, environment: [:], user: .init(uid: 10_000, gid: 10_000), timeout: timeout),
            driver: StepDriver())
        spec.hostConfig.mounts = []
        let id = try #require(
            try await runner.client.createContainer(name: "slipway-\(build.id)-\(build.attempt)", spec))
        if start { try await runner.client.startContainer(id) }
        return id
    }

    @Test func aContainerKillsItsBuildAtItsDeadlineWithNoBuilderWatching() async throws {
        try await BuilderHarness.with(runner: .docker, configure: { $0.containerDeadlineMargin = .seconds(1) }) {
            harness in
            let runner = try #require(harness.runner as? DockerRunner)
            await harness.pool.shutdown()
            let site = try await harness.site(repository: "https://example.com/acme/deadline.git")
            _ = try await harness.catalog.createBuild(siteID: site.id, BuildRequest())
            let build = try #require(
                try await harness.catalog.claimNextBuild(workerID: "gone-w1", leaseDuration: .seconds(600)))
            let id = try await Self.container(of: build, runner: runner, root: harness.root, timeout: .seconds(2))
            let labels = try #require(
                try await Self.containers(of: build.id, harness: harness).first.flatMap {
                    BuildContainerLabels($0.labels)
                })
            #expect(labels.attempt == build.attempt && labels.installation == runner.installation)
            let deadline = try #require(labels.deadline)
            #expect(abs(Double(deadline) - Date().timeIntervalSince1970 - 3) <= 2)
            // Nobody follows, kills or removes it: it ends by itself, setsid'd processes and all.
            let status = try await withTimeout(.seconds(60), error: TestFailure("the container outlived its deadline"))
            {
                try await runner.client.waitContainer(id)
            }
            #expect(status == 137)
            try await runner.client.removeContainer(id)
        }
    }

    @Test func anyBuilderRemovesContainersOfLapsedLeasesAndPastDeadlinesOfAnyInstallation() async throws {
        try await BuilderHarness.with(runner: .docker) { harness in
            let own = try #require(harness.runner as? DockerRunner)
            // Claims only by the test from here; the sweep is run by hand.
            await harness.pool.shutdown()
            var otherConfiguration = harness.configuration
            otherConfiguration.dataDirectory = harness.root + "/another-builder"
            otherConfiguration.containerDeadlineMargin = .zero
            let other = try DockerRunner(configuration: otherConfiguration, logger: BuilderHarness.logger)
            defer { Task { await other.shutdown() } }
            #expect(other.installation != own.installation)

            func claimed(_ name: String) async throws -> Build {
                let site = try await harness.site(repository: "https://example.com/acme/\(name).git")
                _ = try await harness.catalog.createBuild(siteID: site.id, BuildRequest())
                return try #require(
                    try await harness.catalog.claimNextBuild(workerID: "\(name)-w1", leaseDuration: .seconds(600)))
            }
            // Given back by its (other) builder (below, once every build is claimed): its container must go.
            let released = try await claimed("released")
            _ = try await Self.container(of: released, runner: other, root: harness.root)
            // Running on the other builder with a live lease: kept.
            let live = try await claimed("live")
            _ = try await Self.container(of: live, runner: other, root: harness.root)
            // A live lease too, but the container's deadline (1 s after its creation) passes.
            let late = try await claimed("late")
            _ = try await Self.container(
                of: late, runner: other, root: harness.root, timeout: .seconds(1), start: false)
            // Not in this catalog at all: another catalog's, perhaps; kept until its deadline.
            let stranger = try await claimed("stranger")
            _ = try await Self.container(of: stranger, runner: other, root: harness.root)
            _ = try await harness.catalog.finishBuild(
                buildID: stranger.id, workerID: "stranger-w1", result: .failure(message: "x", retryable: false))
            _ = try await harness.catalog.deleteBuild(id: stranger.id)
            _ = try await harness.catalog.releaseBuild(buildID: released.id, workerID: "released-w1")
            try await Task.sleep(for: .seconds(2.5))

            await harness.pool.sweepOnce()
            #expect(try await Self.containers(of: released.id, harness: harness).isEmpty)
            #expect(try await Self.containers(of: late.id, harness: harness).isEmpty)
            #expect(try await Self.containers(of: live.id, harness: harness).count == 1)
            #expect(try await Self.containers(of: stranger.id, harness: harness).count == 1)

            for build in [live, stranger] {
                for container in try await Self.containers(of: build.id, harness: harness) {
                    try await other.client.removeContainer(container.id)
                }
            }
        }
    }
}
