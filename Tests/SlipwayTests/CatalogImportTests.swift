import Foundation
import Model
import Postgres
import SlipwayTestSupport
import Storage
import Synchronization
import Testing

/// `slipway catalog import`, the real executable: a SQLite catalog with
/// builds in every status is copied into a fresh PostgreSQL schema, which
/// `PostgresCatalog` then serves as if it had written the rows itself.
@Suite(.enabled(if: TestPostgres.shouldRun, "needs PostgreSQL: run scripts/test"))
struct CatalogImportTests {
    static let webhookSecret = "whsec-" + String(repeating: "a1", count: 20)
    static let password = "Sup3rSecretPw"
    /// Beta's protection: Basic, previews only, its hash copied as it is.
    static let protectionHash = PasswordHash.make("preview password", cost: PasswordHash.Cost(n: 16, r: 1, p: 1))

    /// A clock the SQLite catalog reads, moved by hand: an hour ago, so
    /// every copied time is in the past for PostgreSQL's clock.
    final class Clock: Sendable {
        private let now = Mutex(Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 3600).rounded()))
        var date: Date { now.withLock { $0 } }
        func advance() { now.withLock { $0 += 1.5 } }
    }

    /// What the SQLite catalog held when it was closed.
    struct Source {
        let path: String
        let alpha: Site
        let beta: Site
        /// Every build, by id.
        let builds: [BuildID: Build]
        let running: BuildID
        let notifications: [NotificationDelivery]
        let betaWebhookSecret: String?
        /// A revoked API token and the secret of an active one.
        let tokens: [APIToken]
        let tokenSecret: String
        let auditEvents: [AuditEvent]
        /// An apex/`www` pair, one of them active with a certificate.
        let domains: [CustomDomain]
    }

    /// Two sites; builds queued, running, succeeded (and live), failed and
    /// canceled; a secret variable; notifications (one delivered) and a
    /// webhook delivery.
    static func makeSource() async throws -> Source {
        let clock = Clock()
        let directory = temporaryDirectory()
        let catalog = try SQLiteCatalog(dataDirectory: directory, clock: { clock.date })
        do {
            let alpha = try await catalog.createSite(
                SiteDraft(
                    slug: "alpha", repoURL: "https://example.com/alpha.git", branch: "trunk", rootDir: "web",
                    buildCommand: "make site", outputDir: "public", spa: .spa,
                    env: [
                        BuildVariable(name: "PUBLIC_NAME", value: "Alpha", secret: false),
                        BuildVariable(name: "API_TOKEN", value: "tok-secret-value", secret: true),
                    ],
                    notifyURL: "https://hooks.example.com/slipway", webhookSecret: webhookSecret))
            clock.advance()
            let beta = try await catalog.createSite(SiteDraft(slug: "beta", repoURL: "https://example.com/beta.git"))
            clock.advance()
            _ = try await catalog.updateSite(id: beta.id) {
                $0.protection = SiteProtection(mode: .basic, username: "team", previewsOnly: true)
                $0.newPasswordHash = protectionHash
            }

            func run(_ site: Site, _ result: BuildResult?, commit: String? = nil) async throws -> Build {
                clock.advance()
                let queued = try await catalog.createBuild(siteID: site.id, BuildRequest(trigger: "api"))
                clock.advance()
                let claimed = try #require(try await catalog.claimNextBuild(workerID: "sqlite-worker"))
                #expect(claimed.id == queued.id)
                if let commit {
                    _ = try await catalog.recordCommit(
                        buildID: claimed.id, workerID: "sqlite-worker", sha: commit, message: "a commit")
                }
                guard let result else { return claimed }
                clock.advance()
                return try await catalog.finishBuild(
                    buildID: claimed.id, workerID: "sqlite-worker", result: result, activate: true
                ).build
            }
            let live = try await run(
                alpha, .success(fileCount: 12, bytes: 34_567), commit: String(repeating: "c", count: 40))
            _ = try await run(alpha, .failure(message: "npm run build exited with status 1", retryable: false))
            _ = try await run(beta, .success(fileCount: 3, bytes: 999))
            let running = try await run(alpha, nil)
            clock.advance()
            _ = try await catalog.createBuild(siteID: alpha.id, BuildRequest(priority: 0, trigger: "webhook"))
            clock.advance()
            let doomed = try await catalog.createBuild(siteID: alpha.id, BuildRequest())
            clock.advance()
            _ = try await catalog.cancelBuild(id: doomed.id)
            clock.advance()
            _ = try await catalog.createBuild(
                siteID: beta.id, BuildRequest(commitSHA: String(repeating: "d", count: 40)))

            // One notification delivered, the others pending.
            clock.advance()
            let claimed = try #require(
                try await catalog.claimNotification(owner: "sqlite-sender", leaseDuration: .seconds(30)))
            clock.advance()
            _ = try await catalog.completeNotification(
                id: claimed.delivery.id, owner: "sqlite-sender", result: .delivered(status: 204))
            clock.advance()
            #expect(try await catalog.recordWebhookDelivery(id: "gh-delivery-1", siteID: alpha.id))
            // API tokens (one revoked) and the audit log.
            let tokenSecret = APITokenSecret.generate()
            clock.advance()
            let active = try await catalog.createAPIToken(
                APITokenDraft(
                    name: "ci", scope: .deploy(slug: "alpha"), secretDigest: APITokenSecret.digest(of: tokenSecret),
                    expiresAt: clock.date.addingTimeInterval(86_400), createdBy: "bootstrap"))
            _ = try await catalog.recordAPITokenUse(id: active.id, minimumInterval: .seconds(60))
            clock.advance()
            let old = try await catalog.createAPIToken(
                APITokenDraft(
                    name: "old", scope: .read, secretDigest: APITokenSecret.digest(of: APITokenSecret.generate())))
            _ = try await catalog.revokeAPIToken(id: old.id)
            try await catalog.recordAuditEvents([
                AuditEventDraft(
                    tokenID: active.id, tokenName: "ci", action: "build.trigger", target: "alpha", outcome: 202,
                    clientAddress: "192.0.2.1"),
                AuditEventDraft(
                    tokenID: nil, tokenName: nil, action: "auth.failed", target: nil, outcome: 401,
                    clientAddress: "203.0.113.9", count: 4),
            ])

            // A custom domain pair, the apex active with a certificate.
            clock.advance()
            _ = try await catalog.addDomains(
                siteID: alpha.id,
                [
                    CustomDomainDraft(hostname: "example.com", apex: true, pairedWith: "www.example.com"),
                    CustomDomainDraft(
                        hostname: "www.example.com", apex: false, pairedWith: "example.com", redirectTo: "example.com",
                        hstsMaxAge: 600),
                ], limit: 10)
            let issued = clock.date
            try await catalog.updateDomain(hostname: "example.com") { domain in
                domain.status = .active
                domain.verifiedAt = issued
                domain.certificateStatus = .active
                domain.certificate = DomainCertificate(
                    chainKey: "tls/certs/example.com/aa.pem", keyKey: "tls/keys/example.com/aa.key.enc",
                    sha256: String(repeating: "a", count: 64), notBefore: issued,
                    notAfter: issued.addingTimeInterval(7_776_000), renewAt: issued.addingTimeInterval(5_184_000),
                    source: .acme)
                domain.lastError = DomainProblem(code: "not_routed", detail: "was not routed once", at: issued)
            }

            var builds: [BuildID: Build] = [:]
            var notifications: [NotificationDelivery] = []
            for site in [alpha, beta] {
                for build in try await catalog.builds(siteID: site.id, limit: 200).builds {
                    builds[build.id] = build
                    notifications += try await catalog.notifications(buildID: build.id)
                }
            }
            let source = Source(
                path: catalog.path, alpha: try await catalog.site(id: alpha.id),
                beta: try await catalog.site(id: beta.id),
                builds: builds, running: running.id, notifications: notifications,
                betaWebhookSecret: try await catalog.webhookSecret(siteID: beta.id),
                tokens: try await catalog.apiTokens(), tokenSecret: tokenSecret,
                auditEvents: try await catalog.auditEvents(AuditQuery()).events,
                domains: try await catalog.allDomains())
            #expect(source.alpha.activeBuildID == live.id)
            #expect(builds.count == 7)
            #expect(notifications.count == 3)
            #expect(notifications.contains { $0.state == .delivered })
            try await catalog.close()
            return source
        } catch {
            try? await catalog.close()
            throw error
        }
    }

    /// Runs `slipway catalog import` to its end; its status and output.
    static func runImport(_ arguments: [String], environment: [String: String] = [:]) async throws
        -> (status: Int32, output: String, error: String)
    {
        let environment = environment.merging(["SLIPWAY_SECRET_KEY": TestPostgres.secretKey]) { given, _ in given }
        let process = try SlipwayProcess.start(["catalog", "import"] + arguments, environment: environment)
        let status = try await process.waitForExit(timeout: .seconds(90))
        return (status, process.output, process.errorOutput)
    }

    @Test func copiesEverythingIntoAnEmptySchemaAndRefusesASecondImport() async throws {
        let source = try await Self.makeSource()
        try await TestPostgres.withSchema { settings in
            let url = try TestPostgres.url(for: settings, applicationName: "catalog-import-\(settings.schema)")
            let imported = try await Self.runImport(
                ["--from", source.path], environment: ["SLIPWAY_DATABASE_URL": url])
            #expect(imported.status == 0, "\(imported.output)\n\(imported.error)")
            #expect(imported.output.contains("2 deployments"), "\(imported.output)")
            #expect(imported.output.contains("7 builds (1 that was running queued again)"), "\(imported.output)")
            #expect(imported.output.contains("3 notifications"), "\(imported.output)")
            #expect(imported.output.contains("1 webhook delivery"), "\(imported.output)")
            #expect(imported.output.contains("2 API tokens"), "\(imported.output)")
            #expect(imported.output.contains("2 audit log entries"), "\(imported.output)")

            // Nothing holds a site's claim mutex.
            #expect(
                try await TestPostgres.strings(
                    "SELECT coalesce(claimed_build_id, 'none') FROM site", settings: settings) == ["none", "none"])

            let catalog = try await PostgresCatalog.open(
                settings: settings, connectTimeout: .seconds(120), keyring: TestPostgres.keyring,
                logger: TestPostgres.logger)
            do {
                try await Self.check(catalog, against: source, settings: settings)
            } catch {
                try? await catalog.close()
                throw error
            }
            try await catalog.close()

            // A second import finds the schema in use and changes nothing.
            let snapshot = "SELECT id || ':' || status || ':' || number FROM build ORDER BY id"
            let before = try await TestPostgres.strings(snapshot, settings: settings)
            let again = try await Self.runImport(["--from", source.path, "--to", url])
            #expect(again.status == 1, "\(again.output)\n\(again.error)")
            #expect(again.error.contains("is not empty: it holds 2 deployment(s) and 9 build(s)"), "\(again.error)")
            #expect(again.error.contains("nothing was changed"), "\(again.error)")
            #expect(try await TestPostgres.strings(snapshot, settings: settings) == before)
        }
    }

    /// What `PostgresCatalog` reads from the imported schema.
    static func check(_ catalog: PostgresCatalog, against source: Source, settings: PostgresSettings) async throws {
        // Sites: settings, variables with their secret values, active build, times.
        #expect(try await catalog.sites() == [source.alpha, source.beta])
        let alpha = try await catalog.site(slug: "alpha")
        #expect(alpha.env.first { $0.name == "API_TOKEN" }?.value == "tok-secret-value")
        #expect(alpha.activeBuildID != nil)
        #expect(try await catalog.webhookSecret(siteID: alpha.id) == webhookSecret)
        #expect(source.betaWebhookSecret != nil)
        #expect(try await catalog.webhookSecret(siteID: source.beta.id) == source.betaWebhookSecret)
        // Protection: the settings (compared with the sites above) and the hash.
        #expect(
            source.beta.protection == SiteProtection(mode: .basic, username: "team", previewsOnly: true, version: 1))
        #expect(try await catalog.protectionSecret(siteID: source.beta.id)?.passwordHash == protectionHash)
        #expect(try await catalog.protectionSecret(siteID: alpha.id) == nil)

        // Builds: numbers, statuses and times as they were; the running one queued again.
        var expected = source.builds
        var running = try #require(expected[source.running])
        #expect(running.status == .building)
        running.status = .queued
        running.startedAt = nil
        running.leaseOwner = nil
        running.leaseExpiresAt = nil
        expected[source.running] = running
        var copied: [BuildID: Build] = [:]
        for site in [source.alpha, source.beta] {
            for build in try await catalog.builds(siteID: site.id, limit: 200).builds { copied[build.id] = build }
        }
        #expect(copied == expected)
        #expect(Set(copied.values.map(\.status)) == [.queued, .success, .failed, .canceled])
        #expect(copied.values.filter { $0.siteID == source.alpha.id }.map(\.number).sorted() == [1, 2, 3, 4, 5])

        // Notifications and the webhook delivery.
        var notifications: [NotificationDelivery] = []
        for build in source.builds.keys { notifications += try await catalog.notifications(buildID: build) }
        #expect(Set(notifications) == Set(source.notifications))
        #expect(
            try await TestPostgres.strings(
                "SELECT site_id || ' ' || delivery_id FROM webhook_delivery", settings: settings)
                == ["\(source.alpha.id.rawValue) gh-delivery-1"])
        #expect(try await catalog.recordWebhookDelivery(id: "gh-delivery-1", siteID: source.alpha.id) == false)

        // API tokens as they were (only digests), found by their secret; the audit log with its ids.
        #expect(try await catalog.apiTokens() == source.tokens)
        #expect(source.tokens.contains { $0.revokedAt != nil } && source.tokens.contains { $0.lastUsedAt != nil })
        let found = try await catalog.apiToken(secretDigest: APITokenSecret.digest(of: source.tokenSecret))
        #expect(found?.name == "ci" && found?.scope == .deploy(slug: "alpha"))
        #expect(try await catalog.auditEvents(AuditQuery()).events == source.auditEvents)
        #expect(try await catalog.allDomains() == source.domains && source.domains.count == 2)
        try await catalog.recordAuditEvents([
            AuditEventDraft(
                tokenID: nil, tokenName: nil, action: "after", target: nil, outcome: 200, clientAddress: nil)
        ])
        let newest = try #require(try await catalog.auditEvents(AuditQuery(limit: 1)).events.first)
        #expect(newest.action == "after" && newest.id > (source.auditEvents.map(\.id).max() ?? 0))

        // The counters go on, and the identity sequence continues after the copied rows.
        let next = try await catalog.createBuild(siteID: source.alpha.id, BuildRequest())
        #expect(next.number == 6)
        #expect(
            try await TestPostgres.strings(
                "SELECT ((SELECT seq FROM build WHERE id = '\(next.id.rawValue)') > (SELECT max(seq) FROM build WHERE id <> '\(next.id.rawValue)'))::text",
                settings: settings) == ["true"])
        #expect(try await catalog.createBuild(siteID: source.beta.id, BuildRequest()).number == 3)

        // The build that was running is the oldest queued one: the next claim takes it.
        let claimed = try #require(try await catalog.claimNextBuild(workerID: "fleet-worker"))
        #expect(claimed.id == source.running)
        #expect(claimed.status == .building)
        #expect(claimed.attempt == running.attempt)
        #expect(
            try await TestPostgres.strings(
                "SELECT claimed_build_id FROM site WHERE id = '\(source.alpha.id.rawValue)'", settings: settings)
                == [source.running.rawValue])
    }

    @Test func refusesABadURLWithoutPrintingThePassword() async throws {
        let source = try await Self.makeSource()
        let malformed = try await Self.runImport([
            "--from", source.path,
            "--to", "postgres://slipway:\(Self.password)@127.0.0.1:25432/slipway_test?sslmode=sometimes",
        ])
        #expect(malformed.status == 2, "\(malformed.output)\n\(malformed.error)")
        #expect(malformed.error.contains("sslmode=sometimes"), "\(malformed.error)")
        #expect(!(malformed.output + malformed.error).contains(Self.password))

        let unreachable = try await Self.runImport(
            ["--from", source.path],
            environment: [
                "SLIPWAY_DATABASE_URL": "postgres://slipway:\(Self.password)@127.0.0.1:1/nowhere?sslmode=disable"
            ])
        #expect(unreachable.status == 1, "\(unreachable.output)\n\(unreachable.error)")
        #expect(unreachable.error.contains("postgres://slipway:***@127.0.0.1:1/nowhere"), "\(unreachable.error)")
        #expect(!(unreachable.output + unreachable.error).contains(Self.password))

        let sqliteURL = try await Self.runImport(
            ["--from", source.path], environment: ["SLIPWAY_DATABASE_URL": "sqlite:\(source.path)"])
        #expect(sqliteURL.status == 2, "\(sqliteURL.error)")
        #expect(sqliteURL.error.contains("must be a postgres:// or postgresql:// URL"), "\(sqliteURL.error)")
    }

    @Test func refusesASourceThatIsNoCatalog() async throws {
        try await TestPostgres.withSchema { settings in
            let url = try TestPostgres.url(for: settings, applicationName: "catalog-import-\(settings.schema)")
            let missing = try await Self.runImport(["--from", "/nonexistent/catalog.sqlite", "--to", url])
            #expect(missing.status == 1)
            #expect(missing.error.contains("there is no file at /nonexistent/catalog.sqlite"), "\(missing.error)")

            let text = temporaryDirectory() + "/notes.txt"
            try Data("not a database, just some notes\n".utf8).write(to: URL(fileURLWithPath: text))
            let notSQLite = try await Self.runImport(["--from", text, "--to", url])
            #expect(notSQLite.status == 1)
            #expect(notSQLite.error.contains("\(text)"), "\(notSQLite.error)")

            // Neither reached PostgreSQL: the schema holds no table.
            #expect(
                try await TestPostgres.strings(
                    "SELECT count(*)::text FROM pg_tables WHERE schemaname = '\(settings.schema)'", settings: settings)
                    == ["0"])
        }
    }
}
