import Admin
import Foundation

/// The admin API's bearer token: `SLIPWAY_ADMIN_TOKEN` when set, else the one
/// generated into `<data>/admin-token` (mode 0600) on the first start.
enum AdminTokenFile {
    struct Resolved {
        let token: String
        /// The token was generated just now: print it once.
        let isNew: Bool
        let path: String?
    }

    static func path(in dataDirectory: String) -> String { dataDirectory + "/admin-token" }

    static func resolve(configured: String?, dataDirectory: String) throws -> Resolved {
        if let configured { return Resolved(token: configured, isNew: false, path: nil) }
        let path = path(in: dataDirectory)
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let token = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty { return Resolved(token: token, isNew: false, path: path) }
        }
        let token = BearerToken.generate()
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard created else {
            throw ServeError("cannot write the admin token to \(path); check that the data directory is writable")
        }
        return Resolved(token: token, isNew: true, path: path)
    }
}
