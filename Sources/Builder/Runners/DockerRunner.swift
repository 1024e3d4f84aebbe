import Crypto
import Foundation
public import Logging
import Model
import NIOCore
import Storage
import Synchronization

/// Runs builds in containers through the Docker Engine API.
///
/// Per build: make sure the image is present (pulled with progress lines
/// when missing), create one container, start it, stream its output
/// (demultiplexing stdout and stderr), wait for it, remove it. The
/// container runs as the build user (never root) with every capability
/// dropped, `no-new-privileges`, memory (no extra swap), CPU and pids
/// limits, the configured network mode, and only three bind mounts: the
/// checkout at `/workspace`, a home directory and the site's dependency
/// cache at `/cache`. The engine's socket is never mounted.
///
/// A timeout or a cancel kills the container; the container is removed
/// whatever happens. A container also stops itself at its deadline, the
/// timeout plus ``BuilderConfiguration/containerDeadlineMargin`` after its
/// start, when no builder is left to stop it (``StepDriver``). Containers
/// carry labels (``BuildContainerLabels``): the build, the attempt, the site,
/// the installation that started them (derived from the data directory) and
/// the absolute deadline, so that ``removeAbandoned(leaseGrace:lookup:)``, run
/// by every builder's sweep, removes the containers of any installation on
/// the engine whose deadline passed or whose build's lease lapsed
/// (``ContainerReaper``).
public final class DockerRunner: BuildRunner {
    public var name: String { "docker" }
    public var runsAsBuildUser: Bool { true }

    static let managedLabel = BuildContainerLabels.managed
    static let buildLabel = BuildContainerLabels.build
    static let attemptLabel = BuildContainerLabels.attempt
    static let siteLabel = BuildContainerLabels.site
    static let installationLabel = BuildContainerLabels.installation
    static let deadlineLabel = BuildContainerLabels.deadline
    /// Longest an image pull may take.
    static let pullTimeout: Duration = .seconds(600)

    let configuration: BuilderConfiguration
    let client: DockerEngineClient
    /// Identifies this installation's containers (its data directory).
    let installation: String
    private let logger: Logger
    /// Container removals still running, by container id.
    private let removals = LockedDictionary()

    /// - Throws: ``BuildError`` when `DOCKER_HOST` is not a unix socket.
    public init(configuration: BuilderConfiguration, logger: Logger = Logger(label: "slipway.builder.docker"))
        throws(BuildError)
    {
        self.configuration = configuration
        self.client = DockerEngineClient(socketPath: try configuration.dockerSocketPath())
        self.logger = logger
        let directory = URL(fileURLWithPath: configuration.dataDirectory).standardized.path
        self.installation = SHA256.hash(data: Array(directory.utf8)).prefix(8).map { String(format: "%02x", $0) }
            .joined()
    }

    /// Whether the engine answers.
    public func isEngineReachable() async -> Bool {
        await client.ping()
    }

    /// Waits for pending container removals, then closes the connections.
    public func shutdown() async {
        let pending = removals.withLock { Array($0.values) }
        for task in pending { await task.value }
        await client.shutdown()
    }

    public func run(_ job: RunJob, log: BuildLog) async throws -> RunReport {
        let clock = ContinuousClock()
        let start = clock.now
        try await ensureImage(configuration.image, log: log)
        let driver = StepDriver()
        let name = "slipway-\(job.buildID)-\(job.attempt)"
        let spec = containerSpec(for: job, driver: driver)
        let id = try await createContainer(name: name, spec: spec)
        log.system(
            "container \(id.prefix(12)) (\(configuration.image), user \(job.user), memory \(ByteCount.format(configuration.memoryBytes)), \(configuration.cpus) CPUs, \(configuration.pidsLimit) pids, network \(configuration.networkMode))"
        )
        let outcome: Result<[Duration], any Error>
        do {
            outcome = .success(try await runContainer(id, job: job, driver: driver, log: log))
        } catch {
            outcome = .failure(error)
        }
        // Removal runs outside this task's cancellation, so it happens even
        // for a cancelled build. A container that exited cleanly holds
        // nothing the build still needs: it is removed while publishing
        // starts (``shutdown()`` waits for it). Otherwise (a kill, a failure)
        // the removal is awaited, so the container is gone when the build ends.
        let removal = removeInBackground(id)
        switch outcome {
        case .success(let durations):
            return RunReport(stepDurations: durations, totalDuration: clock.now - start)
        case .failure(let error):
            await removal.value
            throw error
        }
    }

    /// Removes a container in a task of its own, tracked until done.
    private func removeInBackground(_ id: String) -> Task<Void, Never> {
        let client = self.client
        let logger = self.logger
        let removals = self.removals
        let task = Task {
            do {
                try await client.removeContainer(id)
            } catch {
                logger.warning("could not remove build container \(id): \(error)")
            }
        }
        removals.withLock { $0[id] = task }
        // Forget the task once done (registered first, so this always finds it).
        Task {
            await task.value
            removals.withLock { _ = $0.removeValue(forKey: id) }
        }
        return task
    }

    // MARK: Steps

