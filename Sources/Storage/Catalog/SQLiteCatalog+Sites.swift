import Foundation
import GRDB
public import Model

extension SQLiteCatalog {
    public func createSite(_ draft: SiteDraft) async throws -> Site {
        let webhookSecret = try CatalogRules.webhookSecret(of: draft)
        let repoToken = try CatalogRules.repoToken(draft.repoToken)
        return try await write { db, now, events in
            let slug: String
            if let given = draft.slug {
                if try Self.slugIsTaken(db, given, except: nil) { throw CatalogError.slugTaken(given) }
                slug = given
            } else {
                let base = SlugRules.derive(fromRepository: draft.repoURL)
                let taken = try String.fetchSet(
                    db, sql: "SELECT slug FROM site WHERE slug = ? OR slug LIKE ?", arguments: [base, base + "-%"]
                )
                slug = SlugRules.unique(base, avoiding: taken)
            }
            let settings = try SiteSettings(
                slug: slug, repoURL: draft.repoURL, branch: draft.branch, rootDir: draft.rootDir,
                installCommand: draft.installCommand, buildCommand: draft.buildCommand, outputDir: draft.outputDir,
                spa: draft.spa, env: draft.env, notifyURL: draft.notifyURL, protection: draft.protection,
                newPasswordHash: draft.passwordHash
            ).validated()
            let (protection, passwordHash) = try CatalogRules.protection(
                current: .none, currentHash: nil, settings: settings)
            let id = SiteID.generate(at: Millis.date(now))
            do {
                try db.execute(
                    sql: """
                        INSERT INTO site (id, slug, repo_url, branch, root_dir, install_command, build_command, output_dir,
                            spa, env, active_build_id, build_counter, created_at, updated_at, webhook_secret, notify_url,
                            repo_token)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        id.rawValue, settings.slug, settings.repoURL, settings.branch, settings.rootDir,
                        settings.installCommand, settings.buildCommand, settings.outputDir, settings.spa.rawValue,
                        try self.sealed.envJSON(settings.env, siteID: id), now, now,
                        self.sealed.seal(webhookSecret, .webhookSecret, siteID: id),
                        self.sealed.seal(settings.notifyURL, .notifyURL, siteID: id),
                        self.sealed.seal(repoToken, .repoToken, siteID: id),
                    ]
                )
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                throw CatalogError.slugTaken(settings.slug)
            }
            try Self.storeProtection(protection, passwordHash: passwordHash, siteID: id, in: db)
            let site = try self.fetchSite(db, id: id)
            events.publish(.siteCreated(site))
            return site
        }
    }

    public func site(id: SiteID) async throws -> Site {
        try await read { db, _ in try self.fetchSite(db, id: id) }
    }

    public func site(slug: String) async throws -> Site {
        try await read { db, _ in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM site WHERE slug = ?", arguments: [slug]) else {
                throw CatalogError.siteNotFound(slug: slug)
            }
            return try self.site(from: row)
        }
    }

    public func sites() async throws -> [Site] {
        try await read { db, _ in
            try Row.fetchAll(db, sql: "SELECT * FROM site ORDER BY slug").map(self.site(from:))
        }
    }

    public func updateSite(id: SiteID, _ edit: @escaping @Sendable (inout SiteSettings) -> Void) async throws -> Site {
        try await write { db, now, events in
            let current = try self.fetchSite(db, id: id)
            var settings = current.settings
            edit(&settings)
            settings = try settings.validated()
            guard settings != current.settings else { return current }
            if settings.slug != current.slug, try Self.slugIsTaken(db, settings.slug, except: id) {
                throw CatalogError.slugTaken(settings.slug)
            }
            do {
                try db.execute(
                    sql: """
                        UPDATE site SET slug = ?, repo_url = ?, branch = ?, root_dir = ?, install_command = ?,
                            build_command = ?, output_dir = ?, spa = ?, env = ?, notify_url = ?, updated_at = ?
                        WHERE id = ?
                        """,
                    arguments: [
                        settings.slug, settings.repoURL, settings.branch, settings.rootDir, settings.installCommand,
                        settings.buildCommand, settings.outputDir, settings.spa.rawValue,
                        try self.sealed.envJSON(settings.env, siteID: id),
                        self.sealed.seal(settings.notifyURL, .notifyURL, siteID: id),
                        max(now, Millis.from(current.updatedAt)), id.rawValue,
                    ]
                )
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                throw CatalogError.slugTaken(settings.slug)
            }
            let (protection, passwordHash) = try CatalogRules.protection(
                current: current.protection, currentHash: try Self.protectionHash(db, siteID: id), settings: settings)
            try Self.storeProtection(protection, passwordHash: passwordHash, siteID: id, in: db)
            let site = try self.fetchSite(db, id: id)
            events.publish(.siteUpdated(site))
            return site
        }
    }

    public func deleteSite(id: SiteID) async throws -> SiteDeletion {
        try await write { db, _, events in
            let site = try self.fetchSite(db, id: id)
            let builds = try Self.fetchBuilds(
                db, sql: "SELECT * FROM build WHERE site_id = ? ORDER BY number", arguments: [id.rawValue]
            )
            let domains = try Self.fetchDomains(
                db, sql: "SELECT * FROM custom_domain WHERE site_id = ?", arguments: [id.rawValue])
            try db.execute(sql: "DELETE FROM custom_domain WHERE site_id = ?", arguments: [id.rawValue])
            // Its blobs stay until the collector finds no other site has them.
            try db.execute(sql: "DELETE FROM site_blob WHERE site_id = ?", arguments: [id.rawValue])
            try db.execute(sql: "DELETE FROM build WHERE site_id = ?", arguments: [id.rawValue])
            try db.execute(sql: "DELETE FROM site WHERE id = ?", arguments: [id.rawValue])
            for domain in domains { events.publish(.domainRemoved(domain)) }
            events.publish(.siteDeleted(site))
            return SiteDeletion(site: site, builds: builds)
        }
    }

    public func webhookSecret(siteID: SiteID) async throws -> String? {
        try await read { db, _ in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT webhook_secret FROM site WHERE id = ?", arguments: [siteID.rawValue])
            else { throw CatalogError.siteNotFound(id: siteID) }
            return try self.sealed.open(row["webhook_secret"], .webhookSecret, siteID: siteID)
        }
    }

    public func rotateWebhookSecret(siteID: SiteID) async throws -> String {
        let secret = WebhookSecret.generate()
        try await write { db, _, _ in
            try db.execute(
                sql: "UPDATE site SET webhook_secret = ? WHERE id = ?",
                arguments: [self.sealed.seal(secret, .webhookSecret, siteID: siteID), siteID.rawValue])
            guard db.changesCount == 1 else { throw CatalogError.siteNotFound(id: siteID) }
        }
        return secret
    }

    public func repoToken(siteID: SiteID) async throws -> String? {
        try await read { db, _ in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT repo_token FROM site WHERE id = ?", arguments: [siteID.rawValue])
            else { throw CatalogError.siteNotFound(id: siteID) }
            return try self.sealed.open(row["repo_token"], .repoToken, siteID: siteID)
        }
    }

    public func setRepoToken(siteID: SiteID, _ token: String?) async throws -> Site {
        let token = try CatalogRules.repoToken(token)
        return try await write { db, now, events in
            let current = try self.fetchSite(db, id: siteID)
            try db.execute(
                sql: "UPDATE site SET repo_token = ?, updated_at = ? WHERE id = ?",
                arguments: [
                    self.sealed.seal(token, .repoToken, siteID: siteID), max(now, Millis.from(current.updatedAt)),
                    siteID.rawValue,
                ])
            let site = try self.fetchSite(db, id: siteID)
            events.publish(.siteUpdated(site))
            return site
        }
    }

    public func resealSecrets() async throws -> Int {
        try await write { db, _, _ in try self.resealRows(db) }
    }

    /// Seals every clear secret, and seals again every secret sealed under a
    /// key that is no longer the first; returns how many rows changed.
    func resealRows(_ db: Database) throws -> Int {
        var rewritten = 0
        let rows = try Row.fetchAll(
            db, sql: "SELECT id, repo_url, env, webhook_secret, notify_url, repo_token FROM site ORDER BY id")
        for row in rows {
            let id = SiteID(unchecked: row["id"])
            let stored = SealedFields.SiteColumns(
                repoURL: row["repo_url"], env: row["env"], webhookSecret: row["webhook_secret"],
                notifyURL: row["notify_url"], repoToken: row["repo_token"])
            guard let new = try sealed.resealed(stored, siteID: id) else { continue }
            try db.execute(
                sql: """
                    UPDATE site SET repo_url = ?, env = ?, webhook_secret = ?, notify_url = ?, repo_token = ?
                    WHERE id = ?
                    """,
                arguments: [new.repoURL, new.env, new.webhookSecret, new.notifyURL, new.repoToken, id.rawValue])
            rewritten += 1
        }
        // Pending and kept notifications hold a copy of the notify URL.
        for row in try Row.fetchAll(db, sql: "SELECT id, site_id, url FROM notification") {
            let id = SiteID(unchecked: row["site_id"])
            let url: String = row["url"]
            guard self.sealed.needsSealing(url) else { continue }
            try db.execute(
                sql: "UPDATE notification SET url = ? WHERE id = ?",
                arguments: [
                    self.sealed.seal(try self.sealed.open(url, .notifyURL, siteID: id), .notifyURL, siteID: id),
                    row["id"] as String,
                ])
            rewritten += 1
        }
        return rewritten
    }

    public func protectionSecret(siteID: SiteID) async throws -> ProtectionSecret? {
        try await read { db, _ in
            let site = try self.fetchSite(db, id: siteID)
            guard site.protection.mode != .none, let hash = try Self.protectionHash(db, siteID: siteID) else {
                return nil
            }
            return ProtectionSecret(
                mode: site.protection.mode, username: site.protection.username, version: site.protection.version,
                passwordHash: hash)
        }
    }

    static func protectionHash(_ db: Database, siteID: SiteID) throws -> String? {
        try String.fetchOne(db, sql: "SELECT protection_hash FROM site WHERE id = ?", arguments: [siteID.rawValue])
    }

    /// Writes the protection columns (`v8-site-protection`).
    static func storeProtection(_ protection: SiteProtection, passwordHash: String?, siteID: SiteID, in db: Database)
        throws
    {
        try db.execute(
            sql: """
                UPDATE site SET protection_mode = ?, protection_username = ?, protection_previews_only = ?,
                    protection_version = ?, protection_hash = ?
                WHERE id = ?
                """,
            arguments: [
                protection.mode.rawValue, protection.username, protection.previewsOnly, protection.version,
                passwordHash, siteID.rawValue,
            ])
    }

    static func slugIsTaken(_ db: Database, _ slug: String, except id: SiteID?) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM site WHERE slug = ? AND id IS NOT ?)",
            arguments: [slug, id?.rawValue]
        ) ?? false
    }
}
