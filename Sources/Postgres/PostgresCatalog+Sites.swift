import Foundation
public import Model
import PostgresNIO
public import Storage

extension PostgresCatalog {
    /// How many times a derived slug is derived again when another process
    /// took it between the look-up and the insert.
    static let slugAttempts = 5

    public func createSite(_ draft: SiteDraft) async throws -> Site {
        let webhookSecret = try CatalogRules.webhookSecret(of: draft)
        let repoToken = try CatalogRules.repoToken(draft.repoToken)
        var attempt = 1
        while true {
            do {
                return try await insertSite(draft, webhookSecret: webhookSecret, repoToken: repoToken)
            } catch let error as CatalogError where error.code == .slugTaken && draft.slug == nil {
                // The UNIQUE constraint refused a derived slug another process
                // took meanwhile: derive it again from what is taken now.
                guard attempt < Self.slugAttempts else { throw error }
                attempt += 1
            }
        }
    }

    private func insertSite(_ draft: SiteDraft, webhookSecret: String, repoToken: String?) async throws -> Site {
        try await write { tx in
            let slug: String
            if let given = draft.slug {
                if try await tx.slugIsTaken(given, except: nil) { throw CatalogError.slugTaken(given) }
                slug = given
            } else {
                let base = SlugRules.derive(fromRepository: draft.repoURL)
                let taken = try await tx.rows(
                    "SELECT slug FROM site WHERE slug = \(base) OR slug LIKE \(base + "-%")"
                ).map { try $0[0].decode(String.self) }
                slug = SlugRules.unique(base, avoiding: Set(taken))
            }
            let settings = try SiteSettings(
                slug: slug, repoURL: draft.repoURL, branch: draft.branch, rootDir: draft.rootDir,
                installCommand: draft.installCommand, buildCommand: draft.buildCommand, outputDir: draft.outputDir,
                spa: draft.spa, env: draft.env, notifyURL: draft.notifyURL, protection: draft.protection,
                newPasswordHash: draft.passwordHash
            ).validated()
            let (protection, passwordHash) = try CatalogRules.protection(
                current: .none, currentHash: nil, settings: settings)
            let id = SiteID.generate(at: Millis.date(tx.now))
            let env = try sealed.envJSON(settings.env, siteID: id)
            let secret = sealed.seal(webhookSecret, .webhookSecret, siteID: id)
            let notify = sealed.seal(settings.notifyURL, .notifyURL, siteID: id)
            let token = sealed.seal(repoToken, .repoToken, siteID: id)
            do {
                try await tx.rows(
                    """
                    INSERT INTO site (id, slug, repo_url, branch, root_dir, install_command, build_command, output_dir,
                        spa, env, active_build_id, build_counter, created_at, updated_at, webhook_secret, notify_url,
                        repo_token)
                    VALUES (\(id.rawValue), \(settings.slug), \(settings.repoURL), \(settings.branch),
                        \(settings.rootDir), \(settings.installCommand), \(settings.buildCommand),
                        \(settings.outputDir), \(settings.spa.rawValue), \(env), NULL, 0, \(tx.now), \(tx.now),
                        \(secret), \(notify), \(token))
                    """)
            } catch let error where Self.isUniqueViolation(error) {
                throw CatalogError.slugTaken(settings.slug)
            }
            try await tx.storeProtection(protection, passwordHash: passwordHash, siteID: id)
            let site = try await tx.site(id: id)
            try await tx.publish(.siteCreated(site))
            return site
        }
    }

    public func site(id: SiteID) async throws -> Site {
        try await read { tx in try await tx.site(id: id) }
    }

    public func site(slug: String) async throws -> Site {
        try await read { tx in
            guard let row = try await tx.rows("SELECT * FROM site WHERE slug = \(slug)").first else {
                throw CatalogError.siteNotFound(slug: slug)
            }
            return try Self.site(from: row, sealed: sealed)
        }
    }

    public func sites() async throws -> [Site] {
        // COLLATE "C": byte order, as SQLite sorts text.
        try await read { tx in
            try await tx.rows("SELECT * FROM site ORDER BY slug COLLATE \"C\"").map {
                try Self.site(from: $0, sealed: self.sealed)
            }
        }
    }

