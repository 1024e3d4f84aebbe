import Foundation

/// Everything the build engine needs to know, as a typed value.
///
/// The `slipway` executable fills it from the config file and the
/// environment (`SLIPWAY_BUILD_*`, `SLIPWAY_ALLOW_LOCAL_REPOS`,
/// `DOCKER_HOST`); this module never reads the environment itself. Every
/// field has the default `docs/interface.md` documents.
public struct BuilderConfiguration: Sendable, Hashable {
    /// Which ``BuildRunner`` runs the install and build commands.
    public enum RunnerKind: String, Sendable, Hashable, CaseIterable {
        /// Docker when an engine answers, else the local runner with a loud
        /// warning where ``RunnerSelection`` is allowed to fall back to it.
        case auto
        /// Always the Docker engine; builds fail (and retry) while it is unreachable.
        case docker
        /// Always a local `sh -c` (development only).
        case local
    }

    /// The user and group build commands run as.
    public struct BuildUser: Sendable, Hashable, CustomStringConvertible {
        public var uid: UInt32
        public var gid: UInt32
        public init(uid: UInt32, gid: UInt32) {
            self.uid = uid
            self.gid = gid
        }
        public var description: String { "\(uid):\(gid)" }
    }

    /// Slipway's data directory: workspaces live in `<dataDirectory>/workspaces`,
    /// dependency caches in `<dataDirectory>/cache/npm/<siteId>`.
    public var dataDirectory: String
    /// `SLIPWAY_BUILD_RUNNER`.
    public var runner: RunnerKind
    /// `SLIPWAY_BUILD_IMAGE`: the image builds run in, pulled when missing.
    public var image: String
    /// `SLIPWAY_BUILD_CONCURRENCY`: builds run at once by this process.
    public var concurrency: Int
    /// `SLIPWAY_BUILD_TIMEOUT`: wall-clock limit of the install and build
    /// commands together; the container is killed at the limit.
    public var timeout: Duration
    /// `SLIPWAY_BUILD_MEMORY`: memory limit of the build container, in bytes (swap included).
    public var memoryBytes: Int64
    /// `SLIPWAY_BUILD_CPUS`: CPU limit of the build container.
    public var cpus: Double
    /// `SLIPWAY_BUILD_PIDS`: most processes and threads in the build container.
    public var pidsLimit: Int
    /// The container's network mode (`bridge`, `none`, a user-defined network).
    /// Builds usually need the network to download dependencies.
    public var networkMode: String
    /// `DOCKER_HOST`: only `unix://` sockets are supported.
    public var dockerHost: String
    /// `SLIPWAY_ALLOW_LOCAL_REPOS`: accept `file://` URLs and absolute paths
    /// (development and tests only).
    public var allowLocalRepositories: Bool
    /// The `git` executable (a name looked up in `PATH`, or a path).
    public var gitExecutable: String
    /// Limit of one `git clone`.
    public var cloneTimeout: Duration
    /// `SLIPWAY_GIT_CA_FILE`: a PEM bundle of the certificate authorities
    /// git trusts for https repositories, instead of the system's (git's
    /// `http.sslCAInfo`), for git hosts with a private CA. Nil: the system's.
    public var gitCAFile: String?
    /// Who build commands run as. Nil: the owner of the workspace, i.e.
    /// Slipway's own user, or ``defaultRootBuildUser`` when Slipway runs as
    /// root (builds never run as root).
    public var buildUser: BuildUser?
    /// The executable whose hidden `supervise` subcommand (``BuildSupervisor``)
    /// is the parent of every local build command: by default this process's
    /// own executable (`/proc/self/exe`).
    public var supervisorExecutable: String
    /// Most files a build may publish.
    public var maxOutputFiles: Int
    /// Most bytes a build may publish (variants not counted).
    public var maxOutputBytes: Int64
    /// Most bytes of the persisted log; the rest is cut with a note.
    public var maxLogBytes: Int
    /// Longest log line kept whole.
    public var maxLogLineBytes: Int
    /// Objects uploaded at once.
    public var uploadConcurrency: Int
    /// Tries per object before the upload fails (transient store errors only).
    public var uploadAttempts: Int
    /// Delay before the first upload retry; doubled for each further one.
    public var uploadBackoff: Duration
    /// Successful builds kept per site; older builds' objects are deleted.
    public var keepSuccessfulBuilds: Int
    /// How often an idle worker looks for queued builds when no event woke it.
    public var pollInterval: Duration
    /// How often expired leases are swept and abandoned containers removed.
    public var sweepInterval: Duration
    /// How long each claim and renewal holds a build (nil: the catalog's default).
    public var leaseDuration: Duration?
    /// How often a lease is renewed (nil: a third of the lease).
    public var leaseRenewInterval: Duration?
    /// `SLIPWAY_BUILD_DRAIN_TIMEOUT`: how long ``BuildWorkerPool/shutdown()`` lets running builds finish
    /// (claiming nothing new) before it stops the rest and gives them back to
    /// the queue; zero gives them back at once.
    public var drainTimeout: Duration
    /// How long past ``timeout`` a build container stops itself, from inside,
    /// when no builder is left to stop it; also the slack of its
    /// `slipway.deadline` label, past which any builder removes it.
    public var containerDeadlineMargin: Duration
    /// HTML files up to this size are put into the body cache after activation.
    public var warmCacheMaxFileBytes: Int
    /// Most bytes put into the body cache per activation.
    public var warmCacheMaxBytes: Int
    /// Install command when the site has none and a lockfile exists.
    public var defaultInstallWithLockfile: String
    /// Install command when the site has none and no lockfile exists.
    public var defaultInstall: String
    /// Build command when the site has none.
    public var defaultBuild: String

