import ArgumentParser
import Foundation

/// How a client command finds and authenticates to a running Slipway.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The admin API (env SLIPWAY_ADMIN_URL; default http://127.0.0.1:8081).")
    var adminURL: String?

    @Option(
        name: .long,
        help: "The admin token or an API token (env SLIPWAY_TOKEN; default: the token file in the data directory).")
    var token: String?

    @Option(
        name: .long,
        help: "The data directory whose admin-token file to use (env SLIPWAY_DATA_DIR; default ./.slipway).")
    var dataDir: String?

    @Flag(name: .long, help: "Print the API's JSON instead of a human summary.")
    var json = false

    /// The client these options describe.
    func client() throws -> AdminAPIClient {
        let environment = ProcessInfo.processInfo.environment
        let base = adminURL ?? environment["SLIPWAY_ADMIN_URL"] ?? "http://127.0.0.1:8081"
        guard let url = URL(string: base), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ValidationError("--admin-url '\(base)' is not an http:// or https:// URL")
        }
        if let token = token ?? environment["SLIPWAY_TOKEN"], !token.isEmpty {
            return AdminAPIClient(baseURL: base, token: token)
        }
        let data = dataDir ?? environment["SLIPWAY_DATA_DIR"] ?? "./.slipway"
        let path = (data as NSString).standardizingPath + "/admin-token"
        guard
            let stored = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines),
            !stored.isEmpty
        else {
            throw ClientError(
                "no admin token: pass --token, set SLIPWAY_TOKEN, or run where \(path) exists (it is written by `slipway serve`)"
            )
        }
        return AdminAPIClient(baseURL: base, token: stored)
    }
}

/// A failed request or build, said for people; the command exits with status 1.
struct ClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
