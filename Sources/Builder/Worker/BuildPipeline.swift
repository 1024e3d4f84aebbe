import Foundation
import Logging
import Model
import NIOCore
import Storage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What one successful attempt did and how long each part took.
public struct BuildTimings: Sendable, Hashable {
    public var checkout: Duration = .zero
    /// From asking the runner to run to its return (setup and teardown included).
    public var run: Duration = .zero
    /// The install and build commands' own time.
    public var commands: Duration = .zero
    /// Output scan, hashing, compression and upload, manifest included.
    public var publish: Duration = .zero
    /// Finishing the build and switching the site in the catalog.
    public var activate: Duration = .zero
    /// The whole attempt, workspace to activation.
    public var total: Duration = .zero

    public init() {}
}

/// The build path, step by step, for one claimed build.
///
/// 1. **Workspace** — a fresh directory (the worker removes it afterwards).
/// 2. **Checkout** — validate the repository URL and branch, `git clone`
///    (a private repository's access token handed to git alone, through a
///    credential helper), record the commit.
/// 3. **Project root** — the site's root directory, else the shallowest
///    `package.json`, else the checkout.
/// 4. **Run** — install, then build, through the ``BuildRunner``, with the
///    site's variables and its persistent dependency cache.
/// 5. **Output** — the output directory, scanned and checked.
/// 6. **Publish** — every file (and its gzip variant) stored, the manifest last.
/// 7. **Activate** — the build succeeds and becomes the site's active build
///    in the catalog; its small HTML files go into the body cache.
/// 8. **Retention** — objects of builds outside the keep-last-N window are deleted.
///
/// Any step may throw ``BuildError`` (or a catalog error saying the build
/// was canceled or the lease lost); the worker turns it into the build's end.
struct BuildPipeline: Sendable {
    var configuration: BuilderConfiguration
    var catalog: any Catalog
    var store: any ObjectStore
    var cache: BodyCache?
    var runner: any BuildRunner
    var workerID: String
    var logger: Logger
    /// What the activation retries wait on.
    var clock: any Clock<Duration> = ContinuousClock()

    struct Success: Sendable {
        var build: Build
        var result: PublishResult
        var timings: BuildTimings
    }

