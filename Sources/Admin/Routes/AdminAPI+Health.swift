import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import Storage

extension AdminAPI {
    /// `GET /readyz`: 200 when the catalog and the object store answer, 503
    /// naming the one that does not.
    func readiness() async throws -> Response {
        var failures: [String] = []
        do {
            _ = try await catalog.stats()
        } catch {
            logger.warning("readiness: the catalog does not answer", metadata: ["error": "\(error)"])
            failures.append("the catalog does not answer")
        }
        do {
            _ = try await services.store.list(prefix: "manifests/", after: nil, limit: 1)
        } catch {
            logger.warning("readiness: the object store does not answer", metadata: ["error": "\(error)"])
            failures.append("the object store does not answer")
        }
        for check in services.readinessChecks {
            if let problem = await check.problem() {
                logger.warning("readiness: \(problem)")
                failures.append(problem)
            }
        }
        guard failures.isEmpty else {
            throw AdminError(
                status: .serviceUnavailable, code: "not_ready",
                message: failures.joined(separator: "; ") + "; the server's log has the details")
        }
        return try json(["status": "ready"])
    }

    /// The operations routes: `/healthz`, `/readyz` and `/metrics`.
    func registerOperations(on router: Router<AdminRequestContext>) {
        router.get("/healthz") { _, _ in try json(["status": "ok"]) }
        router.get("/readyz") { _, _ in try await readiness() }
        router.get("/metrics") { _, _ in try metrics() }
    }

    /// `GET /metrics`: the process's metrics in the Prometheus text format
    /// (bearer token required, like the rest of the API).
    func metrics() throws -> Response {
        guard let text = services.metricsText?() else {
            throw AdminError(
                status: .notFound, code: "metrics_disabled", message: "this server does not collect metrics")
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// `GET /api/stats`: queue counts by status, running builds and cache figures.
    func stats() async throws -> Response {
        let stats = try await catalog.stats()
        let running = services.runningBuilds?() ?? stats.running
        let now = services.clock()
        let warnings = try await catalog.allDomains().compactMap { domain -> DomainWarningJSON? in
            DomainJSON(domain: domain, slug: "", records: [], now: now).warning.map {
                DomainWarningJSON(hostname: domain.hostname, warning: $0)
            }
        }
        return try json(
            StatsJSON(stats: stats, runningBuilds: running, cache: services.cacheFigures?(), domainWarnings: warnings))
    }
}

/// The stats endpoint's answer.
struct StatsJSON: Encodable, Sendable {
    let stats: CatalogStats
    let runningBuilds: Int
    let cache: CacheFigures?
    /// Custom domains whose certificate expires within 14 days while renewals fail.
    var domainWarnings: [DomainWarningJSON] = []

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        var counts: [String: Int] = [:]
        for status in BuildStatus.allCases { counts[status.rawValue] = stats.countsByStatus[status] ?? 0 }
        try container.encode(counts, forKey: AnyCodingKey("builds"))
        try container.encode(stats.queueDepth, forKey: AnyCodingKey("queueDepth"))
        let age = stats.oldestQueuedAge.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
        try container.encode(age, forKey: AnyCodingKey("oldestQueuedSeconds"))
        try container.encode(domainWarnings, forKey: AnyCodingKey("domainWarnings"))
        try container.encode(runningBuilds, forKey: AnyCodingKey("runningBuilds"))
        if let cache {
            var nested = container.nestedContainer(keyedBy: AnyCodingKey.self, forKey: AnyCodingKey("cache"))
            try nested.encode(cache.hits, forKey: AnyCodingKey("hits"))
            try nested.encode(cache.misses, forKey: AnyCodingKey("misses"))
            try nested.encode(cache.hitRatio, forKey: AnyCodingKey("hitRatio"))
            try nested.encode(cache.bytes, forKey: AnyCodingKey("bytes"))
            try nested.encode(cache.entries, forKey: AnyCodingKey("entries"))
            try nested.encode(cache.capacityBytes, forKey: AnyCodingKey("capacityBytes"))
        } else {
            try container.encodeNil(forKey: AnyCodingKey("cache"))
        }
    }
}

/// A custom domain's certificate warning, in the stats.
struct DomainWarningJSON: Encodable, Sendable {
    let hostname: String
    let warning: String
}
