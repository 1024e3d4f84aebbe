import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The OpenAPI 3.0 document of the admin API, `Sources/Admin/Resources/openapi.json`,
/// shipped as a resource of the Admin target (the `slipway_Admin.resources`
/// directory SwiftPM puts next to the executable).
///
/// The document is found without `Bundle.module`, whose accessor traps when
/// the bundle is missing: an install that copied only the executable serves
/// 503 for this one endpoint instead of crashing.
enum OpenAPIDocument {
    static let resourceName = "openapi.json"
    static let bundleName = "slipway_Admin.resources"

    /// The document's bytes, or the places searched when it is missing.
    static func load() -> Result<ByteBuffer, Missing> {
        let candidates = searchPaths()
        for directory in candidates {
            let path = directory.appendingPathComponent(resourceName).path
            if let data = FileManager.default.contents(atPath: path) {
                return .success(ByteBuffer(bytes: data))
            }
        }
        return .failure(Missing(searched: candidates.map(\.path)))
    }

    struct Missing: Error, Sendable {
        let searched: [String]
    }

    /// Where the resource bundle may be: next to the executable (SwiftPM's
    /// build directory, also the test runner's), or in `share/slipway` beside
    /// the `bin` directory of an installed executable.
    static func searchPaths() -> [URL] {
        var directories: [URL] = []
        let executables = [Bundle.main.executableURL, Bundle.main.executableURL?.resolvingSymlinksInPath()].compactMap {
            $0
        }
        for executable in executables {
            let bin = executable.deletingLastPathComponent()
            directories.append(bin.appendingPathComponent(bundleName))
            directories.append(bin.deletingLastPathComponent().appendingPathComponent("share/slipway/\(bundleName)"))
        }
        directories.append(Bundle.main.bundleURL.appendingPathComponent(bundleName))
        var seen = Set<String>()
        return directories.filter { seen.insert($0.standardizedFileURL.path).inserted }
    }
}

extension AdminAPI {
    /// `GET /api/openapi.json`, open like the health checks: the document
    /// describes the API, it grants nothing.
    func openAPIDocument(_ document: Result<ByteBuffer, OpenAPIDocument.Missing>) throws -> Response {
        switch document {
        case .success(let bytes):
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: bytes))
        case .failure:
            throw AdminError(
                status: .serviceUnavailable, code: "openapi_unavailable",
                message:
                    "this installation lacks the OpenAPI document (\(OpenAPIDocument.bundleName)/\(OpenAPIDocument.resourceName) next to the executable or in share/slipway); the server's log names the places searched"
            )
        }
    }
}

/// What the admin API reads from beside the executable at start-up.
public enum AdminInstallation {
    /// The admin API's installed files that cannot be found, each said with
    /// where it was looked for; empty when the installation is complete.
    /// - Parameter dashboardDirectory: the dashboard's directory (its `index.html`).
    public static func missingFiles(dashboardDirectory: String?) -> [String] {
        var missing: [String] = []
        if case .failure(let notFound) = OpenAPIDocument.load() {
            missing.append(
                "the OpenAPI document \(OpenAPIDocument.bundleName)/\(OpenAPIDocument.resourceName) (searched \(notFound.searched.joined(separator: ", ")))"
            )
        }
        let index = (dashboardDirectory ?? "static/dashboard") + "/" + DashboardAssets.indexName
        if !FileManager.default.fileExists(atPath: index) {
            missing.append("the dashboard's \(index)")
        }
        return missing
    }
}
