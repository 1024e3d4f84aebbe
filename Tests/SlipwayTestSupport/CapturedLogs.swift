public import Logging
import Synchronization

/// Log records kept in memory: each record's message (`message`) and
/// metadata, as strings.
public final class CapturedLogs: Sendable {
    private let records = Mutex<[[String: String]]>([])

    public init() {}

    public func append(_ record: [String: String]) { records.withLock { $0.append(record) } }
    public func clear() { records.withLock { $0 = [] } }
    public var all: [[String: String]] { records.withLock { $0 } }
    /// The proxy's access-log records (`log=access`).
    public var access: [[String: String]] { all.filter { $0["log"] == "access" } }
}

/// A log handler that keeps each record's message and metadata in ``CapturedLogs``.
public struct CapturingLogHandler: LogHandler {
    public let logs: CapturedLogs
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level

    public init(_ logs: CapturedLogs, logLevel: Logger.Level = .info) {
        self.logs = logs
        self.logLevel = logLevel
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var record: [String: String] = ["message": "\(event.message)"]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            record[key] = "\(value)"
        }
        logs.append(record)
    }
}
