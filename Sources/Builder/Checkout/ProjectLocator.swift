/// Finds the directory to build in, inside a checkout.
///
/// The site's root directory when it has one (it must stay inside the
/// checkout, symlinks resolved), else the directory of the shallowest
/// `package.json` (ties go to the first path in byte order; `node_modules`
/// and hidden directories are not searched), else the checkout itself.
struct ProjectLocator: Sendable {
    /// How deep the `package.json` search goes.
    static let maxSearchDepth = 4
    /// Directories the search looks into at most.
    static let maxSearchedDirectories = 2_000

    struct Project: Sendable, Hashable {
        /// The project root relative to the checkout (`""` for the checkout).
        var relativePath: String
        /// The canonical absolute path.
        var absolutePath: String
        var hasPackageJSON: Bool
        /// `package-lock.json` or `npm-shrinkwrap.json` is present.
        var hasLockfile: Bool
    }

    /// - Parameter checkout: the canonical path of the checkout.
    func locate(checkout: String, rootDirectory: String?) throws(BuildError) -> Project {
        let relative: String
        if let rootDirectory, let normalized = try Self.normalize(rootDirectory, setting: "root directory") {
            relative = normalized
        } else if rootDirectory == nil || rootDirectory?.isEmpty == true,
            let found = try shallowestPackageJSON(in: checkout)
        {
            relative = found
        } else {
            relative = ""
        }
        let candidate = relative.isEmpty ? checkout : checkout + "/" + relative
        guard let real = FileSystem.realPath(candidate), FileSystem.status(real).kind == .directory else {
            throw BuildError.projectInvalid(
                "the root directory '\(relative)' does not exist in the repository; fix the deployment's root directory"
            )
        }
        guard FileSystem.isInside(real, checkout) else {
            throw BuildError.projectInvalid(
                "the root directory '\(relative)' leads outside the repository (through a symlink); point it at a directory inside the repository"
            )
        }
        let realRelative = real == checkout ? "" : String(real.dropFirst(checkout.count + 1))
        func isFile(_ name: String) -> Bool { FileSystem.lstatus(real + "/" + name).kind == .regular }
        return Project(
            relativePath: realRelative, absolutePath: real, hasPackageJSON: isFile("package.json"),
            hasLockfile: isFile("package-lock.json") || isFile("npm-shrinkwrap.json"))
    }

    /// A relative directory setting without `.`/empty segments; nil for the
    /// repository root. Absolute paths and `..` are refused.
    static func normalize(_ setting: String, setting name: String) throws(BuildError) -> String? {
        var trimmed = Substring(setting)
        while trimmed.hasPrefix("./") { trimmed = trimmed.dropFirst(2) }
        if trimmed.hasPrefix("/") {
            throw BuildError.projectInvalid(
                "the \(name) '\(setting)' is absolute; give a path relative to the repository (e.g. 'apps/web')")
        }
        var segments: [Substring] = []
        for segment in trimmed.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                throw BuildError.projectInvalid(
                    "the \(name) '\(setting)' contains '..'; give a path inside the repository")
            }
            if segment.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\\" }) {
                throw BuildError.projectInvalid(
                    "the \(name) '\(setting.prefix(100))' contains control characters or backslashes")
            }
            segments.append(segment)
        }
        return segments.isEmpty ? nil : segments.joined(separator: "/")
    }

    /// Breadth-first: the relative directory of the shallowest `package.json`.
    private func shallowestPackageJSON(in checkout: String) throws(BuildError) -> String? {
        var level: [String] = [""]
        var visited = 0
        for depth in 0...Self.maxSearchDepth {
            // Every directory of one depth is checked before any deeper one.
            for relative in level {
                let directory = relative.isEmpty ? checkout : checkout + "/" + relative
                if FileSystem.lstatus(directory + "/package.json").kind == .regular { return relative }
            }
            guard depth < Self.maxSearchDepth else { break }
            var next: [String] = []
            for relative in level {
                visited += 1
                if visited > Self.maxSearchedDirectories { return nil }
                let directory = relative.isEmpty ? checkout : checkout + "/" + relative
                for name in try FileSystem.entries(of: directory) where !name.hasPrefix(".") && name != "node_modules" {
                    let child = relative.isEmpty ? name : relative + "/" + name
                    if FileSystem.lstatus(checkout + "/" + child).kind == .directory { next.append(child) }
                }
            }
            if next.isEmpty { return nil }
            level = next
        }
        return nil
    }
}