    func run(_ build: Build, site: Site, workspace: Workspace, log: BuildLog) async throws -> Success {
        let clock = ContinuousClock()
        let started = clock.now
        var timings = BuildTimings()

        // 2. Checkout: the repository, or the files of a source upload.
        let commit: CheckedOutCommit
        if let upload = try await sourceUpload(of: build) {
            commit = try await UploadedSource(
                store: store, catalog: catalog, concurrency: configuration.uploadConcurrency
            ).materialize(upload, into: workspace.checkout, log: log)
        } else {
            commit = try await clone(site, build: build, workspace: workspace, log: log)
        }
        timings.checkout = clock.now - started

        // 3. Project root
        guard let checkoutPath = FileSystem.realPath(workspace.checkout) else {
            throw BuildError.workspaceFailed("the checkout at \(workspace.checkout) vanished")
        }
        let rootDirectory = site.rootDir
        let project = try await FileSystem.offload {
            try ProjectLocator().locate(checkout: checkoutPath, rootDirectory: rootDirectory)
        }
        log.system("project root: \(project.relativePath.isEmpty ? "the repository root" : project.relativePath)")

        // 4. Run
        let steps = commands(for: site, project: project)
        if steps.isEmpty {
            log.system("no package.json and no commands configured: publishing the files as they are")
        } else {
            let job = try await prepareJob(
                build: build, site: site, commit: commit, project: project, steps: steps, workspace: workspace)
            let runStarted = clock.now
            let report = try await runner.run(job, log: log)
            timings.run = clock.now - runStarted
            timings.commands = report.commandDuration
        }

        // 5. Output
        let publishStarted = clock.now
        let outputDirectory = site.outputDir
        let scanner = OutputScanner(maxFiles: configuration.maxOutputFiles, maxBytes: configuration.maxOutputBytes)
        let (output, scan) = try await FileSystem.offload {
            let output = try OutputLocator().locate(root: project.absolutePath, outputDirectory: outputDirectory)
            return (output, try scanner.scan(output.absolute, shownAs: output.relative))
        }
        for note in scan.notes { log.system(note) }
        guard !scan.files.isEmpty else {
            throw BuildError.outputMissing(
                "the output directory '\(output.relative)' holds no files to publish; check that the build command writes its files there"
            )
        }
        log.system("output: \(output.relative) with \(scan.files.count) files (\(ByteCount.format(scan.totalBytes)))")

        // 6. Publish
        let publisher = Publisher(
            uploader: Uploader(
                store: store, attempts: configuration.uploadAttempts, backoff: configuration.uploadBackoff),
            catalog: catalog, concurrency: configuration.uploadConcurrency, scratchDirectory: workspace.scratch,
            warmMaxFileBytes: configuration.warmCacheMaxFileBytes, warmMaxBytes: configuration.warmCacheMaxBytes)
        let published = try await publisher.publish(
            scan, siteID: build.siteID.rawValue, buildID: build.id.rawValue, log: log)
        timings.publish = clock.now - publishStarted
        log.system(
            "published \(published.fileCount) files (\(ByteCount.format(published.bytes)), \(published.variantCount) gzip variants): \(published.objectCount) objects stored, \(published.reusedCount) already stored, in \(DurationText.format(timings.publish))"
        )

        // 7. Activate: the build succeeds and the pointer flips in one
        // transaction, so a builder killed now leaves nothing half-done.
        let activateStarted = clock.now
        let (finished, activation) = try await catalog.finishBuild(
            buildID: build.id, workerID: workerID,
            result: .success(fileCount: published.fileCount, bytes: published.bytes), activate: true)
        let outcome = activation ?? .alreadyActive
        timings.activate = clock.now - activateStarted
        switch outcome {
        case .activated, .alreadyActive:
            log.system("build #\(build.number) is live")
            warmCache(with: published, buildID: build.id.rawValue)
        case .skippedOlder(let active):
            log.system(
                "build #\(build.number) succeeded but a newer build (\(active)) is already live; it stays available as a preview"
            )
        }
        timings.total = clock.now - started

        // 8. Retention (never fails the build).
        await Retention(catalog: catalog, store: store, keep: configuration.keepSuccessfulBuilds, logger: logger)
            .apply(siteID: build.siteID, log: log)
        return Success(build: finished, result: published, timings: timings)
    }

    /// The source upload this build builds, if it is one.
    private func sourceUpload(of build: Build) async throws -> Upload? {
        do {
            return try await catalog.sourceUpload(buildID: build.id)
        } catch let error as CatalogError {
            throw BuildError.catalogFailed(
                "looking up the build's source failed: \(error.message)", transient: error.code == .unavailable)
        }
    }

    /// Clones the site's repository into the workspace and records the commit.
    private func clone(_ site: Site, build: Build, workspace: Workspace, log: BuildLog) async throws
        -> CheckedOutCommit
    {
        guard !site.repoURL.isEmpty else {
            throw BuildError.projectInvalid(
                "the deployment has no repository, so there is nothing to build; publish a folder with `slipway deploy --dir`, or set its repoUrl"
            )
        }
        let source: RepositorySource
        do {
            source = try RepositorySource(
                url: site.repoURL, branch: site.branch, allowLocal: configuration.allowLocalRepositories)
        } catch {
            throw BuildError.repositoryRejected(error)
        }
        let checkout = GitCheckout(
            gitExecutable: configuration.gitExecutable, timeout: configuration.cloneTimeout,
            allowLocal: configuration.allowLocalRepositories, maxLineBytes: configuration.maxLogLineBytes,
            caFile: configuration.gitCAFile)
        // Read now, handed to git alone: never kept on the build, never in
        // the job's environment below.
        let token = try await catalog.repoToken(siteID: build.siteID)
        let commit = try await checkout.clone(
            source, token: token, into: workspace.checkout, home: workspace.gitHome, log: log)
        _ = try await catalog.recordCommit(
            buildID: build.id, workerID: workerID, sha: commit.sha, message: commit.subject)
        log.system("checked out \(commit.sha.prefix(12)) \(log.sanitize(commit.subject))")
        return commit
    }

