import Logging
import NIOHTTP1

/// One structured line per response, when the access log is switched on.
/// Only the path is logged, never the query string (it may carry tokens).
/// `client` is the client's address: the peer's, or the one a trusted load
/// balancer gave (`EdgeConnection`).
struct AccessLog: Sendable {
    let logger: Logger?

    func record(
        method: HTTPMethod, host: String, target: String, status: Int, bodyBytes: Int64, nanoseconds: Int64,
        cache: Bool,
        client: String
    ) {
        guard let logger else { return }
        let path =
            target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
            ?? target
        logger.info(
            "response",
            metadata: [
                "client": "\(client)",
                "method": "\(method.rawValue)",
                "host": "\(host.prefix(255))",
                "path": "\(path.prefix(2048))",
                "status": "\(status)",
                "bytes": "\(bodyBytes)",
                "duration_ms": "\(Double(nanoseconds) / 1_000_000)",
                "cache": "\(cache ? "HIT" : "MISS")",
            ])
    }
}
