import Foundation
import GRDB
public import Model

extension SQLiteCatalog {
    public func activate(siteID: SiteID, buildID: BuildID, allowOlder: Bool) async throws -> ActivationOutcome {
        try await write { db, now, events in
            // Reading the site and the build and switching the pointer in one
            // IMMEDIATE transaction makes concurrent activations serialise:
            // each sees the pointer the previous one left.
            let site = try self.fetchSite(db, id: siteID)
            let build = try Self.fetchBuild(db, id: buildID)
            return try Self.activate(build, of: site, allowOlder: allowOlder, in: db, now: now, events: &events)
        }
    }

    /// Makes `build` the active build of `site`, inside the caller's write
    /// transaction (``activate(siteID:buildID:allowOlder:)``, and
    /// ``finishBuild(buildID:workerID:result:activate:)`` for a success).
    static func activate(
        _ build: Build, of site: Site, allowOlder: Bool, in db: Database, now: Int64, events: inout EventSink
    ) throws -> ActivationOutcome {
        guard build.siteID == site.id else { throw CatalogError.buildOfAnotherSite(build, site: site) }
        guard build.status == .success else { throw CatalogError.buildNotSuccessful(build, site: site) }
        // The build's notification waited for this decision, whatever it is.
        try releaseNotification(of: build.id, in: db, now: now)
        if site.activeBuildID == build.id { return .alreadyActive }
        if let activeID = site.activeBuildID, !allowOlder,
            let activeNumber = try Int.fetchOne(
                db, sql: "SELECT number FROM build WHERE id = ?", arguments: [activeID.rawValue]
            ),
            activeNumber > build.number
        {
            return .skippedOlder(active: activeID)
        }
        try db.execute(
            sql: "UPDATE site SET active_build_id = ? WHERE id = ?",
            arguments: [build.id.rawValue, site.id.rawValue]
        )
        // The build it replaces is remembered with the time (skew protection).
        try db.execute(sql: "UPDATE build SET replaced_at = NULL WHERE id = ?", arguments: [build.id.rawValue])
        if let previous = site.activeBuildID {
            try db.execute(
                sql: "UPDATE build SET replaced_at = ? WHERE id = ?", arguments: [now, previous.rawValue])
        }
        events.publish(
            .activated(
                Activation(
                    siteID: site.id, buildID: build.id, buildNumber: build.number,
                    previousBuildID: site.activeBuildID)
            )
        )
        return .activated(previous: site.activeBuildID)
    }
}

extension CatalogError {
    /// `not_activatable`: `build` is not one of `site`'s builds.
    package static func buildOfAnotherSite(_ build: Build, site: Site) -> CatalogError {
        .notActivatable(
            "build #\(build.number) (\(build.id)) belongs to another deployment, not '\(site.slug)'; pick one of '\(site.slug)''s builds"
        )
    }

    /// `not_activatable`: `build` did not succeed.
    package static func buildNotSuccessful(_ build: Build, site: Site) -> CatalogError {
        .notActivatable(
            "build #\(build.number) of '\(site.slug)' is \(build.status), not success; only a successful build can be served — pick one from the deployment's builds"
        )
    }
}