    /// Install then build; the defaults apply only to npm projects.
    func commands(for site: Site, project: ProjectLocator.Project) -> [RunStep] {
        let install =
            site.installCommand
            ?? (project.hasPackageJSON
                ? (project.hasLockfile ? configuration.defaultInstallWithLockfile : configuration.defaultInstall) : nil)
        let build = site.buildCommand ?? (project.hasPackageJSON ? configuration.defaultBuild : nil)
        return [
            install.map { RunStep(name: "install", command: $0) }, build.map { RunStep(name: "build", command: $0) },
        ]
        .compactMap { $0 }
    }

    /// The runner's job: directories handed to the build user, variables merged.
    private func prepareJob(
        build: Build, site: Site, commit: CheckedOutCommit, project: ProjectLocator.Project, steps: [RunStep],
        workspace: Workspace
    ) async throws -> RunJob {
        let cacheDirectory = configuration.dependencyCacheDirectory(siteID: build.siteID.rawValue)
        let user = buildUser()
        let giveToBuildUser = runner.runsAsBuildUser
        try await FileSystem.offload {
            try FileSystem.makeDirectory(cacheDirectory, mode: 0o700)
            if giveToBuildUser {
                // The container runs as the build user: it must own what it writes to.
                try FileSystem.changeOwner(workspace.checkout, uid: user.uid, gid: user.gid)
                try FileSystem.changeOwner(workspace.home, uid: user.uid, gid: user.gid)
                try FileSystem.changeOwner(workspace.temporary, uid: user.uid, gid: user.gid)
                try FileSystem.changeOwnerUnlessOwned(cacheDirectory, uid: user.uid, gid: user.gid)
            }
        }
        var environment: [String: String] = [
            "CI": "true",
            "SLIPWAY": "true",
            "SLIPWAY_BUILD_ID": build.id.rawValue,
            "SLIPWAY_BUILD_NUMBER": String(build.number),
            "SLIPWAY_SITE_SLUG": site.slug,
            "SLIPWAY_COMMIT_SHA": commit.sha,
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
        ]
        for variable in site.env { environment[variable.name] = variable.value }
        return RunJob(
            siteID: build.siteID.rawValue, buildID: build.id.rawValue, attempt: build.attempt, steps: steps,
            checkoutDirectory: workspace.checkout, projectPath: project.relativePath, homeDirectory: workspace.home,
            temporaryDirectory: workspace.temporary, cacheDirectory: cacheDirectory, environment: environment,
            user: giveToBuildUser ? user : BuilderConfiguration.BuildUser(uid: getuid(), gid: getgid()),
            timeout: configuration.timeout)
    }

    /// The configured build user, else Slipway's own user unless that is root.
    func buildUser() -> BuilderConfiguration.BuildUser {
        if let configured = configuration.buildUser { return configured }
        let uid = getuid()
        return uid == 0
            ? BuilderConfiguration.defaultRootBuildUser : BuilderConfiguration.BuildUser(uid: uid, gid: getgid())
    }

    /// Puts the build's small HTML files into the body cache.
    private func warmCache(with published: PublishResult, buildID: String) {
        guard let cache else { return }
        for entry in published.warmEntries {
            cache.put(
                BodyCache.key(objectKey: entry.identityKey), ByteBuffer(bytes: entry.identity),
                cost: entry.identity.count)
            if let gzip = entry.gzip, let gzipKey = entry.gzipKey {
                cache.put(BodyCache.key(objectKey: gzipKey), ByteBuffer(bytes: gzip), cost: gzip.count)
            }
        }
    }
}
