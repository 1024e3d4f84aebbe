package import Model

/// What a worker's lease check found (every catalog's `holdingLease`).
package enum CatalogLeaseOutcome<T: Sendable>: Sendable {
    /// The worker holds the lease and the body ran.
    case held(T)
    /// The build was canceled; the worker's lease (if any) is now released.
    case canceled(Build)

    package func get() throws -> T {
        switch self {
        case .held(let value): return value
        case .canceled(let build): throw CatalogError.buildCanceled(build)
        }
    }
}

/// Which builds retention may delete (``Catalog/deletableBuilds(siteID:keepSuccesses:)``).
package enum CatalogRetention {
    /// Of `finished` (newest first): all but the newest `keepSuccesses`
    /// successes, never the active build or one under a lease; oldest first.
    package static func deletable(_ finished: [Build], keepSuccesses: Int, active: BuildID?) -> [Build] {
        var successesKept = 0
        var deletable: [Build] = []
        for build in finished {
            if build.status == .success && successesKept < keepSuccesses {
                successesKept += 1
                continue
            }
            if build.id == active || build.leaseOwner != nil { continue }
            deletable.append(build)
        }
        return deletable.reversed()
    }
}

/// The checks and transitions every catalog applies the same way, so that
/// SQLite and PostgreSQL answer bad input with the same error.
package enum CatalogRules {
    /// Most builds one page may hold.
    package static let maxPageSize = 200

    /// The draft's webhook secret (a new one when it has none), after
    /// checking the draft's slug and the secret's length.
    package static func webhookSecret(of draft: SiteDraft) throws -> String {
        if let slug = draft.slug, let problem = SlugRules.problem(with: slug) {
            throw CatalogError.slugInvalid(problem)
        }
        let webhookSecret = draft.webhookSecret ?? WebhookSecret.generate()
        guard (WebhookSecret.minLength...WebhookSecret.maxLength).contains(webhookSecret.utf8.count) else {
            throw CatalogError.invalidInput(
                "the webhook secret must be \(WebhookSecret.minLength) to \(WebhookSecret.maxLength) bytes long")
        }
        return webhookSecret
    }

    /// A repository access token as given: nil or empty for none, else
    /// printable ASCII without spaces, at most ``RepoToken/maxLength`` bytes.
    package static func repoToken(_ token: String?) throws -> String? {
        guard let token, !token.isEmpty else { return nil }
        guard token.utf8.count <= RepoToken.maxLength, token.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw CatalogError.invalidInput(
                "repoToken must be at most \(RepoToken.maxLength) printable ASCII characters without spaces; paste the token itself"
            )
        }
        return token
    }

    /// The protection to store when a site's settings change from
    /// `current` (with a password hash stored or not) to `settings`
    /// (already validated), and the hash to store: turning protection on,
    /// or changing its mode or username, needs a new password; a new
    /// password raises the version by one, which signs everyone out.
    /// Turning protection off drops the hash and keeps the version, so
    /// turning it on again raises it past every cookie ever issued.
    package static func protection(
        current: SiteProtection, currentHash: String?, settings: SiteSettings
    ) throws -> (protection: SiteProtection, passwordHash: String?) {
        var next = settings.protection
        next.version = current.version
        guard next.mode != .none else { return (next, nil) }
        if let hash = settings.newPasswordHash {
            next.version = current.version + 1
            return (next, hash)
        }
        guard let currentHash, current.mode == next.mode, current.username == next.username else {
            throw CatalogError.invalidInput(
                "protection.password is required when turning protection on or changing its mode or username")
        }
        return (next, currentHash)
    }

    /// A build request's fields, checked and bounded.
    package static func fields(of request: BuildRequest) throws -> (
        trigger: String?, commitSHA: String?, commitMessage: String?
    ) {
        (
            try BuildFields.trigger(request.trigger), try BuildFields.commitSHA(request.commitSHA),
            BuildFields.commitMessage(request.commitMessage)
        )
    }

    /// A checked-out commit, checked and bounded.
    package static func commit(sha: String, message: String?) throws -> (sha: String, message: String?) {
        guard let sha = try BuildFields.commitSHA(sha) else {
            throw CatalogError.invalidInput("commitSha is empty; give the hash of the checked-out commit")
        }
        return (sha, BuildFields.commitMessage(message))
    }

    /// A page size, checked.
    package static func pageSize(_ limit: Int) throws {
        guard (1...maxPageSize).contains(limit) else {
            throw CatalogError.invalidInput("limit is \(limit); ask for 1 to \(maxPageSize) builds per page")
        }
    }

    /// Refuses a negative retry delay.
    package static func check(_ result: NotificationAttemptResult) throws {
        if case .retry(let delay, _, _) = result, delay < .zero {
            throw CatalogError.invalidInput("a retry delay must be 0 or more")
        }
    }

    /// `delivery` after its sender reported `result` at `now` (milliseconds):
    /// the lease ends; it is delivered, due again later, or given up.
    package static func complete(
        _ delivery: inout NotificationDelivery, with result: NotificationAttemptResult, now: Int64
    ) {
        delivery.leaseOwner = nil
        delivery.leaseExpiresAt = nil
        switch result {
        case .delivered(let status):
            delivery.state = .delivered
            delivery.finishedAt = Millis.date(now)
            delivery.lastStatus = status
            delivery.lastError = nil
        case .retry(let delay, let status, let error):
            delivery.nextAttemptAt = Millis.date(now + Millis.from(delay))
            delivery.lastStatus = status
            delivery.lastError = BuildFields.bounded(error, maxCharacters: BuildFields.maxErrorLength)
        case .gaveUp(let status, let error):
            delivery.state = .gaveUp
            delivery.finishedAt = Millis.date(now)
            delivery.lastStatus = status
            delivery.lastError = BuildFields.bounded(error, maxCharacters: BuildFields.maxErrorLength)
        }
    }
}
