import Model

/// Why a build attempt stopped, with a message for the deployment's owner.
///
/// ``isTransient`` decides whether the queue tries again: infrastructure
/// failures (the network during a clone, the container engine, the object
/// store) are transient; anything the repository or its build command caused
/// is not, so a failing `npm run build` fails at once.
public struct BuildError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. `rawValue` is short, snake_case and stable: safe
    /// as a metrics label.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The repository URL or branch was refused before git ran.
        public static let repositoryRejected = Code(rawValue: "repository_rejected")
        /// `git clone` failed or timed out.
        public static let cloneFailed = Code(rawValue: "clone_failed")
        /// The root directory setting is invalid or leaves the checkout.
        public static let projectInvalid = Code(rawValue: "project_invalid")
        /// The install or build command exited with a non-zero status.
        public static let commandFailed = Code(rawValue: "command_failed")
        /// The build ran out of its memory limit and was killed.
        public static let outOfMemory = Code(rawValue: "out_of_memory")
        /// The build ran past its wall-clock limit and was killed.
        public static let timedOut = Code(rawValue: "timed_out")
        /// The build was canceled.
        public static let canceled = Code(rawValue: "canceled")
        /// No output directory was found, or the configured one is missing.
        public static let outputMissing = Code(rawValue: "output_missing")
        /// The output holds something that cannot be published (an escaping
        /// symlink, a FIFO, a device, a socket, a reserved or invalid name).
        public static let outputRejected = Code(rawValue: "output_rejected")
        /// The output has too many files or too many bytes.
        public static let limitExceeded = Code(rawValue: "limit_exceeded")
        /// Storing the build's objects failed.
        public static let storeFailed = Code(rawValue: "store_failed")
        /// The container engine could not be reached or failed.
        public static let engineUnavailable = Code(rawValue: "engine_unavailable")
        /// The build image could not be found or pulled.
        public static let imageUnavailable = Code(rawValue: "image_unavailable")
        /// A local operation of the builder failed (workspace, files).
        public static let workspaceFailed = Code(rawValue: "workspace_failed")
        /// The catalog refused or failed while the build ran.
        public static let catalogFailed = Code(rawValue: "catalog_failed")
    }

    public let code: Code
    /// A sentence for people: what was wrong and what to do. Never holds a
    /// credential or a secret value.
    public let message: String
    /// Whether trying the same build again later may succeed.
    public let isTransient: Bool
    /// The command's exit status, for ``Code/commandFailed``.
    public let exitCode: Int32?

    public init(code: Code, message: String, isTransient: Bool = false, exitCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.isTransient = isTransient
        self.exitCode = exitCode
    }

    public var description: String { "\(code.rawValue): \(message)" }

    // MARK: Constructors

    static func repositoryRejected(_ error: RepositoryError) -> BuildError {
        BuildError(code: .repositoryRejected, message: error.message)
    }

    static func cloneFailed(_ message: String, transient: Bool) -> BuildError {
        BuildError(code: .cloneFailed, message: message, isTransient: transient)
    }

    static func projectInvalid(_ message: String) -> BuildError {
        BuildError(code: .projectInvalid, message: message)
    }

    static func commandFailed(step: String, command: String, exitCode: Int32) -> BuildError {
        BuildError(
            code: .commandFailed,
            message:
                "the \(step) command `\(command.prefix(200))` exited with status \(exitCode); see the build log for its output, fix the command or the project and deploy again",
            exitCode: exitCode
        )
    }

    static func outOfMemory(step: String?, limitBytes: Int64) -> BuildError {
        let which = step.map { "the \($0) command" } ?? "the build"
        return BuildError(
            code: .outOfMemory,
            message:
                "\(which) ran out of memory: it used the whole \(ByteCount.format(limitBytes)) limit and was killed; reduce the build's memory use or raise SLIPWAY_BUILD_MEMORY"
        )
    }

    static func timedOut(after limit: Duration) -> BuildError {
        BuildError(
            code: .timedOut,
            message:
                "the build ran longer than its \(DurationText.format(limit)) limit and was killed; speed it up or raise SLIPWAY_BUILD_TIMEOUT"
        )
    }

    static let canceled = BuildError(code: .canceled, message: "the build was canceled")

    static func outputMissing(_ message: String) -> BuildError {
        BuildError(code: .outputMissing, message: message)
    }

    static func outputRejected(_ message: String) -> BuildError {
        BuildError(code: .outputRejected, message: message)
    }

    static func limitExceeded(_ message: String) -> BuildError {
        BuildError(code: .limitExceeded, message: message)
    }

    static func storeFailed(_ message: String, transient: Bool) -> BuildError {
        BuildError(code: .storeFailed, message: message, isTransient: transient)
    }

    static func engineUnavailable(_ message: String) -> BuildError {
        BuildError(code: .engineUnavailable, message: message, isTransient: true)
    }

    static func imageUnavailable(_ message: String, transient: Bool) -> BuildError {
        BuildError(code: .imageUnavailable, message: message, isTransient: transient)
    }

    static func workspaceFailed(_ message: String) -> BuildError {
        BuildError(code: .workspaceFailed, message: message, isTransient: true)
    }

    static func catalogFailed(_ message: String, transient: Bool) -> BuildError {
        BuildError(code: .catalogFailed, message: message, isTransient: transient)
    }
}

/// Human-readable durations for messages (`15m`, `90s`, `1.5s`, `250ms`).
enum DurationText {
    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        if milliseconds % 60_000 == 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(Double(milliseconds / 100) / 10)s"
    }

    /// Seconds with millisecond precision, as a plain number (`1.234`).
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
