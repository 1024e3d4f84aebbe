import Foundation
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Testing

@testable import Builder

/// Repository checks, retries of infrastructure failures, retention. The
/// builds here need no container (local runner, static files).
@Suite(.serialized) struct QueueBehaviourTests {
    @Test func dangerousRepositoriesAndBranchesAreRejectedBeforeGitRuns() async throws {
        let marker = NSTemporaryDirectory() + "slipway-git-ran-" + UUID().uuidString
        let pwned = NSTemporaryDirectory() + "slipway-upload-pack-" + UUID().uuidString
        let wrapper = NSTemporaryDirectory() + "slipway-git-wrapper-" + UUID().uuidString
        // A git that records every invocation before doing the real work.
        try "#!/bin/sh\necho \"$@\" >> \(marker)\nexec git \"$@\"\n".write(
            toFile: wrapper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper)
        defer { try? FileManager.default.removeItem(atPath: wrapper) }

        try await BuilderHarness.with(
            runner: .local,
            configure: {
                $0.allowLocalRepositories = false
                $0.gitExecutable = wrapper
            }
        ) { harness in
            let repository = try await harness.repository("static-site")
            let cases: [(url: String, branch: String, expected: String)] = [
                ("file:///etc", "main", "local repositories ('file:///etc') are disabled"),
                (repository, "main", "local repositories"),
                ("ext::sh -c id", "main", "unsupported repository URL"),
                ("ext::id", "main", "unsupported repository URL"),
                ("ssh://-oProxyCommand=x/y", "main", "unsupported repository URL"),
                ("-u", "main", "may not start with '-'"),
                ("https://github.com/acme/site.git", "--upload-pack=touch \(pwned)", "may not start with '-'"),
            ]
            for (url, branch, expected) in cases {
                let site: Site
                do {
                    site = try await harness.site(repository: url, branch: branch)
                } catch let error as CatalogError where error.code == .invalidInput {
                    // The catalog refuses whitespace and control characters itself: rejected before git too.
                    continue
                }
                let build = try await harness.buildAndWait(site)
                #expect(build.status == .failed, "\(url) \(branch)")
                // Never retried: a rejection is final (an attempt whose lease
                // lapsed on a starved machine may come before it).
                #expect(!harness.reports(for: build.id).contains { $0.outcome == .retrying }, "\(url)")
                #expect(build.error?.contains(expected) == true, "\(url): \(build.error ?? "")")
                #expect(harness.reports(for: build.id).last?.error?.code == .repositoryRejected)
            }
            #expect(!FileManager.default.fileExists(atPath: marker), "git ran for a rejected repository")
            #expect(!FileManager.default.fileExists(atPath: pwned))
        }
        // The same wrapper does run for an allowed repository: the check above can fail.
        try await BuilderHarness.with(runner: .local, configure: { $0.gitExecutable = wrapper }) { harness in
            let build = try await harness.buildAndWait(
                try await harness.site(repository: try await harness.repository("static-site")))
            #expect(build.status == .success)
            #expect(FileManager.default.fileExists(atPath: marker))
        }
        try? FileManager.default.removeItem(atPath: marker)
    }

