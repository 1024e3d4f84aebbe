/// `Content-Type` by file extension: Slipway never sniffs content.
public enum ContentTypes {
    /// Type for a path's extension; `application/octet-stream` when unknown.
    /// Text types carry `charset=utf-8`.
    public static func forPath(_ path: String) -> String {
        guard let ext = fileExtension(of: path) else { return defaultType }
        return table[ext] ?? defaultType
    }

    public static let defaultType = "application/octet-stream"

    /// Whether serving a gzip variant of this type is worth it (text-like
    /// formats; images, fonts like woff2 and archives are already compressed).
    public static func isCompressible(_ contentType: String) -> Bool {
        let type = contentType.split(separator: ";").first.map { $0.trimmingSpaces().lowercased() } ?? ""
        if type.hasPrefix("text/") { return true }
        return compressibleTypes.contains(type)
    }

    /// The lower-cased extension of the last path segment, without the dot.
    static func fileExtension(of path: String) -> String? {
        let name = path.split(separator: "/").last ?? Substring(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        let ext = name[name.index(after: dot)...]
        return ext.isEmpty ? nil : ext.lowercased()
    }

    static let compressibleTypes: Set<String> = [
        "application/javascript", "application/json", "application/manifest+json", "application/xml",
        "application/xhtml+xml", "application/rss+xml", "application/atom+xml", "application/wasm",
        "image/svg+xml", "image/x-icon", "font/ttf", "font/otf", "application/vnd.ms-fontobject",
    ]

    static let table: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "cjs": "text/javascript; charset=utf-8",
        "json": "application/json", "map": "application/json",
        "webmanifest": "application/manifest+json",
        "xml": "application/xml", "rss": "application/rss+xml", "atom": "application/atom+xml",
        "txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8",
        "csv": "text/csv; charset=utf-8", "ics": "text/calendar; charset=utf-8",
        "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
        "gif": "image/gif", "webp": "image/webp", "avif": "image/avif", "ico": "image/x-icon",
        "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff",
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
        "eot": "application/vnd.ms-fontobject",
        "wasm": "application/wasm", "pdf": "application/pdf", "zip": "application/zip",
        "gz": "application/gzip", "tar": "application/x-tar",
        "mp4": "video/mp4", "webm": "video/webm", "ogv": "video/ogg", "mov": "video/quicktime",
        "mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav", "m4a": "audio/mp4", "flac": "audio/flac",
        "vtt": "text/vtt; charset=utf-8", "xhtml": "application/xhtml+xml",
    ]
}

/// Which files are content-hashed assets, cacheable for a year as `immutable`
/// (`docs/site-rules.md`, Cache-Control defaults).
public enum AssetClassifier {
    /// Directories that hashing bundlers own entirely (Vite, Astro, Next.js).
    static let bundlerDirectories = ["assets/", "_astro/", "_next/static/"]

    /// Whether the file at `path` (no leading `/`) is an immutable asset: its
    /// name carries a content hash of 8+ hex or base-62 characters
    /// (`index-3f9a1b2c.js`, `main.8e1f5c3a.css`), or it lives in a directory a
    /// hashing bundler owns. HTML is never immutable: it is how new builds are found.
    public static func isImmutable(_ path: String) -> Bool {
        if path.hasSuffix(".html") || path.hasSuffix(".htm") { return false }
        if bundlerDirectories.contains(where: { path.hasPrefix($0) }) { return true }
        let name = path.split(separator: "/").last ?? Substring(path)
        let stem = name.split(separator: ".").dropLast() // the extension is never the hash
        return stem.contains { part in
            part.split(separator: "-").contains(where: looksLikeHash) || (part != stem.first && looksLikeHash(part))
        }
    }

    /// 8+ characters of hex with a digit, or of base-62 mixing digits and letters
    /// (so that words like `settings` or `17000000` are not mistaken for hashes).
    static func looksLikeHash(_ part: Substring) -> Bool {
        guard part.utf8.count >= 8, part.utf8.count <= 64 else { return false }
        var digits = 0
        var letters = 0
        for byte in part.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): letters += 1
            default: return false
            }
        }
        return digits > 0 && letters > 0
    }
}
