/// Why a catalog operation was refused or failed.
///
/// Every refusal a user or a worker can cause has its own ``Code`` and a
/// message that names the deployment, build or field involved and says what
/// to do. A refused operation never leaves anything half-written: the
/// transaction it ran in is rolled back.
public struct CatalogError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. `rawValue` is short, snake_case and stable: the
    /// admin API returns it as `error.code` and it is safe as a metrics label.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The slug breaks the slug rules (see ``SlugRules``).
        public static let slugInvalid = Code(rawValue: "slug_invalid")
        /// Another deployment already uses the slug.
        public static let slugTaken = Code(rawValue: "slug_taken")
        /// No site with that id or slug.
        public static let siteNotFound = Code(rawValue: "site_not_found")
        /// No build with that id.
        public static let buildNotFound = Code(rawValue: "build_not_found")
        /// The build's status does not allow the requested change.
        public static let illegalTransition = Code(rawValue: "illegal_transition")
        /// The queue holds as many queued builds as it accepts.
        public static let queueFull = Code(rawValue: "queue_full")
        /// The worker no longer holds the build's lease: it expired and was
        /// swept, or another worker holds it. The worker must stop the build.
        public static let leaseLost = Code(rawValue: "lease_lost")
        /// The build was canceled while a worker held it. The worker must stop.
        public static let buildCanceled = Code(rawValue: "build_canceled")
        /// The build cannot become the site's active build (not successful,
        /// or another site's build).
        public static let notActivatable = Code(rawValue: "not_activatable")
        /// The build cannot be deleted yet (active, unfinished or still leased).
        public static let buildInUse = Code(rawValue: "build_in_use")
        /// No notification with that id (its deployment was deleted).
        public static let notificationNotFound = Code(rawValue: "notification_not_found")
        /// A field is missing, too long or malformed.
        public static let invalidInput = Code(rawValue: "invalid_input")
        /// The database could not be reached or answered with an error.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The catalog was closed.
        public static let closed = Code(rawValue: "closed")
        /// The host name belongs to a deployment already.
        public static let domainTaken = Code(rawValue: "domain_taken")
        /// No custom domain with that host name on that deployment.
        public static let domainNotFound = Code(rawValue: "domain_not_found")
        /// The deployment has as many custom domains as it may.
        public static let domainLimit = Code(rawValue: "domain_limit")
        /// A blob is being deleted by the collector: store it again in a moment.
        public static let blobCollecting = Code(rawValue: "blob_collecting")
        /// No upload with that id (it expired and was removed, or never was).
        public static let uploadNotFound = Code(rawValue: "upload_not_found")
        /// The upload was finished already, or expired: start a new one.
        public static let uploadClosed = Code(rawValue: "upload_closed")
    }

    public let code: Code
    /// A sentence for people: what was wrong and what to do.
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The HTTP status the admin API answers with for this error.
    public var httpStatus: Int {
        switch code {
        case .siteNotFound, .buildNotFound, .notificationNotFound, .domainNotFound, .uploadNotFound: 404
        case .slugTaken, .illegalTransition, .leaseLost, .buildCanceled, .notActivatable, .buildInUse, .domainTaken,
            .uploadClosed:
            409
        case .slugInvalid, .invalidInput, .domainLimit: 422
        case .queueFull: 429
        default: 503
        }
    }

    // MARK: Constructors

    package static func slugInvalid(_ problem: String) -> CatalogError {
        CatalogError(code: .slugInvalid, message: problem)
    }

    package static func slugTaken(_ slug: String) -> CatalogError {
        CatalogError(
            code: .slugTaken,
            message:
                "the slug '\(slug)' is already used by another deployment; choose another slug or leave it out to have one derived"
        )
    }

    package static func siteNotFound(id: SiteID) -> CatalogError {
        CatalogError(code: .siteNotFound, message: "no deployment with id '\(id)'; list deployments to find its id")
    }

    package static func siteNotFound(slug: String) -> CatalogError {
        CatalogError(
            code: .siteNotFound,
            message: "no deployment with slug '\(slug.prefix(80))'; list deployments to find its slug")
    }

    package static func buildNotFound(_ id: BuildID) -> CatalogError {
        CatalogError(
            code: .buildNotFound, message: "no build with id '\(id)'; it may have been deleted with its deployment")
    }

    package static func illegalTransition(_ build: Build, to action: String, allowedFrom: String) -> CatalogError {
        CatalogError(
            code: .illegalTransition,
            message:
                "cannot \(action) build #\(build.number) (\(build.id)): it is \(build.status.rawValue); only \(allowedFrom) builds can"
        )
    }

    package static func queueFull(limit: Int) -> CatalogError {
        CatalogError(
            code: .queueFull,
            message:
                "the build queue already holds \(limit) queued builds, its limit; retry once some have started, or cancel queued builds"
        )
    }

    package static func leaseLost(_ build: Build, workerID: String) -> CatalogError {
        let holder =
            build.leaseOwner.map { "it is leased by worker '\($0)'" } ?? "it is \(build.status.rawValue) and not leased"
        return CatalogError(
            code: .leaseLost,
            message:
                "worker '\(workerID)' no longer holds the lease of build #\(build.number) (\(build.id)): \(holder); stop working on it"
        )
    }

    package static func notificationNotFound(_ id: String) -> CatalogError {
        CatalogError(
            code: .notificationNotFound,
            message:
                "no notification with id '\(id.prefix(40))'; it was deleted with its deployment, or pruned once finished"
        )
    }

    package static func notificationLeaseLost(_ delivery: NotificationDelivery, owner: String) -> CatalogError {
        let holder =
            delivery.leaseOwner.map { "sender '\($0)' holds it now" }
            ?? (delivery.state == .pending ? "it is no longer leased" : "it is already \(delivery.state.rawValue)")
        return CatalogError(
            code: .leaseLost,
            message:
                "sender '\(owner)' no longer holds notification \(delivery.id) of build \(delivery.buildID): \(holder); drop the result"
        )
    }

    package static func buildCanceled(_ build: Build) -> CatalogError {
        CatalogError(
            code: .buildCanceled, message: "build #\(build.number) (\(build.id)) was canceled; stop working on it")
    }

    package static func notActivatable(_ message: String) -> CatalogError {
        CatalogError(code: .notActivatable, message: message)
    }

    package static func buildInUse(_ build: Build, _ reason: String) -> CatalogError {
        CatalogError(code: .buildInUse, message: "build #\(build.number) (\(build.id)) cannot be deleted: \(reason)")
    }

    package static func invalidInput(_ message: String) -> CatalogError {
        CatalogError(code: .invalidInput, message: message)
    }

    package static func unavailable(_ message: String) -> CatalogError {
        CatalogError(code: .unavailable, message: message)
    }

    package static let closed = CatalogError(
        code: .closed, message: "the catalog is closed; this Slipway process is shutting down")
}

extension CatalogError {
    package static func domainTaken(_ hostname: String) -> CatalogError {
        CatalogError(
            code: .domainTaken,
            message:
                "the domain '\(hostname)' is already added to a deployment; remove it there first (slipway domains rm), or choose another name"
        )
    }

    package static func domainNotFound(_ hostname: String) -> CatalogError {
        CatalogError(
            code: .domainNotFound,
            message: "no custom domain '\(hostname.prefix(253))' on this deployment; list them with slipway domains ls")
    }

    package static func domainLimit(_ limit: Int) -> CatalogError {
        CatalogError(
            code: .domainLimit,
            message:
                "the deployment would have more than \(limit) custom domains, its limit; remove some first, or raise SLIPWAY_MAX_DOMAINS_PER_DEPLOYMENT"
        )
    }
}
