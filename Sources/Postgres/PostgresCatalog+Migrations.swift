import Foundation
import Logging
import Model
import PostgresNIO
import Storage

extension PostgresCatalog {
    /// One step of the schema: its id and its statements, run in order.
    struct Migration: Sendable {
        let id: String
        let statements: [String]
    }

    /// The schema, as an ordered list of migrations. Never edit a migration
    /// that has shipped: append a new one. The applied ones are recorded in
    /// `schema_migration`.
    ///
    /// Rolling upgrades: migrations expand the schema (new tables, new
    /// nullable columns) so that the previous release keeps working on it
    /// while the fleet upgrades node by node; removing what the previous
    /// release still reads (contract) waits for a later release. A migration
    /// that older nodes cannot live with raises ``minimumCompatibleVersion``:
    /// nodes below it are then refused with a message that names the version
    /// they need.
    static let migrations: [Migration] = [
        Migration(
            id: "v1-catalog",
            statements: [
                // The columns, checks and indexes of SQLiteCatalog's schema
                // (Sources/Storage/Catalog/SQLiteCatalog+Migrations.swift), with
                // times as bigint milliseconds since 1970 (UTC), plus what
                // concurrent writers need: the site's claim mutex
                // (`claimed_build_id`, the build whose lease holds the site) and
                // an insertion order (`seq`) for ties.
                """
                CREATE TABLE site (
                    id text PRIMARY KEY,
                    slug text NOT NULL UNIQUE,
                    repo_url text NOT NULL,
                    branch text NOT NULL,
                    root_dir text,
                    install_command text,
                    build_command text,
                    output_dir text,
                    spa text NOT NULL CHECK (spa IN ('auto', 'spa', 'static')),
                    env text NOT NULL DEFAULT '[]',
                    active_build_id text,
                    build_counter integer NOT NULL DEFAULT 0,
                    claimed_build_id text,
                    webhook_secret text,
                    notify_url text,
                    created_at bigint NOT NULL,
                    updated_at bigint NOT NULL
                )
                """,
                """
                CREATE TABLE build (
                    seq bigint GENERATED ALWAYS AS IDENTITY,
                    id text PRIMARY KEY,
                    site_id text NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                    number integer NOT NULL,
                    status text NOT NULL
                        CHECK (status IN ('queued', 'building', 'success', 'failed', 'canceled')),
                    priority integer NOT NULL DEFAULT 0,
                    trigger text,
                    commit_sha text,
                    commit_message text,
                    error text,
                    attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
                    queued_at bigint NOT NULL,
                    started_at bigint,
                    finished_at bigint,
                    not_before bigint NOT NULL,
                    lease_owner text,
                    lease_expires_at bigint,
                    file_count integer,
                    bytes bigint,
                    UNIQUE (site_id, number),
                    CHECK (status <> 'building' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
                    CHECK (lease_owner IS NULL OR status IN ('building', 'canceled')),
                    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
                )
                """,
                "CREATE INDEX build_queue ON build (priority DESC, queued_at, seq) WHERE status = 'queued'",
                "CREATE INDEX build_lease ON build (lease_expires_at) WHERE lease_owner IS NOT NULL",
                "CREATE INDEX build_site_status ON build (site_id, status)",
                "CREATE INDEX build_status ON build (status)",
                // Belt and braces for the claim's site mutex: one running build per site.
                "CREATE UNIQUE INDEX build_one_running_per_site ON build (site_id) WHERE status = 'building'",
                """
                CREATE TABLE notification (
                    seq bigint GENERATED ALWAYS AS IDENTITY,
                    id text PRIMARY KEY,
                    site_id text NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                    build_id text NOT NULL,
                    event text NOT NULL,
                    url text NOT NULL,
                    build text NOT NULL,
                    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'gave_up')),
                    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    created_at bigint NOT NULL,
                    next_attempt_at bigint NOT NULL,
                    lease_owner text,
                    lease_expires_at bigint,
                    last_attempt_at bigint,
                    last_status integer,
                    last_error text,
                    finished_at bigint,
                    UNIQUE (build_id, event),
                    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
                    CHECK (lease_owner IS NULL OR state = 'pending'),
                    CHECK ((finished_at IS NULL) = (state = 'pending'))
                )
                """,
                "CREATE INDEX notification_due ON notification (next_attempt_at) WHERE state = 'pending'",
                "CREATE INDEX notification_finished ON notification (state, finished_at) WHERE state <> 'pending'",
                """
                CREATE TABLE webhook_delivery (
                    site_id text NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                    delivery_id text NOT NULL,
                    received_at bigint NOT NULL,
                    PRIMARY KEY (site_id, delivery_id)
                )
                """,
                "CREATE INDEX webhook_delivery_received ON webhook_delivery (received_at)",
            ] + EventOutbox.tables
        ),
        // Secrets are sealed from this version on (SealedFields): an older
        // node would read sealed values as the secrets themselves, so the
        // compatible version rises with it.
        Migration(id: "v2-sealed-secrets", statements: ["ALTER TABLE site ADD COLUMN repo_token text"]),
        Migration(
            id: "v3-api-tokens",
            statements: [
                // As SQLiteCatalog's v6-api-tokens: only the digest of a secret is kept.
                """
                CREATE TABLE api_token (
                    id text PRIMARY KEY,
                    name text NOT NULL,
                    scope text NOT NULL,
                    secret_digest text NOT NULL UNIQUE,
                    created_by text,
                    created_at bigint NOT NULL,
                    expires_at bigint,
                    last_used_at bigint,
                    revoked_at bigint
                )
                """
            ]
        ),
        Migration(
            id: "v4-audit-log",
            statements: [
                // As SQLiteCatalog's v7-audit-log; `id` orders the log.
                """
                CREATE TABLE audit_event (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    time bigint NOT NULL,
                    token_id text,
                    token_name text,
                    action text NOT NULL,
                    target text,
                    outcome integer NOT NULL,
                    client_address text,
                    count integer NOT NULL DEFAULT 1 CHECK (count >= 1)
                )
                """,
                "CREATE INDEX audit_event_time ON audit_event (time)",
                "CREATE INDEX audit_event_action ON audit_event (action, id)",
                "CREATE INDEX audit_event_token ON audit_event (token_id, id)",
            ]
        ),
        Migration(
            id: "v5-site-protection",
            statements: [
                // Who may visit a deployment (SQLiteCatalog's `v8-site-protection`):
                // the mode, the Basic username, previews only, the password
                // version and the password's scrypt hash, which only
                // `protectionSecret(siteID:)` reads. Older nodes ignore the columns.
                """
                ALTER TABLE site
                    ADD COLUMN protection_mode text NOT NULL DEFAULT 'none'
                        CHECK (protection_mode IN ('none', 'password', 'basic')),
                    ADD COLUMN protection_username text,
                    ADD COLUMN protection_previews_only boolean NOT NULL DEFAULT false,
                    ADD COLUMN protection_version integer NOT NULL DEFAULT 0,
                    ADD COLUMN protection_hash text
                """
            ]
        ),
        Migration(
            id: "v6-custom-domains",
            statements: [
                // As SQLiteCatalog's v9-custom-domains: the users' own host
                // names, their routing and certificate states, the check
                // schedule and where the current certificate pair is.
                """
                CREATE TABLE custom_domain (
                    hostname text PRIMARY KEY,
                    site_id text NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                    apex boolean NOT NULL DEFAULT false,
                    paired_with text,
                    redirect_to text,
                    verify_token text NOT NULL,
                    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'moved', 'failed')),
                    cert_status text NOT NULL DEFAULT 'none'
                        CHECK (cert_status IN ('none', 'issuing', 'active', 'renewing', 'error')),
                    error_code text,
                    error_detail text,
                    error_at bigint,
                    check_attempts integer NOT NULL DEFAULT 0 CHECK (check_attempts >= 0),
                    next_check_at bigint,
                    verified_at bigint,
                    cert_chain_key text,
                    cert_key_key text,
                    cert_sha256 text,
                    cert_not_before bigint,
                    cert_not_after bigint,
                    cert_renew_at bigint,
                    cert_source text CHECK (cert_source IN ('acme', 'uploaded')),
                    https_redirect boolean NOT NULL DEFAULT true,
                    hsts_max_age integer,
                    created_at bigint NOT NULL,
                    updated_at bigint NOT NULL
                )
                """,
                "CREATE INDEX custom_domain_site ON custom_domain (site_id)",
                "CREATE INDEX custom_domain_due ON custom_domain (next_check_at) WHERE next_check_at IS NOT NULL",
            ]
        ),
        Migration(
            id: "v7-fleet-leases",
            statements: [
                // As SQLiteCatalog's v10-fleet-leases: jobs one node of the fleet does at a time.
                "CREATE TABLE fleet_lease (name text PRIMARY KEY, owner text NOT NULL, expires_at bigint NOT NULL)"
            ]
        ),
        Migration(
            id: "v8-content-blobs",
            statements: [
                // As SQLiteCatalog's v11-content-blobs: files stored once per
                // content, and which sites have which.
                """
                CREATE TABLE blob (
                    sha256 text PRIMARY KEY,
                    size bigint NOT NULL CHECK (size >= 0),
                    state text NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'collecting')),
                    created_at bigint NOT NULL,
                    used_at bigint NOT NULL
                )
                """,
                "CREATE INDEX blob_unused ON blob (state, used_at)",
                """
                CREATE TABLE site_blob (
                    site_id text NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                    sha256 text NOT NULL REFERENCES blob(sha256),
                    used_at bigint NOT NULL,
                    PRIMARY KEY (site_id, sha256)
                )
                """,
                "CREATE INDEX site_blob_sha256 ON site_blob (sha256)",
                "CREATE INDEX site_blob_unused ON site_blob (site_id, used_at)",
                // When a build stopped being its site's active build.
                "ALTER TABLE build ADD COLUMN replaced_at bigint",
            ]
        ),
        Migration(
            id: "v9-uploads",
            statements: [
                // As SQLiteCatalog's v12-uploads: folders uploaded to a
                // deployment, and the blobs each sent. An older node ignores
                // them (it offers no upload endpoints).
                """
                CREATE TABLE upload (
                    id text PRIMARY KEY,
                    site_id text NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                    kind text NOT NULL DEFAULT 'output' CHECK (kind IN ('output', 'source')),
                    preview boolean NOT NULL DEFAULT false,
                    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'finished')),
                    files text NOT NULL,
                    file_count integer NOT NULL,
                    total_bytes bigint NOT NULL,
                    created_at bigint NOT NULL,
                    expires_at bigint NOT NULL,
                    build_id text
                )
                """,
                "CREATE INDEX upload_site ON upload (site_id)",
                "CREATE INDEX upload_expiry ON upload (expires_at)",
                """
                CREATE TABLE upload_blob (
                    upload_id text NOT NULL REFERENCES upload(id) ON DELETE CASCADE,
                    sha256 text NOT NULL,
                    gzip_sha256 text,
                    gzip_size bigint,
                    PRIMARY KEY (upload_id, sha256)
                )
                """,
                "CREATE INDEX upload_blob_sha256 ON upload_blob (sha256)",
            ]
        ),
    ]