    private func ensureImage(_ image: String, log: BuildLog) async throws {
        if try await client.imageExists(image) { return }
        log.system("pulling the build image \(image)")
        let lastStatus = Mutex<[String: String]>([:])
        let client = self.client
        try await withTimeout(
            Self.pullTimeout,
            error: BuildError.imageUnavailable(
                "pulling the build image \(image) took longer than \(DurationText.format(Self.pullTimeout)); check the engine's network access",
                transient: true)
        ) {
            try await client.pullImage(image) { item in
                guard let status = item.status else { return }
                // Byte-level progress comes many times a second; log each layer's state changes only.
                let key = item.id ?? ""
                let changed = lastStatus.withLock { seen in
                    defer { seen[key] = status }
                    return seen[key] != status
                }
                if changed { log.system("pull: \(item.id.map { "\($0): " } ?? "")\(status)") }
            }
        }
        log.system("pulled \(image)")
    }

    private func createContainer(name: String, spec: ContainerSpec) async throws -> String {
        if let id = try await client.createContainer(name: name, spec) { return id }
        // Left by a crashed attempt with the same number: it runs nothing anyone owns.
        try await client.removeContainer(name)
        if let id = try await client.createContainer(name: name, spec) { return id }
        throw BuildError.engineUnavailable(
            "a container named \(name) keeps reappearing; remove it with `docker rm -f \(name)`")
    }

    /// The container of `job`, created at `created` (its deadline counts from then).
    func containerSpec(for job: RunJob, driver: StepDriver, created: Date = Date()) -> ContainerSpec {
        var environment = [
            "HOME": ContainerPaths.home,
            "npm_config_cache": ContainerPaths.cache + "/npm",
            "XDG_CACHE_HOME": ContainerPaths.cache + "/xdg",
        ]
        for (key, value) in job.environment { environment[key] = value }
        let workingDirectory =
            job.projectPath.isEmpty ? ContainerPaths.workspace : ContainerPaths.workspace + "/" + job.projectPath
        let margin = configuration.containerDeadlineMargin
        let labels = BuildContainerLabels(
            buildID: job.buildID, attempt: job.attempt, siteID: job.siteID, installation: installation,
            deadline: BuildContainerLabels.deadline(created: created, timeout: job.timeout, margin: margin))
        return ContainerSpec(
            image: configuration.image,
            command: driver.command(
                for: job.steps,
                lifetimeSeconds: BuildContainerLabels.lifetimeSeconds(timeout: job.timeout, margin: margin)),
            environment: environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
            workingDirectory: workingDirectory,
            user: "\(job.user.uid):\(job.user.gid)",
            labels: labels.labels,
            hostConfig: HostConfig(
                mounts: [
                    Mount(source: job.checkoutDirectory, target: ContainerPaths.workspace, readOnly: false),
                    Mount(source: job.homeDirectory, target: ContainerPaths.home, readOnly: false),
                    Mount(source: job.cacheDirectory, target: ContainerPaths.cache, readOnly: false),
                ],
                memoryBytes: configuration.memoryBytes,
                nanoCPUs: Int64((configuration.cpus * 1e9).rounded()),
                pidsLimit: Int64(configuration.pidsLimit),
                networkMode: configuration.networkMode,
                logMaxSize: "\(max(1, configuration.maxLogBytes >> 20) * 2)m"
            )
        )
    }

    private enum Event: Sendable {
        case exited(Int32)
        case logsEnded
        case timedOut
        case graceOver
        case failed(any Error)
    }

    /// Starts the container and follows it to its end; returns the step durations.
    private func runContainer(_ id: String, job: RunJob, driver: StepDriver, log: BuildLog) async throws -> [Duration] {
        let tracker = StepTracker()
        let clock = ContinuousClock()
        let client = self.client
        try await client.startContainer(id)
        let maxLineBytes = configuration.maxLogLineBytes
        let steps = job.steps

        let exitCode: Int32? = try await withThrowingTaskGroup(of: Event.self) { group in
            group.addTask {
                do {
                    try await Self.followOutput(
                        id, client: client, driver: driver, tracker: tracker, steps: steps, maxLineBytes: maxLineBytes,
                        log: log)
                } catch is CancellationError {
                } catch {
                    log.system("warning: the build's output stream broke off: \(error)")
                }
                return .logsEnded
            }
            group.addTask {
                do { return .exited(try await client.waitContainer(id)) } catch { return .failed(error) }
            }
            group.addTask {
                do { try await Task.sleep(for: job.timeout) } catch { return .graceOver }
                return .timedOut
            }
            var exitCode: Int32?
            var logsEnded = false
            while let event = try await group.next() {
                switch event {
                case .exited(let code):
                    exitCode = code
                    if logsEnded {
                        group.cancelAll()
                        return code
                    }
                    // The output stream ends right after the container; do not wait forever for it.
                    group.addTask {
                        do { try await Task.sleep(for: .seconds(5)) } catch {}
                        return .graceOver
                    }
                case .logsEnded:
                    logsEnded = true
                    if let exitCode {
                        group.cancelAll()
                        return exitCode
                    }
                case .graceOver:
                    if exitCode != nil {
                        group.cancelAll()
                        return exitCode
                    }
                case .timedOut:
                    group.cancelAll()
                    try await client.killContainer(id)
                    return nil
                case .failed(let error):
                    group.cancelAll()
                    throw error
                }
            }
            // Only reachable when the task was cancelled before any event.
            throw CancellationError()
        }
        try Task.checkCancellation()
        let durations = tracker.durations(steps: steps.count, until: clock.now)
        guard let exitCode else {
            log.system("the build reached its \(DurationText.format(job.timeout)) limit; the container was killed")
            throw BuildError.timedOut(after: job.timeout)
        }
        let state = try await client.inspectContainer(id)
        let stepIndex = tracker.failedStep ?? tracker.currentStep
        let step = stepIndex.flatMap { $0 >= 1 && $0 <= steps.count ? steps[$0 - 1] : nil }
        if state.oomKilled {
            log.system(
                "the \(step?.name ?? "build") command ran out of memory (\(ByteCount.format(configuration.memoryBytes)) limit) and was killed"
            )
            throw BuildError.outOfMemory(step: step?.name, limitBytes: configuration.memoryBytes)
        }
        guard exitCode == 0 else {
            let failed = step ?? steps.last ?? RunStep(name: "build", command: "")
            throw BuildError.commandFailed(step: failed.name, command: failed.command, exitCode: exitCode)
        }
        return durations
    }

