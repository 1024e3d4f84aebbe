import Foundation
import GRDB

/// Reading and writing catalog rows. Column lists live here, next to each
/// other, so the schema and the Swift types stay in step.
extension SQLiteCatalog {
    static func site(from row: Row) throws -> Site {
        let envJSON: String = try row.decode(forColumn: "env")
        let env: [BuildVariable]
        do {
            env = try JSONDecoder().decode([BuildVariable].self, from: Data(envJSON.utf8))
        } catch {
            throw CatalogError.unavailable("a deployment row holds unreadable env JSON; restore the catalog from a backup")
        }
        let spaText: String = try row.decode(forColumn: "spa")
        guard let spa = SpaMode(rawValue: spaText) else {
            throw CatalogError.unavailable("a deployment row holds the unknown SPA mode '\(spaText)'")
        }
        let activeBuild: String? = try row.decode(forColumn: "active_build_id")
        return Site(
            id: SiteID(unchecked: try row.decode(forColumn: "id")),
            slug: try row.decode(forColumn: "slug"),
            repoURL: try row.decode(forColumn: "repo_url"),
            branch: try row.decode(forColumn: "branch"),
            rootDir: try row.decode(forColumn: "root_dir"),
            installCommand: try row.decode(forColumn: "install_command"),
            buildCommand: try row.decode(forColumn: "build_command"),
            outputDir: try row.decode(forColumn: "output_dir"),
            spa: spa,
            env: env,
            activeBuildID: activeBuild.map(BuildID.init(unchecked:)),
            createdAt: Millis.date(try row.decode(forColumn: "created_at")),
            updatedAt: Millis.date(try row.decode(forColumn: "updated_at"))
        )
    }

    static func build(from row: Row) throws -> Build {
        let statusText: String = try row.decode(forColumn: "status")
        guard let status = BuildStatus(rawValue: statusText) else {
            throw CatalogError.unavailable("a build row holds the unknown status '\(statusText)'")
        }
        func date(_ column: String) throws -> Date? {
            let milliseconds: Int64? = try row.decode(forColumn: column)
            return milliseconds.map(Millis.date)
        }
        return Build(
            id: BuildID(unchecked: try row.decode(forColumn: "id")),
            siteID: SiteID(unchecked: try row.decode(forColumn: "site_id")),
            number: try row.decode(forColumn: "number"),
            status: status,
            priority: try row.decode(forColumn: "priority"),
            trigger: try row.decode(forColumn: "trigger"),
            commitSHA: try row.decode(forColumn: "commit_sha"),
            commitMessage: try row.decode(forColumn: "commit_message"),
            error: try row.decode(forColumn: "error"),
            attempt: try row.decode(forColumn: "attempt"),
            queuedAt: Millis.date(try row.decode(forColumn: "queued_at")),
            startedAt: try date("started_at"),
            finishedAt: try date("finished_at"),
            notBefore: Millis.date(try row.decode(forColumn: "not_before")),
            leaseOwner: try row.decode(forColumn: "lease_owner"),
            leaseExpiresAt: try date("lease_expires_at"),
            fileCount: try row.decode(forColumn: "file_count"),
            bytes: try row.decode(forColumn: "bytes")
        )
    }

    static func envJSON(_ env: [BuildVariable]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(env), as: UTF8.self)
    }

    // MARK: Lookups inside a transaction

    static func fetchSite(_ db: Database, id: SiteID) throws -> Site {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM site WHERE id = ?", arguments: [id.rawValue]) else {
            throw CatalogError.siteNotFound(id: id)
        }
        return try site(from: row)
    }

    static func fetchBuild(_ db: Database, id: BuildID) throws -> Build {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM build WHERE id = ?", arguments: [id.rawValue]) else {
            throw CatalogError.buildNotFound(id)
        }
        return try build(from: row)
    }

    static func fetchBuilds(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Build] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map(build(from:))
    }

    /// Writes every mutable column of `build` back to its row.
    static func store(_ build: Build, in db: Database) throws {
        try db.execute(
            sql: """
                UPDATE build SET status = ?, priority = ?, trigger = ?, commit_sha = ?, commit_message = ?, error = ?,
                    attempt = ?, started_at = ?, finished_at = ?, not_before = ?, lease_owner = ?, lease_expires_at = ?,
                    file_count = ?, bytes = ?
                WHERE id = ?
                """,
            arguments: [
                build.status.rawValue, build.priority, build.trigger, build.commitSHA, build.commitMessage, build.error,
                build.attempt, build.startedAt.map(Millis.from), build.finishedAt.map(Millis.from),
                Millis.from(build.notBefore), build.leaseOwner, build.leaseExpiresAt.map(Millis.from),
                build.fileCount, build.bytes, build.id.rawValue,
            ]
        )
    }
}