    /// The build user when Slipway runs as root and none is configured.
    public static let defaultRootBuildUser = BuildUser(uid: 10_000, gid: 10_000)

    public init(
        dataDirectory: String,
        runner: RunnerKind = .auto,
        image: String = "node:20",
        concurrency: Int = 2,
        timeout: Duration = .seconds(15 * 60),
        memoryBytes: Int64 = 2 << 30,
        cpus: Double = 2,
        pidsLimit: Int = 512,
        networkMode: String = "bridge",
        dockerHost: String = "unix:///var/run/docker.sock",
        allowLocalRepositories: Bool = false,
        gitExecutable: String = "git",
        cloneTimeout: Duration = .seconds(300),
        gitCAFile: String? = nil,
        buildUser: BuildUser? = nil,
        supervisorExecutable: String = BuilderConfiguration.runningExecutable,
        maxOutputFiles: Int = 50_000,
        maxOutputBytes: Int64 = 2 << 30,
        maxLogBytes: Int = 10 << 20,
        maxLogLineBytes: Int = 16 << 10,
        uploadConcurrency: Int = 16,
        uploadAttempts: Int = 4,
        uploadBackoff: Duration = .milliseconds(200),
        keepSuccessfulBuilds: Int = 10,
        pollInterval: Duration = .seconds(2),
        sweepInterval: Duration = .seconds(10),
        leaseDuration: Duration? = nil,
        leaseRenewInterval: Duration? = nil,
        drainTimeout: Duration = .seconds(5 * 60),
        containerDeadlineMargin: Duration = .seconds(60),
        warmCacheMaxFileBytes: Int = 64 << 10,
        warmCacheMaxBytes: Int = 4 << 20,
        defaultInstallWithLockfile: String = "npm ci",
        defaultInstall: String = "npm install",
        defaultBuild: String = "npm run build"
    ) {
        // Workspaces are used from other working directories (git, the
        // build's processes, Docker bind mounts): relative paths would break.
        self.dataDirectory =
            dataDirectory.isEmpty ? "" : URL(fileURLWithPath: dataDirectory, isDirectory: true).standardizedFileURL.path
        self.runner = runner
        self.image = image
        self.concurrency = concurrency
        self.timeout = timeout
        self.memoryBytes = memoryBytes
        self.cpus = cpus
        self.pidsLimit = pidsLimit
        self.networkMode = networkMode
        self.dockerHost = dockerHost
        self.allowLocalRepositories = allowLocalRepositories
        self.gitExecutable = gitExecutable
        self.cloneTimeout = cloneTimeout
        self.gitCAFile = gitCAFile
        self.buildUser = buildUser
        self.supervisorExecutable = supervisorExecutable
        self.maxOutputFiles = maxOutputFiles
        self.maxOutputBytes = maxOutputBytes
        self.maxLogBytes = maxLogBytes
        self.maxLogLineBytes = maxLogLineBytes
        self.uploadConcurrency = uploadConcurrency
        self.uploadAttempts = uploadAttempts
        self.uploadBackoff = uploadBackoff
        self.keepSuccessfulBuilds = keepSuccessfulBuilds
        self.pollInterval = pollInterval
        self.sweepInterval = sweepInterval
        self.leaseDuration = leaseDuration
        self.leaseRenewInterval = leaseRenewInterval
        self.drainTimeout = drainTimeout
        self.containerDeadlineMargin = containerDeadlineMargin
        self.warmCacheMaxFileBytes = warmCacheMaxFileBytes
        self.warmCacheMaxBytes = warmCacheMaxBytes
        self.defaultInstallWithLockfile = defaultInstallWithLockfile
        self.defaultInstall = defaultInstall
        self.defaultBuild = defaultBuild
    }

