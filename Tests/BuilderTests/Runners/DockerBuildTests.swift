import Foundation
import Model
import NIOCore
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
            let cached = try #require(harness.cache.get(BodyCache.key(buildID: build.id.rawValue, path: "index.html")))
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
            try await runner.client.startContainer(id)
            #expect(try await Self.containers(of: orphanBuild, harness: harness).count == 1)
            await harness.pool.sweepOnce()
            #expect(try await Self.containers(of: orphanBuild, harness: harness).isEmpty)
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
