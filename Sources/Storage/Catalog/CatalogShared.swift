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
