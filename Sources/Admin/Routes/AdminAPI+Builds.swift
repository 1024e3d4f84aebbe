import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import Storage

extension AdminAPI {
    /// `POST /api/deployments/{slug}/builds`: 202 with the queued build, 429
    /// when the queue is full.
    func triggerBuild(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        try requireBuilds()
        let site = try await site(context)
        try requireRepository(site)
        let body = try await StrictJSON.decode(
            TriggerBuildBody.self, from: request, limit: configuration.maxBodyBytes, emptyIsObject: true)
        let build = try await catalog.createBuild(
            siteID: site.id,
            BuildRequest(trigger: "manual", commitSHA: body.commitSHA, commitMessage: body.commitMessage))
        services.buildsQueued()
        return try json(Envelope(key: "build", value: buildJSON(build, slug: site.slug)), status: .accepted)
    }

    /// Refuses a request that would queue a build when builds cannot run
    /// here (no container engine, and running them unsandboxed was not
    /// asked for): 503 `builds_unavailable` with the reason, at once.
    func requireBuilds() throws {
        guard let reason = services.buildsUnavailable else { return }
        throw AdminError(
            status: .serviceUnavailable, code: "builds_unavailable", message: "builds cannot run: \(reason)")
    }

    /// `GET /api/deployments/{slug}/builds?limit=&before=`: newest first.
    func listBuilds(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let site = try await site(context)
        let query = request.uri.queryParameters
        let limit = try Self.integer(query["limit"].map(String.init), name: "limit", range: 1...200) ?? 20
        let before = try Self.integer(query["before"].map(String.init), name: "before", range: 1...Int.max)
        let page = try await catalog.builds(siteID: site.id, limit: limit, before: before)
        return try json(
            BuildList(builds: page.builds.map { buildJSON($0, slug: site.slug) }, nextBefore: page.nextBefore))
    }

    /// `GET /api/builds/{id}`.
    func getBuild(_ context: AdminRequestContext) async throws -> Response {
        try json(try await buildJSON(try await build(context)))
    }

    /// `POST /api/builds/{id}/cancel`.
    func cancelBuild(_ context: AdminRequestContext) async throws -> Response {
        let build = try await build(context)
        let canceled = try await catalog.cancelBuild(id: build.id)
        logger.info("build canceled", metadata: ["build": "\(build.id)"])
        return try json(try await buildJSON(canceled))
    }

    static func integer(_ text: String?, name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            let upper = range.upperBound == Int.max ? "" : " to \(range.upperBound)"
            throw AdminError.invalidQuery(
                "query parameter '\(name)' must be an integer from \(range.lowerBound)\(upper), not '\(text.prefix(40))'"
            )
        }
        return value
    }
}

/// `{"builds": […], "nextBefore": n}`.
struct BuildList: Encodable, Sendable {
    let builds: [BuildJSON]
    /// Pass as `before` for the next, older page; null on the last page.
    let nextBefore: Int?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        try container.encode(builds, forKey: AnyCodingKey("builds"))
        try container.encode(nextBefore, forKey: AnyCodingKey("nextBefore"))
    }
}
