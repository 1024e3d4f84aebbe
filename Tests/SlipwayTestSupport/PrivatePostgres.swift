import Foundation
public import Postgres

/// A PostgreSQL cluster of one test's own, started through
/// `scripts/postgres.sh` on a free port in a temporary directory: for a test
/// that restarts the server (the shared test database must stay up for the
/// tests running beside it). Needs what `scripts/postgres.sh` needs: root and
/// Debian's PostgreSQL packages, which `scripts/test` installs.
public final class PrivatePostgres: Sendable {
    public let port: Int
    public let directory: String

    /// The cluster's database, for `SLIPWAY_DATABASE_URL`.
    public var url: String { "postgres://slipway@127.0.0.1:\(port)/slipway_test" }

    private init(port: Int, directory: String) {
        self.port = port
        self.directory = directory
    }

    /// Creates and starts a cluster (a few seconds: initdb, then start).
    public static func start() async throws -> PrivatePostgres {
        let cluster = PrivatePostgres(port: try freePort(), directory: temporaryDirectory() + "/postgres")
        try await onOwnThread { try cluster.script("start") }
        return cluster
    }

    /// A fast restart (`pg_ctl restart -m fast`): every connection is cut,
    /// and the server answers again on the same port with the same data.
    public func restart() async throws { try await onOwnThread { try self.script("restart") } }

    /// Stops the server and deletes its directory.
    public func clean() { try? script("clean") }

    /// Settings for `schema` of this cluster's database.
    public func settings(schema: String = "public") throws -> PostgresSettings {
        var settings = try PostgresSettings(url: url)
        settings.schema = schema
        return settings
    }

    private func script(_ command: String) throws {
        let process = TestProcess()
        process.executableURL = SlipwayProcess.repositoryRoot.appendingPathComponent("scripts/postgres.sh")
        process.arguments = [command]
        var environment = ProcessInfo.processInfo.environment
        environment["PG_DIR"] = directory
        environment["PG_PORT"] = "\(port)"
        environment["PG_TLS"] = "0"
        process.environment = environment
        // A file, not a pipe: the server the script starts inherits its
        // output, and a pipe would never reach its end while it runs.
        let log = temporaryDirectory() + "/postgres.sh.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw TestFailure("scripts/postgres.sh \(command) failed (\(process.terminationStatus)):\n\(text)")
        }
    }
}
