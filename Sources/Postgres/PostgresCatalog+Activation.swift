import Foundation
public import Model
import PostgresNIO
public import Storage

extension PostgresCatalog {
    public func activate(siteID: SiteID, buildID: BuildID, allowOlder: Bool) async throws -> ActivationOutcome {
        try await write { tx in
            // The site's row lock makes concurrent activations take turns:
            // each sees the pointer the previous one left, so without
            // `allowOlder` the pointer only moves forward.
            let site = try await tx.site(id: siteID, lock: true)
            let build = try await tx.build(id: buildID)
            return try await tx.activate(build, of: site, allowOlder: allowOlder)
        }
    }
}

extension PostgresCatalog.Transaction {
    /// Makes `build` the active build of `site`, whose row the caller locked.
    func activate(_ build: Build, of site: Site, allowOlder: Bool) async throws -> ActivationOutcome {
        guard build.siteID == site.id else { throw CatalogError.buildOfAnotherSite(build, site: site) }
        guard build.status == .success else { throw CatalogError.buildNotSuccessful(build, site: site) }
        // The build's notification waited for this decision, whatever it is.
        try await releaseNotification(of: build.id)
        if site.activeBuildID == build.id { return .alreadyActive }
        if let activeID = site.activeBuildID, !allowOlder,
            let activeNumber = try await rows("SELECT number FROM build WHERE id = \(activeID.rawValue)").first?[0]
                .decode(Int.self),
            activeNumber > build.number
        {
            return .skippedOlder(active: activeID)
        }
        try await rows("UPDATE site SET active_build_id = \(build.id.rawValue) WHERE id = \(site.id.rawValue)")
        // The build it replaces is remembered with the time (skew protection).
        try await rows("UPDATE build SET replaced_at = NULL WHERE id = \(build.id.rawValue)")
        if let previous = site.activeBuildID {
            try await rows("UPDATE build SET replaced_at = \(now) WHERE id = \(previous.rawValue)")
        }
        try await publish(
            .activated(
                Activation(
                    siteID: site.id, buildID: build.id, buildNumber: build.number, previousBuildID: site.activeBuildID)
            )
        )
        return .activated(previous: site.activeBuildID)
    }
}
