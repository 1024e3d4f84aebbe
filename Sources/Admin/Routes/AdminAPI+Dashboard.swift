import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

extension AdminAPI {
    /// Serves the web dashboard at `/` (its `index.html`) and `/dashboard/…`
    /// (its scripts, styles and icons) when `configuration.dashboardDirectory`
    /// names a readable dashboard.
    ///
    /// Register these routes before ``BearerAuthMiddleware``: the files hold
    /// no data and are served without the token; every API call the page
    /// makes carries the token the user typed.
    func registerDashboard(on router: Router<AdminRequestContext>) {
        guard let directory = configuration.dashboardDirectory else { return }
        let assets: DashboardAssets
        do {
            assets = try DashboardAssets.load(directory: directory)
        } catch {
            logger.warning(
                "the dashboard is not served", metadata: ["directory": "\(directory)", "reason": "\(error)"])
            return
        }
        logger.debug(
            "serving the dashboard", metadata: ["directory": "\(directory)", "files": "\(assets.files.count)"])
        router.get("/") { request, _ in try assets.response(named: DashboardAssets.indexName, for: request) }
        router.get("/dashboard/**") { request, _ in
            // The raw path, percent-encoding and all: it is only ever a key of
            // the table of files read at start-up, never a path on disk.
            let name = request.uri.path.dropFirst(DashboardAssets.prefix.count)
            return try assets.response(named: String(name), for: request)
        }
    }
}

/// The dashboard's files, read once when the router is built.
///
/// Only regular files under the directory whose every path component is a
/// plain name (letters, digits, `.`, `_`, `-`, not starting with a dot) and
/// whose extension has a known content type are kept; symbolic links are
/// skipped. A request names a key of this table, so `..`, encoded separators
/// and links cannot reach any other file.
struct DashboardAssets: Sendable {
    struct Asset: Sendable {
        let body: ByteBuffer
        let contentType: String
        /// A strong validator: the SHA-256 of the body, quoted.
        let etag: String
    }

    /// Reasons the dashboard cannot be served.
    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    static let prefix = "/dashboard/"
    static let indexName = "index.html"
    static let maxFileBytes = 4 << 20
    static let maxTotalBytes = 16 << 20
    static let maxFiles = 512
    static let maxDepth = 8

    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8",
        "mjs": "text/javascript; charset=utf-8",
        "json": "application/json; charset=utf-8",
        "webmanifest": "application/manifest+json; charset=utf-8",
        "txt": "text/plain; charset=utf-8",
        "svg": "image/svg+xml",
        "png": "image/png",
        "ico": "image/x-icon",
        "webp": "image/webp",
        "woff2": "font/woff2",
    ]

    /// The page may load scripts, styles, images and fonts from the admin
    /// listener only, and talk to nothing but its API; no inline script, no
    /// framing, no form posts anywhere.
    static let contentSecurityPolicy = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ].joined(separator: "; ")

    /// Relative path (`app.js`, `icons/logo.svg`) to file.
    let files: [String: Asset]

    /// Reads every servable file under `directory`; fails when the directory
    /// cannot be read, holds no `index.html`, or exceeds the size limits.
    static func load(directory: String) throws -> DashboardAssets {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw LoadError(description: "'\(directory)' is not a directory")
        }
        var files: [String: Asset] = [:]
        var totalBytes = 0

        func walk(_ path: String, relative: [String]) throws {
            guard relative.count <= maxDepth else { return }
            for entry in try manager.contentsOfDirectory(atPath: path).sorted() where isPlainName(entry) {
                let full = path + "/" + entry
                let attributes = try manager.attributesOfItem(atPath: full)
                let components = relative + [entry]
                switch attributes[.type] as? FileAttributeType {
                case .typeDirectory?:
                    try walk(full, relative: components)
                case .typeRegular?:
                    let ext = (entry as NSString).pathExtension.lowercased()
                    guard let contentType = contentTypes[ext] else { continue }
                    let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
                    guard size <= maxFileBytes else {
                        throw LoadError(description: "'\(full)' is larger than \(maxFileBytes) bytes")
                    }
                    guard files.count < maxFiles else {
                        throw LoadError(description: "more than \(maxFiles) files under '\(directory)'")
                    }
                    let data = try Data(contentsOf: URL(fileURLWithPath: full))
                    totalBytes += data.count
                    guard totalBytes <= maxTotalBytes else {
                        throw LoadError(description: "the files under '\(directory)' exceed \(maxTotalBytes) bytes")
                    }
                    let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
                    files[components.joined(separator: "/")] = Asset(
                        body: ByteBuffer(bytes: data), contentType: contentType, etag: "\"\(digest.prefix(32))\"")
                default:
                    // Symbolic links, sockets and the like are never served.
                    continue
                }
            }
        }

        try walk(directory, relative: [])
        guard files[indexName] != nil else {
            throw LoadError(description: "'\(directory)' holds no \(indexName)")
        }
        return DashboardAssets(files: files)
    }

    /// Letters, digits, `.`, `_` and `-`, not starting with a dot.
    static func isPlainName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first != UInt8(ascii: ".") else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    /// The headers every dashboard file carries.
    static func headers(for asset: Asset) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[.cacheControl] = "no-cache"
        headers[.eTag] = asset.etag
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
        return headers
    }

    /// The file named `name`, or 304 when the client's copy is current, or
    /// 404 when there is no such file.
    func response(named name: String, for request: Request) throws -> Response {
        guard let asset = files[name] else {
            throw AdminError(
                status: .notFound, code: "not_found",
                message: "the dashboard has no file '\(name.prefix(80))'; open the dashboard at /")
        }
        let headers = Self.headers(for: asset)
        let validators = request.headers[values: .ifNoneMatch].flatMap { $0.split(separator: ",") }
        if validators.contains(where: {
            $0.trimmingCharacters(in: .whitespaces) == asset.etag || $0.trimmingCharacters(in: .whitespaces) == "*"
        }) {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: asset.body))
    }
}