    /// The running executable's path (`/proc/self/exe` resolved).
    public static var runningExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Where workspaces are created.
    public var workspacesDirectory: String { (dataDirectory as NSString).appendingPathComponent("workspaces") }

    /// The persistent npm cache of one site.
    public func dependencyCacheDirectory(siteID: String) -> String {
        (dataDirectory as NSString).appendingPathComponent("cache/npm/\(siteID)")
    }

    /// The socket path of ``dockerHost``.
    /// - Throws: ``BuildError`` for anything but `unix://` (or a bare path).
    public func dockerSocketPath() throws(BuildError) -> String {
        if dockerHost.hasPrefix("unix://") {
            let path = String(dockerHost.dropFirst("unix://".count))
            if path.hasPrefix("/") { return path }
        } else if dockerHost.hasPrefix("/") {
            return dockerHost
        }
        throw BuildError.engineUnavailable(
            "DOCKER_HOST '\(dockerHost)' is not supported: Slipway talks to a local engine over its unix socket; use unix:///var/run/docker.sock or another unix:// path"
        )
    }

    /// Throws when a setting makes no sense, naming it.
    public func validate() throws(BuildError) {
        func invalid(_ message: String) -> BuildError {
            BuildError(code: .workspaceFailed, message: "invalid builder setting: \(message)")
        }
        if dataDirectory.isEmpty { throw invalid("the data directory is empty") }
        if concurrency < 1 { throw invalid("SLIPWAY_BUILD_CONCURRENCY is \(concurrency); give 1 or more") }
        if timeout <= .zero { throw invalid("SLIPWAY_BUILD_TIMEOUT must be positive") }
        if memoryBytes < 6 << 20 { throw invalid("SLIPWAY_BUILD_MEMORY must be at least 6 MiB (Docker's minimum)") }
        if !(cpus > 0) { throw invalid("SLIPWAY_BUILD_CPUS must be positive") }
        if pidsLimit < 8 { throw invalid("SLIPWAY_BUILD_PIDS is \(pidsLimit); give 8 or more") }
        if image.isEmpty || image.contains(where: { $0.isWhitespace }) {
            throw invalid("SLIPWAY_BUILD_IMAGE '\(image)' is not an image name")
        }
        if maxOutputFiles < 1 || maxOutputBytes < 1 { throw invalid("the output limits must be positive") }
        if maxLogBytes < 1024 { throw invalid("the log limit must be at least 1 KiB") }
        if uploadConcurrency < 1 || uploadAttempts < 1 {
            throw invalid("upload concurrency and attempts must be 1 or more")
        }
        if drainTimeout < .zero { throw invalid("SLIPWAY_BUILD_DRAIN_TIMEOUT may not be negative") }
        if containerDeadlineMargin < .zero { throw invalid("the container deadline margin may not be negative") }
        if keepSuccessfulBuilds < 1 { throw invalid("keep at least 1 successful build per site") }
        if runner == .docker { _ = try dockerSocketPath() }
        if let gitCAFile {
            if let problem = Self.problem(withCAFile: gitCAFile) { throw invalid("SLIPWAY_GIT_CA_FILE \(problem)") }
        }
    }

    /// What is wrong with `path` as a PEM bundle of CA certificates, or
    /// nil: it must be a readable file holding at least one certificate.
    public static func problem(withCAFile path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return "'\(path)' is not a file; give the path of a PEM bundle of the CA certificates git should trust"
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return "'\(path)' cannot be read; make it readable by Slipway's user"
        }
        defer { try? handle.close() }
        // A bundle is small; the first MiB holds a certificate if any does.
        let start = (try? handle.read(upToCount: 1 << 20)) ?? Data()
        guard String(decoding: start, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
            return
                "'\(path)' holds no PEM certificate (-----BEGIN CERTIFICATE-----); give a PEM bundle of CA certificates"
        }
        return nil
    }
}