    public func updateSite(id: SiteID, _ edit: @escaping @Sendable (inout SiteSettings) -> Void) async throws -> Site {
        try await write { tx in
            // The row lock makes concurrent edits take turns: each edits what
            // the previous one stored.
            let current = try await tx.site(id: id, lock: true)
            var settings = current.settings
            edit(&settings)
            settings = try settings.validated()
            guard settings != current.settings else { return current }
            if settings.slug != current.slug, try await tx.slugIsTaken(settings.slug, except: id) {
                throw CatalogError.slugTaken(settings.slug)
            }
            let env = try sealed.envJSON(settings.env, siteID: id)
            let notify = sealed.seal(settings.notifyURL, .notifyURL, siteID: id)
            let updatedAt = max(tx.now, Millis.from(current.updatedAt))
            do {
                try await tx.rows(
                    """
                    UPDATE site SET slug = \(settings.slug), repo_url = \(settings.repoURL),
                        branch = \(settings.branch), root_dir = \(settings.rootDir),
                        install_command = \(settings.installCommand), build_command = \(settings.buildCommand),
                        output_dir = \(settings.outputDir), spa = \(settings.spa.rawValue), env = \(env),
                        notify_url = \(notify), updated_at = \(updatedAt)
                    WHERE id = \(id.rawValue)
                    """)
            } catch let error where Self.isUniqueViolation(error) {
                throw CatalogError.slugTaken(settings.slug)
            }
            let (protection, passwordHash) = try CatalogRules.protection(
                current: current.protection, currentHash: try await tx.protectionHash(siteID: id),
                settings: settings)
            try await tx.storeProtection(protection, passwordHash: passwordHash, siteID: id)
            let site = try await tx.site(id: id)
            try await tx.publish(.siteUpdated(site))
            return site
        }
    }

    public func deleteSite(id: SiteID) async throws -> SiteDeletion {
        try await write { tx in
            guard let row = try await tx.rows("SELECT * FROM site WHERE id = \(id.rawValue) FOR UPDATE").first else {
                throw CatalogError.siteNotFound(id: id)
            }
            let site = try Self.site(from: row, sealed: sealed)
            let builds = try await tx.builds("SELECT * FROM build WHERE site_id = \(id.rawValue) ORDER BY number")
            let domains = try await tx.rows("DELETE FROM custom_domain WHERE site_id = \(id.rawValue) RETURNING *")
                .map(Self.domain(from:))
            // Its blobs stay until the collector finds no other site has them.
            try await tx.rows("DELETE FROM site_blob WHERE site_id = \(id.rawValue)")
            try await tx.rows("DELETE FROM build WHERE site_id = \(id.rawValue)")
            try await tx.rows("DELETE FROM site WHERE id = \(id.rawValue)")
            for domain in domains { try await tx.publish(.domainRemoved(domain)) }
            try await tx.publish(.siteDeleted(site))
            return SiteDeletion(site: site, builds: builds)
        }
    }

    public func webhookSecret(siteID: SiteID) async throws -> String? {
        try await read { tx in
            guard let row = try await tx.rows("SELECT webhook_secret FROM site WHERE id = \(siteID.rawValue)").first
            else { throw CatalogError.siteNotFound(id: siteID) }
            return try sealed.open(try row[0].decode(String?.self), .webhookSecret, siteID: siteID)
        }
    }

    public func rotateWebhookSecret(siteID: SiteID) async throws -> String {
        let secret = WebhookSecret.generate()
        let stored = sealed.seal(secret, .webhookSecret, siteID: siteID)
        try await write { tx in
            let changed = try await tx.rows(
                "UPDATE site SET webhook_secret = \(stored) WHERE id = \(siteID.rawValue) RETURNING id")
            guard changed.count == 1 else { throw CatalogError.siteNotFound(id: siteID) }
        }
        return secret
    }

    public func repoToken(siteID: SiteID) async throws -> String? {
        try await read { tx in
            guard let row = try await tx.rows("SELECT repo_token FROM site WHERE id = \(siteID.rawValue)").first
            else { throw CatalogError.siteNotFound(id: siteID) }
            return try sealed.open(try row[0].decode(String?.self), .repoToken, siteID: siteID)
        }
    }

    public func setRepoToken(siteID: SiteID, _ token: String?) async throws -> Site {
        let token = try CatalogRules.repoToken(token)
        let stored = sealed.seal(token, .repoToken, siteID: siteID)
        return try await write { tx in
            let current = try await tx.site(id: siteID, lock: true)
            let updatedAt = max(tx.now, Millis.from(current.updatedAt))
            try await tx.rows(
                "UPDATE site SET repo_token = \(stored), updated_at = \(updatedAt) WHERE id = \(siteID.rawValue)")
            let site = try await tx.site(id: siteID)
            try await tx.publish(.siteUpdated(site))
            return site
        }
    }

