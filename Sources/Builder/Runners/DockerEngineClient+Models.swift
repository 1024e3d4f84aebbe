/// The JSON bodies of the Docker Engine API calls the builder makes (API
/// 1.41). Field names follow the API's PascalCase through `CodingKeys`.

/// `POST /containers/create` body.
struct ContainerSpec: Encodable, Sendable {
    var image: String
    var command: [String]
    var environment: [String]
    var workingDirectory: String
    var user: String
    var labels: [String: String]
    var hostConfig: HostConfig

    enum CodingKeys: String, CodingKey {
        case image = "Image"
        case command = "Cmd"
        case environment = "Env"
        case workingDirectory = "WorkingDir"
        case user = "User"
        case labels = "Labels"
        case hostConfig = "HostConfig"
        case tty = "Tty"
        case openStdin = "OpenStdin"
        case attachStdin = "AttachStdin"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encode(command, forKey: .command)
        try container.encode(environment, forKey: .environment)
        try container.encode(workingDirectory, forKey: .workingDirectory)
        try container.encode(user, forKey: .user)
        try container.encode(labels, forKey: .labels)
        try container.encode(hostConfig, forKey: .hostConfig)
        // No TTY: the log stream is multiplexed (see DockerLogDemuxer); no stdin.
        try container.encode(false, forKey: .tty)
        try container.encode(false, forKey: .openStdin)
        try container.encode(false, forKey: .attachStdin)
    }
}

/// The limits and isolation of a build container.
struct HostConfig: Encodable, Sendable {
    var mounts: [Mount]
    var memoryBytes: Int64
    var nanoCPUs: Int64
    var pidsLimit: Int64
    var networkMode: String
    /// Bytes of the engine's own copy of the output kept per log file.
    var logMaxSize: String

    enum CodingKeys: String, CodingKey {
        case mounts = "Mounts"
        case memory = "Memory"
        case memorySwap = "MemorySwap"
        case nanoCPUs = "NanoCpus"
        case pidsLimit = "PidsLimit"
        case networkMode = "NetworkMode"
        case capDrop = "CapDrop"
        case securityOpt = "SecurityOpt"
        case privileged = "Privileged"
        case logConfig = "LogConfig"
        case autoRemove = "AutoRemove"
    }

    private struct LogConfig: Encodable {
        var type: String
        var config: [String: String]
        enum CodingKeys: String, CodingKey {
            case type = "Type"
            case config = "Config"
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mounts, forKey: .mounts)
        try container.encode(memoryBytes, forKey: .memory)
        // Swap equal to memory: no swap on top of the limit, so the limit is real.
        try container.encode(memoryBytes, forKey: .memorySwap)
        try container.encode(nanoCPUs, forKey: .nanoCPUs)
        try container.encode(pidsLimit, forKey: .pidsLimit)
        try container.encode(networkMode, forKey: .networkMode)
        try container.encode(["ALL"], forKey: .capDrop)
        try container.encode(["no-new-privileges"], forKey: .securityOpt)
        try container.encode(false, forKey: .privileged)
        try container.encode(false, forKey: .autoRemove)
        try container.encode(
            LogConfig(type: "json-file", config: ["max-size": logMaxSize, "max-file": "2"]), forKey: .logConfig)
    }
}

/// A bind mount of a host directory.
struct Mount: Encodable, Sendable, Hashable {
    var source: String
    var target: String
    var readOnly: Bool

    enum CodingKeys: String, CodingKey {
        case type = "Type"
        case source = "Source"
        case target = "Target"
        case readOnly = "ReadOnly"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("bind", forKey: .type)
        try container.encode(source, forKey: .source)
        try container.encode(target, forKey: .target)
        try container.encode(readOnly, forKey: .readOnly)
    }
}

struct CreatedContainer: Decodable, Sendable {
    var id: String
    enum CodingKeys: String, CodingKey { case id = "Id" }
}

struct WaitResult: Decodable, Sendable {
    var statusCode: Int32
    enum CodingKeys: String, CodingKey { case statusCode = "StatusCode" }
}

struct ContainerInfo: Decodable, Sendable {
    var state: ContainerState
    enum CodingKeys: String, CodingKey { case state = "State" }
}

/// `State` of `GET /containers/{id}/json`.
struct ContainerState: Decodable, Sendable, Hashable {
    var status: String
    var running: Bool
    var oomKilled: Bool
    var exitCode: Int32

    enum CodingKeys: String, CodingKey {
        case status = "Status"
        case running = "Running"
        case oomKilled = "OOMKilled"
        case exitCode = "ExitCode"
    }
}

/// An element of `GET /containers/json`.
struct ContainerSummary: Decodable, Sendable {
    var id: String
    var labels: [String: String]
    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case labels = "Labels"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }
}

/// One line of `POST /images/create` progress.
struct PullProgress: Decodable, Sendable {
    var status: String?
    var id: String?
    var progress: String?
    var error: String?
}
