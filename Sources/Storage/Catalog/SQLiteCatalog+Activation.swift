import Foundation
import GRDB
public import Model

extension SQLiteCatalog {
    public func activate(siteID: SiteID, buildID: BuildID, allowOlder: Bool) async throws -> ActivationOutcome {
        try await write { db, now, events in
            // Reading the site and the build and switching the pointer in one
            // IMMEDIATE transaction makes concurrent activations serialise:
            // each sees the pointer the previous one left.
            let site = try Self.fetchSite(db, id: siteID)
            let build = try Self.fetchBuild(db, id: buildID)
            guard build.siteID == site.id else {
                throw CatalogError.notActivatable(
                    "build #\(build.number) (\(build.id)) belongs to another deployment, not '\(site.slug)'; pick one of '\(site.slug)''s builds"
                )
            }
            guard build.status == .success else {
                throw CatalogError.notActivatable(
                    "build #\(build.number) of '\(site.slug)' is \(build.status), not success; only a successful build can be served — pick one from the deployment's builds"
                )
            }
            // The build's notification waited for this decision, whatever it is.
            try Self.releaseNotification(of: build.id, in: db, now: now)
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
}