    /// Demultiplexes the container's output into log lines, turning step
    /// markers into Slipway's own lines.
    private static func followOutput(
        _ id: String, client: DockerEngineClient, driver: StepDriver, tracker: StepTracker, steps: [RunStep],
        maxLineBytes: Int, log: BuildLog
    ) async throws {
        var demuxer = DockerLogDemuxer()
        var stdout = LineAssembler(maxLineBytes: maxLineBytes)
        var stderr = LineAssembler(maxLineBytes: maxLineBytes)
        func handle(_ line: String, _ stream: LogLine.Stream) {
            guard stream == .stderr else {
                log.output(line, stream: stream)
                return
            }
            let (text, marker) = driver.parse(line)
            if let text { log.output(text, stream: .stderr) }
            guard let marker else { return }
            let duration = tracker.record(marker)
            switch marker {
            case .start(let index) where index >= 1 && index <= steps.count:
                log.system("running the \(steps[index - 1].name) command: \(steps[index - 1].command)")
            case .end(let index, let status) where index >= 1 && index <= steps.count:
                let took = duration.map { " in \(DurationText.format($0))" } ?? ""
                log.system(
                    status == 0
                        ? "the \(steps[index - 1].name) command finished\(took)"
                        : "the \(steps[index - 1].name) command exited with status \(status)\(took)")
            default:
                break
            }
        }
        try await client.followLogs(id) { buffer in
            let chunks: [DockerLogDemuxer.Chunk]
            do {
                chunks = try buffer.withUnsafeReadableBytes { raw in try demuxer.feed(raw) }
            } catch {
                throw BuildError.engineUnavailable("the build's output stream is malformed: \(error)")
            }
            for chunk in chunks {
                switch chunk.stream {
                case .stdout: for line in stdout.append(chunk.bytes) { handle(line, .stdout) }
                case .stderr: for line in stderr.append(chunk.bytes) { handle(line, .stderr) }
                case .stdin: break
                }
            }
        }
        if let line = stdout.finish() { handle(line, .stdout) }
        if let line = stderr.finish() { handle(line, .stderr) }
    }

    // MARK: Clean-up

    public func removeAbandoned(
        leaseGrace: Duration, lookup: @escaping @Sendable (String, Int) async -> AttemptLookup
    ) async {
        let containers: [ContainerSummary]
        do {
            // Every installation's: a builder that died for good leaves its containers to the others.
            containers = try await client.containers(withLabel: "\(Self.managedLabel)=true")
        } catch {
            logger.debug("cannot list build containers: \(error)")
            return
        }
        for container in containers {
            guard let labels = BuildContainerLabels(container.labels) else { continue }
            let attempt = await lookup(labels.buildID, labels.attempt)
            let decision = ContainerReaper.decide(
                labels, ownInstallation: installation, attempt: attempt, now: Date(), leaseGrace: leaseGrace)
            guard case .remove(let why) = decision else { continue }
            let metadata: Logger.Metadata = [
                "container": "\(container.id.prefix(12))", "build": "\(labels.buildID)",
                "attempt": "\(labels.attempt)", "installation": "\(labels.installation)", "reason": "\(why)",
            ]
            do {
                try await client.removeContainer(container.id)
                logger.notice("removed an abandoned build container", metadata: metadata)
            } catch {
                logger.warning(
                    "cannot remove an abandoned build container",
                    metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
        }
    }
}

/// Container removals in flight.
final class LockedDictionary: Sendable {
    private let storage = Mutex<[String: Task<Void, Never>]>([:])
    func withLock<T>(_ body: (inout [String: Task<Void, Never>]) -> T) -> T { storage.withLock { body(&$0) } }
}