    /// This version's schema version: the number of migrations it knows.
    public static var schemaVersion: Int { migrations.count }

    /// The oldest schema version whose Slipway may still use a database
    /// this version migrated. It is recorded in `schema_compat` (one row,
    /// only ever raised), and a node whose ``schemaVersion`` is below it is
    /// refused. Migrations a node does not know are otherwise fine: they came
    /// from a newer release that declared them compatible.
    ///
    /// 8 (`v2-sealed-secrets` to `v8-content-blobs`): a node that does
    /// not seal would read sealed values as the secrets themselves, one
    /// that does not know protected sites would serve them to anyone, and
    /// one that does not know content blobs could not serve new builds
    /// (their manifests are version 2) and its retention would not leave
    /// blobs to the collector, so none of them may start on the catalog.
    static let minimumCompatibleVersion = 8

    /// Keys of the transaction-level advisory locks (the first half of
    /// `pg_advisory_xact_lock(int, int)`; the second is the schema's hash, so
    /// installations in other schemas of the database never wait on each other).
    enum LockKey {
        /// Serialises schema migrations.
        static let migration: Int32 = 0x534C_0001
        /// Serialises counting the queue and adding a build to it.
        static let queue: Int32 = 0x534C_0002
    }

    /// Brings the schema up to date in one transaction, under an advisory
    /// lock, so processes starting together migrate once and the others
    /// find it done.
    func migrate() async throws {
        let schema = settings.schema
        let known = Set(Self.migrations.map(\.id))
        try await client.withTransaction(logger: logger) { connection in
            func run(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
                try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
            }
            _ = try await run("SELECT pg_advisory_xact_lock(\(LockKey.migration), hashtext(\(schema)))")
            let exists = try await run("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = \(schema))")
            if try exists.first?[0].decode(Bool.self) != true {
                // `schema` is a checked identifier (PostgresSettings.isIdentifier).
                _ = try await run("CREATE SCHEMA \(unescaped: schema)")
            }
            _ = try await run(
                "CREATE TABLE IF NOT EXISTS schema_migration (id text PRIMARY KEY, applied_at bigint NOT NULL)")
            _ = try await run("CREATE TABLE IF NOT EXISTS schema_compat (min_version integer NOT NULL)")

            let applied = try await run("SELECT id FROM schema_migration").map { try $0[0].decode(String.self) }
            let unknown = applied.filter { !known.contains($0) }.sorted()
            let minimum = try await run("SELECT max(min_version) FROM schema_compat").first?[0].decode(Int?.self)
            if let minimum, minimum > Self.schemaVersion {
                throw CatalogError.unavailable(
                    "the catalog in PostgreSQL schema '\(schema)' was written by a newer Slipway: it needs schema version \(minimum) or later (this Slipway has \(Self.schemaVersion)); upgrade this node to the fleet's release"
                )
            }
            if !unknown.isEmpty {
                logger.notice(
                    "the catalog holds migrations of a newer Slipway that keep this version compatible; upgrade this node soon",
                    metadata: ["migrations": "\(unknown.joined(separator: ", "))", "schema": "\(schema)"])
            }

            let now = try await Self.migrationTime(clock: clock, run: run)
            for migration in Self.migrations where !applied.contains(migration.id) {
                for statement in migration.statements { _ = try await run(PostgresQuery(unsafeSQL: statement)) }
                _ = try await run("INSERT INTO schema_migration (id, applied_at) VALUES (\(migration.id), \(now))")
                logger.info(
                    "catalog schema migrated", metadata: ["migration": "\(migration.id)", "schema": "\(schema)"])
            }
            if minimum == nil {
                _ = try await run("INSERT INTO schema_compat (min_version) VALUES (\(Self.minimumCompatibleVersion))")
            } else if let minimum, minimum < Self.minimumCompatibleVersion {
                _ = try await run("UPDATE schema_compat SET min_version = \(Self.minimumCompatibleVersion)")
            }
        }
    }

    private static func migrationTime(
        clock: CatalogClock?, run: (PostgresQuery) async throws -> [PostgresRandomAccessRow]
    ) async throws -> Int64 {
        if let clock { return Millis.from(clock()) }
        return try await run("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint").first?[0].decode(
            Int64.self) ?? 0
    }
}
