import ArgumentParser
import Foundation
import Logging
import Model
import Postgres

/// `slipway catalog`: operations on the catalog itself, run while no
/// Slipway process uses it.
struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Operations on the catalog database (moving from SQLite to PostgreSQL).",
        subcommands: [CatalogImportCommand.self]
    )
}

/// `slipway catalog import`: copies the embedded SQLite catalog into an
/// empty PostgreSQL catalog (``CatalogImport``), the step from one machine
/// to a fleet.
struct CatalogImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Copy a SQLite catalog into an empty PostgreSQL catalog, to run Slipway as a fleet.",
        discussion: """
            Copies every deployment (its settings, variables with their secret values, webhook \
            secret and active build), every build (ids, numbers, statuses and times as they are), \
            the notification outbox and the webhook deliveries from the SQLite file, which is only \
            read, into PostgreSQL, in one transaction: on any error nothing is imported. The \
            PostgreSQL schema is created or migrated first, and must hold no deployment and no \
            build. Builds that were running are queued again.

            The PostgreSQL URL is --to, else SLIPWAY_DATABASE_URL; prefer the variable, since \
            other users of the machine can read a command line. The password is never printed.

            Secrets are sealed again on the way: they are opened with the key in secret-key beside \
            the SQLite file (the single node's key) and sealed with SLIPWAY_SECRET_KEY, which the \
            import requires and which every node of the fleet must be given.

            Moving to a fleet:

            1. Stop every Slipway process (proxies, builders, admin nodes) that uses the SQLite catalog.

            2. Run slipway catalog import --from <data>/catalog.sqlite with SLIPWAY_DATABASE_URL=postgres://… set.

            3. With SLIPWAY_STORAGE=disk, copy the objects yourself: every file under <data>/objects/ goes \
            into the bucket under the same key (below SLIPWAY_S3_PREFIX when one is set). This command \
            does not copy them.

            4. Start the proxies, builders and admin nodes again with SLIPWAY_DATABASE_URL=postgres://… and \
            SLIPWAY_STORAGE=s3 (see "Running a fleet" in the README).

            Exits with 0 once everything is copied, 1 when the import was refused or failed \
            (the message says what to do), 2 for a usage error.
            """
    )

    @Option(
        name: .long,
        help: ArgumentHelp("The SQLite catalog to copy: <data>/catalog.sqlite (or sqlite:PATH).", valueName: "path"))
    var from: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The empty PostgreSQL catalog: postgres://user:password@host:5432/database[?sslmode=…&search_path=…] (default: SLIPWAY_DATABASE_URL).",
            valueName: "url"))
    var to: String?

    /// The variable the URL is read from when `--to` is not given, as `slipway serve` reads it.
    static let urlVariable = Setting.catalogURL.environment

    func validate() throws {
        _ = try Self.target(to, environment: ProcessInfo.processInfo.environment)
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let settings = try Self.target(to, environment: environment)
        let keyring = try Self.fleetKeyring(environment)
        let source = from.hasPrefix("sqlite:") ? String(from.dropFirst("sqlite:".count)) : from
        var logger = Logger(label: "slipway.catalog-import")
        logger.logLevel = .critical
        do {
            let summary = try await CatalogImport.run(
                from: source, to: settings, keyring: keyring, logger: logger)
            print(Self.report(summary, from: source, to: settings))
        } catch let error as CatalogImportError {
            throw Self.failure(error.description)
        } catch {
            throw Self.failure("the import failed and nothing was imported: \(error); fix the cause and run it again")
        }
    }

    /// The fleet's keyring, from `SLIPWAY_SECRET_KEY`.
    static func fleetKeyring(_ environment: [String: String]) throws -> SecretKeyring {
        let variable = Setting.secretKey.environment
        guard let text = environment[variable], !text.isEmpty else {
            throw ValidationError(
                "\(variable) is not set: the fleet seals secrets with it, so give the import the value every node will have (generate one with 'slipway secret-key')"
            )
        }
        do { return try SecretKeyring(parsing: text) } catch {
            throw ValidationError("\(variable): \(error)")
        }
    }

    /// The database to copy into: `--to`, else the environment's URL.
    /// - Throws: a `ValidationError` (a usage error, status 2) that never holds the password.
    static func target(_ option: String?, environment: [String: String]) throws -> PostgresSettings {
        let url: String
        let origin: String
        if let option {
            url = option
            origin = "--to"
        } else if let value = environment[urlVariable], !value.isEmpty {
            url = value
            origin = urlVariable
        } else {
            throw ValidationError(
                "name the PostgreSQL catalog to copy into: --to postgres://user:password@host:5432/database, or set \(urlVariable)"
            )
        }
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw ValidationError(
                "\(origin) must be a postgres:// or postgresql:// URL (user:password@host:5432/database); the import only copies into PostgreSQL"
            )
        }
        do {
            return try PostgresSettings(url: url)
        } catch {
            throw ValidationError("\(origin) \(error.description)")
        }
    }

    /// What was copied, and what to do next.
    static func report(_ summary: CatalogImport.Summary, from source: String, to settings: PostgresSettings) -> String {
        func count(_ number: Int, _ noun: String, _ plural: String? = nil) -> String {
            "\(number) " + (number == 1 ? noun : plural ?? noun + "s")
        }
        var builds = count(summary.builds, "build")
        if summary.requeuedBuilds > 0 {
            builds +=
                " (\(summary.requeuedBuilds) that \(summary.requeuedBuilds == 1 ? "was" : "were") running queued again)"
        }
        return """
            Imported \(source) into \(settings):
              \(count(summary.sites, "deployment"))
              \(builds)
              \(count(summary.notifications, "notification"))
              \(count(summary.webhookDeliveries, "webhook delivery", "webhook deliveries"))
              \(count(summary.apiTokens, "API token"))
              \(count(summary.auditEvents, "audit log entry", "audit log entries"))
              \(count(summary.customDomains, "custom domain"))
              \(count(summary.blobs, "stored file content"))
            Next: with SLIPWAY_STORAGE=disk, copy every file under <data>/objects/ into the bucket under the same key; \
            then start the proxies, builders and admin nodes with SLIPWAY_DATABASE_URL set to this database and \
            SLIPWAY_STORAGE=s3. Keep \(source) as a backup; Slipway no longer writes to it.
            """
    }

    /// Prints `message` on standard error; the exit status 1 to throw.
    private static func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("slipway: \(message)\n".utf8))
        return ExitCode(1)
    }
}
