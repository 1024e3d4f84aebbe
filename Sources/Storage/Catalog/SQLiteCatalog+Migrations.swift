import GRDB
import Model

extension SQLiteCatalog {
    /// The schema, as an ordered list of migrations. Never edit a migration
    /// that has shipped: append a new one. GRDB records the applied ones in
    /// `grdb_migrations`, and a database migrated by a newer Slipway is refused.
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-sites-builds-queue") { db in
            // Times are integer milliseconds since 1970 (UTC).
            try db.execute(
                sql: """
                    CREATE TABLE site (
                        id TEXT PRIMARY KEY NOT NULL,
                        slug TEXT NOT NULL UNIQUE,
                        repo_url TEXT NOT NULL,
                        branch TEXT NOT NULL,
                        root_dir TEXT,
                        install_command TEXT,
                        build_command TEXT,
                        output_dir TEXT,
                        spa TEXT NOT NULL CHECK (spa IN ('auto', 'spa', 'static')),
                        env TEXT NOT NULL DEFAULT '[]',
                        active_build_id TEXT,
                        -- The number of the site's last build ever created;
                        -- never decreases, so numbers are not reused after deletions.
                        build_counter INTEGER NOT NULL DEFAULT 0,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );

                    CREATE TABLE build (
                        id TEXT PRIMARY KEY NOT NULL,
                        site_id TEXT NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                        number INTEGER NOT NULL,
                        status TEXT NOT NULL
                            CHECK (status IN ('queued', 'building', 'success', 'failed', 'canceled')),
                        priority INTEGER NOT NULL DEFAULT 0,
                        trigger TEXT,
                        commit_sha TEXT,
                        commit_message TEXT,
                        error TEXT,
                        attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
                        queued_at INTEGER NOT NULL,
                        started_at INTEGER,
                        finished_at INTEGER,
                        not_before INTEGER NOT NULL,
                        lease_owner TEXT,
                        lease_expires_at INTEGER,
                        file_count INTEGER,
                        bytes INTEGER,
                        UNIQUE (site_id, number),
                        -- A running build always has a lease; only running and
                        -- canceled builds may hold one.
                        CHECK (status <> 'building' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
                        CHECK (lease_owner IS NULL OR status IN ('building', 'canceled')),
                        CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
                    );

                    -- Claim order: priority, then age, among queued builds.
                    CREATE INDEX build_queue ON build (priority DESC, queued_at) WHERE status = 'queued';
                    -- Expired leases, for the sweep.
                    CREATE INDEX build_lease ON build (lease_expires_at) WHERE lease_owner IS NOT NULL;
                    -- A site's builds by status (one running build per site, retention, stats).
                    CREATE INDEX build_site_status ON build (site_id, status);
                    CREATE INDEX build_status ON build (status);
                    """
            )
        }
        migrator.registerMigration("v2-site-webhook-secret") { db in
            // The secret GitHub signs push webhooks with. Sites created before
            // this migration get one now, so every site can receive webhooks.
            try db.execute(sql: "ALTER TABLE site ADD COLUMN webhook_secret TEXT")
            for id in try String.fetchAll(db, sql: "SELECT id FROM site") {
                try db.execute(
                    sql: "UPDATE site SET webhook_secret = ? WHERE id = ?", arguments: [WebhookSecret.generate(), id])
            }
        }
        migrator.registerMigration("v3-notifications") { db in
            // A deployment's notify URL, and the outbox of build notifications:
            // a row is written in the transaction that ends a build, then
            // claimed with a lease by one sender, like a build by one worker.
            try db.execute(
                sql: """
                    ALTER TABLE site ADD COLUMN notify_url TEXT;

                    CREATE TABLE notification (
                        id TEXT PRIMARY KEY NOT NULL,
                        -- A deleted deployment's notifications go with it (nothing
                        -- left to sign them with); a deleted build's stay: the
                        -- build is kept as it ended, as JSON in the build column.
                        site_id TEXT NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                        build_id TEXT NOT NULL,
                        event TEXT NOT NULL,
                        url TEXT NOT NULL,
                        build TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'gave_up')),
                        attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                        created_at INTEGER NOT NULL,
                        next_attempt_at INTEGER NOT NULL,
                        lease_owner TEXT,
                        lease_expires_at INTEGER,
                        last_attempt_at INTEGER,
                        last_status INTEGER,
                        last_error TEXT,
                        finished_at INTEGER,
                        -- A build ends once, so it is notified of once.
                        UNIQUE (build_id, event),
                        CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
                        CHECK (lease_owner IS NULL OR state = 'pending'),
                        CHECK ((finished_at IS NULL) = (state = 'pending'))
                    );

                    -- Claim order, and when the next one falls due.
                    CREATE INDEX notification_due ON notification (next_attempt_at) WHERE state = 'pending';
                    -- Retention of finished ones.
                    CREATE INDEX notification_finished ON notification (state, finished_at) WHERE state <> 'pending';
                    """
            )
        }
        migrator.registerMigration("v4-webhook-deliveries") { db in
            // GitHub deliveries that queued a build, by their X-GitHub-Delivery
            // id, so a copy sent again queues nothing. The primary key makes
            // recording one atomic (INSERT … ON CONFLICT DO NOTHING); rows
            // older than the replay window are deleted as new ones arrive.
            try db.execute(
                sql: """
                    CREATE TABLE webhook_delivery (
                        site_id TEXT NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                        delivery_id TEXT NOT NULL,
                        received_at INTEGER NOT NULL,
                        PRIMARY KEY (site_id, delivery_id)
                    ) WITHOUT ROWID;

                    -- Pruning by age.
                    CREATE INDEX webhook_delivery_received ON webhook_delivery (received_at);
                    """
            )
        }
        migrator.registerMigration("v5-repo-token") { db in
            // A private repository's access token, sealed like every secret
            // (SealedFields); values written before are sealed when the catalog opens.
            try db.execute(sql: "ALTER TABLE site ADD COLUMN repo_token TEXT")
        }
        migrator.registerMigration("v6-api-tokens") { db in
            // API tokens with scopes. Only the SHA-256 of a token's secret is
            // kept; every request looks its token up by it (the unique index).
            try db.execute(
                sql: """
                    CREATE TABLE api_token (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        secret_digest TEXT NOT NULL UNIQUE,
                        created_by TEXT,
                        created_at INTEGER NOT NULL,
                        expires_at INTEGER,
                        last_used_at INTEGER,
                        revoked_at INTEGER
                    );
                    """
            )
        }
        migrator.registerMigration("v7-audit-log") { db in
            // Changes made through the admin API and refused authentication
            // attempts. `id` orders the log and cuts its pages.
            try db.execute(
                sql: """
                    CREATE TABLE audit_event (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        time INTEGER NOT NULL,
                        token_id TEXT,
                        token_name TEXT,
                        action TEXT NOT NULL,
                        target TEXT,
                        outcome INTEGER NOT NULL,
                        client_address TEXT,
                        count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1)
                    );

                    -- Retention by age, and the filters of the log.
                    CREATE INDEX audit_event_time ON audit_event (time);
                    CREATE INDEX audit_event_action ON audit_event (action, id);
                    CREATE INDEX audit_event_token ON audit_event (token_id, id);
                    """
            )
        }
        migrator.registerMigration("v8-site-protection") { db in
            // Who may visit a deployment: the mode, the Basic username, whether
            // only previews are protected, the password version (grows with
            // every password change, signing everyone out) and the password's
            // scrypt hash, which only `protectionSecret(siteID:)` reads.
            try db.execute(
                sql: """
                    ALTER TABLE site ADD COLUMN protection_mode TEXT NOT NULL DEFAULT 'none'
                        CHECK (protection_mode IN ('none', 'password', 'basic'));
                    ALTER TABLE site ADD COLUMN protection_username TEXT;
                    ALTER TABLE site ADD COLUMN protection_previews_only INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE site ADD COLUMN protection_version INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE site ADD COLUMN protection_hash TEXT;
                    """
            )
        }
        migrator.registerMigration("v9-custom-domains") { db in
            // Host names of the users' own that answer for a deployment, with
            // the two state axes (routing and certificate), the check
            // schedule, the last problem and where the current certificate
            // pair is in the object store (its key sealed there, never here).
            try db.execute(
                sql: """
                    CREATE TABLE custom_domain (
                        hostname TEXT PRIMARY KEY NOT NULL,
                        site_id TEXT NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                        apex INTEGER NOT NULL DEFAULT 0,
                        paired_with TEXT,
                        redirect_to TEXT,
                        verify_token TEXT NOT NULL,
                        status TEXT NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'active', 'moved', 'failed')),
                        cert_status TEXT NOT NULL DEFAULT 'none'
                            CHECK (cert_status IN ('none', 'issuing', 'active', 'renewing', 'error')),
                        error_code TEXT,
                        error_detail TEXT,
                        error_at INTEGER,
                        check_attempts INTEGER NOT NULL DEFAULT 0 CHECK (check_attempts >= 0),
                        next_check_at INTEGER,
                        verified_at INTEGER,
                        cert_chain_key TEXT,
                        cert_key_key TEXT,
                        cert_sha256 TEXT,
                        cert_not_before INTEGER,
                        cert_not_after INTEGER,
                        cert_renew_at INTEGER,
                        cert_source TEXT CHECK (cert_source IN ('acme', 'uploaded')),
                        https_redirect INTEGER NOT NULL DEFAULT 1,
                        hsts_max_age INTEGER,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );

                    CREATE INDEX custom_domain_site ON custom_domain (site_id);
                    CREATE INDEX custom_domain_due ON custom_domain (next_check_at) WHERE next_check_at IS NOT NULL;
                    """
            )
        }
        migrator.registerMigration("v10-fleet-leases") { db in
            // Named jobs one node of a fleet does at a time (issuing
            // certificates, checking domains): who holds each, until when.
            try db.execute(
                sql: """
                    CREATE TABLE fleet_lease (
                        name TEXT PRIMARY KEY NOT NULL,
                        owner TEXT NOT NULL,
                        expires_at INTEGER NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("v11-content-blobs") { db in
            // Files stored once per content (`blobs/<sha256>` in the object
            // store): `blob` has one row per content whoever has it, and is
            // `collecting` while the collector deletes it; `site_blob` says
            // which sites have which blob and when each last used it.
            try db.execute(
                sql: """
                    CREATE TABLE blob (
                        sha256 TEXT PRIMARY KEY NOT NULL,
                        size INTEGER NOT NULL CHECK (size >= 0),
                        state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'collecting')),
                        created_at INTEGER NOT NULL,
                        used_at INTEGER NOT NULL
                    );
                    CREATE INDEX blob_unused ON blob (state, used_at);

                    CREATE TABLE site_blob (
                        site_id TEXT NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                        sha256 TEXT NOT NULL REFERENCES blob(sha256),
                        used_at INTEGER NOT NULL,
                        PRIMARY KEY (site_id, sha256)
                    );
                    CREATE INDEX site_blob_sha256 ON site_blob (sha256);
                    CREATE INDEX site_blob_unused ON site_blob (site_id, used_at);
                    """
            )
            // When a build stopped being its site's active build.
            try db.execute(sql: "ALTER TABLE build ADD COLUMN replaced_at INTEGER")
        }
        migrator.registerMigration("v12-uploads") { db in
            // Folders uploaded to a deployment (`slipway deploy --dir`): the
            // files announced (a JSON array of path, sha256 and size), and
            // the blobs sent with the gzip variant made of each.
            try db.execute(
                sql: """
                    CREATE TABLE upload (
                        id TEXT PRIMARY KEY NOT NULL,
                        site_id TEXT NOT NULL REFERENCES site(id) ON DELETE CASCADE,
                        kind TEXT NOT NULL DEFAULT 'output' CHECK (kind IN ('output', 'source')),
                        preview INTEGER NOT NULL DEFAULT 0,
                        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'finished')),
                        files TEXT NOT NULL,
                        file_count INTEGER NOT NULL,
                        total_bytes INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL,
                        build_id TEXT
                    );
                    CREATE INDEX upload_site ON upload (site_id);
                    CREATE INDEX upload_expiry ON upload (expires_at);

                    CREATE TABLE upload_blob (
                        upload_id TEXT NOT NULL REFERENCES upload(id) ON DELETE CASCADE,
                        sha256 TEXT NOT NULL,
                        gzip_sha256 TEXT,
                        gzip_size INTEGER,
                        PRIMARY KEY (upload_id, sha256)
                    );
                    CREATE INDEX upload_blob_sha256 ON upload_blob (sha256);
                    """
            )
        }
        return migrator
    }()
}