    @Test func theRepositoryTokenNeverReachesTheLogOrTheError() async throws {
        try await BuilderHarness.with(runner: .local) { harness in
            // Nothing listens on port 9: git fails fast with the URL in its message.
            let site = try await harness.site(
                repository: "https://127.0.0.1:9/acme/site.git", repoToken: "deployer:gh-pat-9f8e7d")
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .failed)
            #expect(build.attempt == 3, "a connection failure is retried: \(build.error ?? "")")
            #expect(build.error?.contains("gh-pat-9f8e7d") == false)
            #expect(build.error?.contains("https://127.0.0.1:9/acme/site.git") == true)
            let log = try await harness.storedLog(build)
            #expect(!log.contains("gh-pat-9f8e7d") && !log.contains("deployer:"))
            #expect(
                log.contains("attempt 1 of 3") && log.contains("attempt 3 of 3"), "the stored log covers every attempt")
        }
    }

    @Test func anUnreachableEngineIsRetriedThenFailsWithTheReason() async throws {
        try await BuilderHarness.with(runner: .docker, configure: { $0.dockerHost = "unix:///nonexistent/docker.sock" })
        { harness in
            let build = try await harness.buildAndWait(
                try await harness.site(repository: try await harness.repository("vite-spa")))
            #expect(build.status == .failed)
            #expect(build.attempt == 3)
            #expect(build.error?.contains("did not answer") == true)
            #expect(build.error?.contains("gave up after 3 attempts") == true)
            #expect(harness.reports(for: build.id).map(\.outcome) == [.retrying, .retrying, .failed])
        }
    }

    @Test func transientStoreErrorsAreRetriedAndTheBuildSucceeds() async throws {
        let root = NSTemporaryDirectory() + "slipway-flaky-" + UUID().uuidString
        let flaky = FlakyStore(base: try DiskObjectStore(root: root, durable: false), failuresPerKey: 2)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await BuilderHarness.with(runner: .local, store: flaky) { harness in
            let build = try await harness.buildAndWait(
                try await harness.site(repository: try await harness.repository("static-site")))
            #expect(build.status == .success, "\(build.error ?? "")")
            #expect(build.attempt == 1)
            #expect(flaky.failures > 0)
            let expected = try PublishedBuild.files(in: try FixtureRepository.fixturePath("static-site") + "/public")
            _ = try await PublishedBuild.verify(build, in: flaky, matches: expected)
        }
    }

    @Test func aStoreThatKeepsFailingFailsTheAttemptAndLeavesTheLiveBuild() async throws {
        let root = NSTemporaryDirectory() + "slipway-flaky-" + UUID().uuidString
        let flaky = FlakyStore(base: try DiskObjectStore(root: root, durable: false), failuresPerKey: 0)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await BuilderHarness.with(runner: .local, store: flaky) { harness in
            let site = try await harness.site(repository: try await harness.repository("static-site"))
            let good = try await harness.buildAndWait(site)
            #expect(good.status == .success)
            flaky.failEverything(true)
            let bad = try await harness.buildAndWait(site)
            #expect(bad.status == .failed)
            #expect(bad.attempt == 3)
            #expect(bad.error?.contains("server_error") == true || bad.error?.contains("answered 503") == true)
            #expect(try await harness.catalog.site(id: site.id).activeBuildID == good.id)
            flaky.failEverything(false)
            #expect(try await harness.store.listAll(prefix: bad.artifactPrefix).isEmpty)
        }
    }

    @Test func anExpiredLeaseOfAVanishedWorkerIsSweptBackIntoTheQueue() async throws {
        let harness = try BuilderHarness(runner: .local)
        let site = try await harness.site(repository: "https://example.com/acme/site.git")
        let queued = try await harness.catalog.createBuild(siteID: site.id, BuildRequest())
        let claimed = try #require(
            try await harness.catalog.claimNextBuild(workerID: "dead-worker", leaseDuration: .seconds(1)))
        #expect(claimed.id == queued.id)
        try await Task.sleep(for: .milliseconds(1200))
        await harness.pool.sweepOnce()
        let requeued = try await harness.catalog.build(id: queued.id)
        #expect(requeued.status == .queued && requeued.attempt == 2 && requeued.leaseOwner == nil)
        #expect(requeued.error?.contains("the lease of worker 'dead-worker' expired") == true)
        await harness.tearDown()
    }

    @Test func shuttingDownGivesTheRunningBuildBackToTheQueue() async throws {
        let harness = try BuilderHarness(runner: .local)
        try harness.pool.start()
        let marker = harness.root + "/still-running"
        let site = try await harness.site(
            repository: try await harness.repository("static-site"), install: "true",
            build: "echo started; sleep 5; touch \(marker)")
        let queued = try await harness.catalog.createBuild(siteID: site.id, BuildRequest())
        try await harness.waitForLogLine(queued.id, containing: "started")
        await harness.pool.shutdown()
        let released = try await harness.catalog.build(id: queued.id)
        #expect(released.status == .queued && released.attempt == 1 && released.leaseOwner == nil)
        #expect(harness.reports(for: queued.id).map(\.outcome) == [.released])
        #expect(
            try await harness.storedLog(released).contains(
                "Slipway is shutting down: the build was stopped and queued again"))
        try await Task.sleep(for: .seconds(6))
        #expect(!FileManager.default.fileExists(atPath: marker), "the build command outlived the shutdown")
        #expect(try FileSystem.entries(of: harness.configuration.workspacesDirectory).isEmpty)
        await harness.tearDown()
    }

    @Test func buildsFallingOutOfTheWindowLoseTheirObjects() async throws {
        try await BuilderHarness.with(runner: .local, configure: { $0.keepSuccessfulBuilds = 2 }) { harness in
            let site = try await harness.site(repository: try await harness.repository("static-site"))
            var builds: [Build] = []
            for _ in 0..<3 { builds.append(try await harness.buildAndWait(site)) }
            #expect(builds.allSatisfy { $0.status == .success })
            #expect(try await harness.catalog.site(id: site.id).activeBuildID == builds[2].id)
            #expect(try await harness.store.listAll(prefix: builds[0].artifactPrefix).isEmpty)
            await #expect(throws: ObjectStoreError.self) { try await harness.store.head(builds[0].manifestKey) }
            await #expect(throws: CatalogError.self) { try await harness.catalog.build(id: builds[0].id) }
            for kept in builds[1...] {
                let manifest = try await harness.manifest(kept)
                let objects = manifest.files.count + manifest.files.values.reduce(0) { $0 + $1.variants.count }
                #expect(objects == 3)
                // Stored by content: each file and variant is its blob, all there.
                #expect(manifest.blobDigests.count == objects)
                for digest in manifest.blobDigests {
                    _ = try await harness.store.head(ContentAddress.key(sha256: digest))
                }
                _ = try await harness.storedLog(kept)
            }
        }
    }

    @Test func retentionNeverTouchesTheActiveBuildNorNewerFailures() async throws {
        try await BuilderHarness.with(runner: .local) { harness in
            let site = try await harness.site(repository: "https://example.com/acme/site.git")
            // Builds recorded straight in the catalog, each with an object, a manifest and a log.
            func finish(_ result: BuildResult) async throws -> Build {
                let queued = try await harness.catalog.createBuild(siteID: site.id, BuildRequest())
                let claimed = try #require(try await harness.catalog.claimNextBuild(workerID: "retention-test"))
                #expect(claimed.id == queued.id)
                let build = try await harness.catalog.finishBuild(
                    buildID: claimed.id, workerID: "retention-test", result: result)
                try await harness.store.put(build.artifactPrefix + "index.html", body: .string("build \(build.number)"))
                try await harness.store.put(build.manifestKey, body: .string("{}"))
                try await harness.store.put(build.logKey, body: .string("log"))
                return build
            }
            await harness.pool.shutdown()
            let oldFailure = try await finish(.failure(message: "broken", retryable: false))
            let rolledBack = try await finish(.success(fileCount: 1, bytes: 7))
            let superseded = try await finish(.success(fileCount: 1, bytes: 7))
            let newest = try await finish(.success(fileCount: 1, bytes: 7))
            let newFailure = try await finish(.failure(message: "broken again", retryable: false))
            _ = try await harness.catalog.activate(siteID: site.id, buildID: newest.id, allowOlder: false)
            _ = try await harness.catalog.activate(siteID: site.id, buildID: rolledBack.id, allowOlder: true)

            await Retention(catalog: harness.catalog, store: harness.store, keep: 1, logger: BuilderHarness.logger)
                .apply(siteID: site.id, log: nil)

            for gone in [oldFailure, superseded] {
                #expect(try await harness.store.listAll(prefix: gone.artifactPrefix).isEmpty)
                await #expect(throws: ObjectStoreError.self) { try await harness.store.head(gone.logKey) }
                await #expect(throws: CatalogError.self) { try await harness.catalog.build(id: gone.id) }
            }
            for kept in [rolledBack, newest, newFailure] {
                #expect(
                    try await harness.store.listAll(prefix: kept.artifactPrefix).count == 1, "build #\(kept.number)")
                _ = try await harness.store.head(kept.manifestKey)
                _ = try await harness.catalog.build(id: kept.id)
            }
            #expect(try await harness.catalog.site(id: site.id).activeBuildID == rolledBack.id)
        }
    }
}

/// An object store that answers 503 to the first puts of each key (or to
/// everything), to inject the store failures that must be retried.
final class FlakyStore: WrappingStore {
    let base: any ObjectStore
    let failuresPerKey: Int
    private let state = Locked<(attempts: [String: Int], failures: Int, failAll: Bool)>(([:], 0, false))

    init(base: any ObjectStore, failuresPerKey: Int) {
        self.base = base
        self.failuresPerKey = failuresPerKey
    }

    var failures: Int { state.withLock { $0.failures } }

    func failEverything(_ value: Bool) { state.withLock { $0.failAll = value } }

    func put(_ key: String, body: ObjectBody, options: PutOptions) async throws -> ObjectInfo {
        let fail = state.withLock { state -> Bool in
            let attempt = state.attempts[key, default: 0] + 1
            state.attempts[key] = attempt
            let fail = state.failAll || attempt <= failuresPerKey
            if fail { state.failures += 1 }
            return fail
        }
        if fail {
            throw ObjectStoreError(code: .serverError, message: "the store answered 503 for \(key)", status: 503)
        }
        return try await base.put(key, body: body, options: options)
    }
}