    public func resealSecrets() async throws -> Int {
        try await write { tx in try await tx.resealSecrets() }
    }
}

extension PostgresCatalog {
    public func protectionSecret(siteID: SiteID) async throws -> ProtectionSecret? {
        try await read { tx in
            let site = try await tx.site(id: siteID)
            guard site.protection.mode != .none, let hash = try await tx.protectionHash(siteID: siteID) else {
                return nil
            }
            return ProtectionSecret(
                mode: site.protection.mode, username: site.protection.username, version: site.protection.version,
                passwordHash: hash)
        }
    }
}

extension PostgresCatalog.Transaction {
    /// Seals every clear secret, and seals again every secret sealed under
    /// a key that is no longer the first; returns how many rows changed.
    func resealSecrets() async throws -> Int {
        var rewritten = 0
        // Row locks: two nodes starting at once each write a sealed value.
        let sites = try await rows(
            """
            SELECT id, repo_url, env, webhook_secret, notify_url, repo_token FROM site ORDER BY id
            FOR NO KEY UPDATE
            """)
        for row in sites {
            let id = SiteID(unchecked: try row["id"].decode(String.self))
            let stored = SealedFields.SiteColumns(
                repoURL: try row["repo_url"].decode(String.self), env: try row["env"].decode(String.self),
                webhookSecret: try row["webhook_secret"].decode(String?.self),
                notifyURL: try row["notify_url"].decode(String?.self),
                repoToken: try row["repo_token"].decode(String?.self))
            guard let new = try sealed.resealed(stored, siteID: id) else { continue }
            try await rows(
                """
                UPDATE site SET repo_url = \(new.repoURL), env = \(new.env), webhook_secret = \(new.webhookSecret),
                    notify_url = \(new.notifyURL), repo_token = \(new.repoToken)
                WHERE id = \(id.rawValue)
                """)
            rewritten += 1
        }
        // Site events kept for the fleet's buses hold sealed secrets too.
        for row in try await rows(
            "SELECT seq, payload FROM catalog_event WHERE payload LIKE '%sealed:v1:%' FOR NO KEY UPDATE")
        {
            let payload = try row["payload"].decode(String.self)
            guard let stored = try? StoredEvent.decode(payload), let site = stored.site,
                site.env.contains(where: { $0.secret && sealed.needsSealing($0.value) })
                    || sealed.needsSealing(site.notifyURL.flatMap { SecretKeyring.isSealed($0) ? $0 : nil }),
                let event = stored.event(opening: sealed)
            else { continue }
            let resealed = try StoredEvent(event, sealed: sealed).encoded()
            try await rows(
                "UPDATE catalog_event SET payload = \(resealed) WHERE seq = \(try row["seq"].decode(Int64.self))")
            rewritten += 1
        }
        // Pending and kept notifications hold a copy of the notify URL.
        for row in try await rows("SELECT id, site_id, url FROM notification FOR NO KEY UPDATE") {
            let id = SiteID(unchecked: try row["site_id"].decode(String.self))
            let url = try row["url"].decode(String.self)
            guard sealed.needsSealing(url) else { continue }
            let newURL = sealed.seal(try sealed.open(url, .notifyURL, siteID: id), .notifyURL, siteID: id)
            try await rows("UPDATE notification SET url = \(newURL) WHERE id = \(try row["id"].decode(String.self))")
            rewritten += 1
        }
        return rewritten
    }

    func protectionHash(siteID: SiteID) async throws -> String? {
        try await rows("SELECT protection_hash FROM site WHERE id = \(siteID.rawValue)").first?[0].decode(String?.self)
    }

    /// Writes the protection columns (`v5-site-protection`).
    func storeProtection(_ protection: SiteProtection, passwordHash: String?, siteID: SiteID) async throws {
        try await rows(
            """
            UPDATE site SET protection_mode = \(protection.mode.rawValue),
                protection_username = \(protection.username), protection_previews_only = \(protection.previewsOnly),
                protection_version = \(protection.version), protection_hash = \(passwordHash)
            WHERE id = \(siteID.rawValue)
            """)
    }

    func slugIsTaken(_ slug: String, except id: SiteID?) async throws -> Bool {
        let rows = try await rows(
            "SELECT EXISTS (SELECT 1 FROM site WHERE slug = \(slug) AND id IS DISTINCT FROM \(id?.rawValue))")
        return try rows.first?[0].decode(Bool.self) ?? false
    }
}
