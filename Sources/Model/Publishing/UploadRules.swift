/// What an upload carries: a prebuilt output published as it is
/// (`slipway deploy --dir`), or a source tree the builder builds
/// (`slipway deploy --source`).
public enum UploadKind: String, Sendable, Hashable, Codable, CaseIterable {
    case output
    case source
}

/// One file of an upload, as the client announces it.
public struct UploadFile: Sendable, Hashable, Codable {
    /// The path inside the folder, `/`-separated, without a leading `/`
    /// (`index.html`, `assets/app-3f9a.js`).
    public var path: String
    /// The SHA-256 of its bytes (64 lower-case hex digits).
    public var sha256: String
    public var size: Int64
    /// Whether the file may be run (a source upload's scripts); written
    /// only when true.
    public var executable: Bool

    public init(path: String, sha256: String, size: Int64, executable: Bool = false) {
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.executable = executable
    }

    private enum CodingKeys: String, CodingKey { case path, sha256, size, executable }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        sha256 = try container.decode(String.self, forKey: .sha256)
        size = try container.decode(Int64.self, forKey: .size)
        executable = try container.decodeIfPresent(Bool.self, forKey: .executable) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(sha256, forKey: .sha256)
        try container.encode(size, forKey: .size)
        if executable { try container.encode(true, forKey: .executable) }
    }
}

/// What an upload may hold: the limits and names a build's output has.
///
/// Paths are checked as bytes (object keys are bytes): no empty, `.` or `..`
/// segment (which also refuses absolute paths, trailing and doubled
/// slashes), no backslash or control character, at most
/// ``maxPathBytes`` bytes and ``maxDepth`` directories deep. `.git` is never
/// part of an upload, nor is the reserved `.slipway` directory at the top;
/// a source upload never holds `node_modules` (the build installs it).
/// Links and devices cannot be announced at all: the client sends the bytes
/// of regular files only, and refuses a link that leaves the folder.
public enum UploadRules {
    /// Longest path, in bytes (as a build's output).
    public static let maxPathBytes = 900
    /// Deepest nesting of directories (as a build's output).
    public static let maxDepth = 64

    /// Why `path` cannot be part of an upload of `kind`; nil when it can.
    public static func problem(path: String, kind: UploadKind) -> String? {
        let shown = path.prefix(200).debugDescription
        if path.isEmpty { return "a file has an empty path; name every file by its path inside the folder" }
        if path.utf8.count > maxPathBytes { return "\(shown)… is longer than \(maxPathBytes) bytes; shorten it" }
        if path.utf8.first == UInt8(ascii: "/") {
            return "\(shown) is an absolute path; name files relative to the folder (index.html, assets/app.js)"
        }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f || $0 == "\\" }) {
            return "\(shown) has a control character or a backslash in its name; rename it"
        }
        let segments = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        if segments.count > maxDepth { return "\(shown) is nested more than \(maxDepth) directories deep" }
        for (index, segment) in segments.enumerated() {
            let name = String(decoding: segment, as: UTF8.self)
            switch name {
            case "", ".":
                return "\(shown) has an empty or '.' segment; give each file's plain path inside the folder"
            case "..":
                return "\(shown) leaves the folder ('..'); only files inside the folder can be uploaded"
            case ".git":
                return "\(shown) is git metadata, which is never uploaded; leave .git out"
            case ManifestEntryBuilder.reservedDirectory where index == 0:
                return
                    "\(shown) is inside '.slipway', a name reserved for Slipway's compressed variants; rename the directory"
            case "node_modules" where kind == .source:
                return "\(shown) is inside node_modules, which a source upload never holds: the build installs it"
            default:
                continue
            }
        }
        return nil
    }

    /// Why this list of files cannot be an upload; nil when it can. Checks
    /// every path, digest and size, duplicates, and the limits.
    public static func problem(files: [UploadFile], kind: UploadKind, maxFiles: Int, maxBytes: Int64) -> String? {
        if files.isEmpty { return "the upload names no files; a deployment needs at least an index.html" }
        if files.count > maxFiles {
            return
                "the upload has \(files.count) files, more than \(maxFiles), the limit per build; publish fewer files (or raise SLIPWAY_BUILD_MAX_FILES)"
        }
        var total: Int64 = 0
        var seen = Set<String>()
        seen.reserveCapacity(files.count)
        for file in files {
            if let problem = problem(path: file.path, kind: kind) { return problem }
            if !ContentAddress.isDigest(file.sha256) {
                return
                    "\(file.path.prefix(200).debugDescription) has sha256 '\(file.sha256.prefix(80))', not 64 lower-case hexadecimal digits"
            }
            if file.size < 0 { return "\(file.path.prefix(200).debugDescription) has a negative size" }
            total += file.size
            if total > maxBytes {
                return
                    "the upload is larger than \(ByteCount.format(maxBytes)), the limit per build; publish fewer or smaller files (or raise SLIPWAY_BUILD_MAX_OUTPUT)"
            }
            if !seen.insert(file.path).inserted {
                return "\(file.path.prefix(200).debugDescription) is named twice; name each file once"
            }
        }
        // A file and a directory of the same name cannot both exist.
        for file in files {
            var prefix = Substring(file.path)
            while let slash = prefix.utf8.lastIndex(of: UInt8(ascii: "/")) {
                prefix = prefix[..<slash]
                if seen.contains(String(prefix)) {
                    return
                        "\(String(prefix).debugDescription) is both a file and a directory in the upload; name each once"
                }
            }
        }
        return nil
    }
}
