import Foundation
import Model
import Storage

/// The JSON a notify URL receives:
///
/// ```json
/// {"event": "build.finished", "deliveryId": "…", "sentAt": "2026-…Z",
///  "deployment": {"id": "…", "slug": "docs", "url": "https://docs.apps.example.com/", "activeBuildId": "…"},
///  "build": {the admin API's Build: "id", "deploymentId", "number", "status", "commitSha", …}}
/// ```
///
/// `build` is the build as it ended (the same every attempt); `deployment`
/// is the deployment as it is when the attempt is sent, so `activeBuildId`
/// says whether this build went live. Build variables, secret or not, are
/// never part of it.
struct NotificationBody: Encodable {
    let delivery: NotificationDelivery
    let site: Site
    let sentAt: Date
    let urls: SiteURLs

    /// The body's bytes, exactly as sent and signed.
    static func encode(_ claim: ClaimedNotification, sentAt: Date, urls: SiteURLs) throws -> Data {
        try APIJSON.encoder().encode(
            NotificationBody(delivery: claim.delivery, site: claim.site, sentAt: sentAt, urls: urls))
    }

    private enum Keys: String, CodingKey {
        case event, deliveryId, sentAt, deployment, build
        case id, slug, url, activeBuildId
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(delivery.event, forKey: .event)
        try container.encode(delivery.id, forKey: .deliveryId)
        try container.encode(sentAt, forKey: .sentAt)
        var deployment = container.nestedContainer(keyedBy: Keys.self, forKey: .deployment)
        try deployment.encode(site.id.rawValue, forKey: .id)
        try deployment.encode(site.slug, forKey: .slug)
        try deployment.encode(urls.siteURL(slug: site.slug), forKey: .url)
        try deployment.encode(site.activeBuildID?.rawValue, forKey: .activeBuildId)
        try container.encode(BuildJSON(build: delivery.build, slug: site.slug, urls: urls), forKey: .build)
    }
}
