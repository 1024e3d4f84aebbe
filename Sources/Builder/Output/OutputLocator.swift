/// Finds the directory of built files inside the project root.
///
/// The site's output directory when it has one (it must exist and stay
/// inside the project root, symlinks resolved), else the first of `dist`,
/// `build`, `public`, `out` that is a directory holding at least one file.
struct OutputLocator: Sendable {
    static let candidates = ["dist", "build", "public", "out"]

    /// - Parameters:
    ///   - root: the canonical project root.
    ///   - outputDirectory: the site's setting, relative to the root.
    /// - Returns: the canonical output directory and its path relative to the root.
    func locate(root: String, outputDirectory: String?) throws(BuildError) -> (absolute: String, relative: String) {
        if let outputDirectory, !outputDirectory.isEmpty {
            let relative = try ProjectLocator.normalize(outputDirectory, setting: "output directory") ?? ""
            let candidate = relative.isEmpty ? root : root + "/" + relative
            guard let real = FileSystem.realPath(candidate), FileSystem.status(real).kind == .directory else {
                throw BuildError.outputMissing(
                    "the output directory '\(relative)' does not exist after the build; check the build command or fix the deployment's output directory"
                )
            }
            guard FileSystem.isInside(real, root) else {
                throw BuildError.outputRejected(
                    "the output directory '\(relative)' leads outside the project (through a symlink); point it at a directory inside the project"
                )
            }
            return (real, relative.isEmpty ? "." : relative)
        }
        for name in Self.candidates {
            let candidate = root + "/" + name
            // A symlinked candidate is resolved and must stay inside the project.
            guard let real = FileSystem.realPath(candidate), FileSystem.status(real).kind == .directory,
                FileSystem.isInside(real, root), real != root, try holdsFiles(real)
            else { continue }
            return (real, name)
        }
        throw BuildError.outputMissing(
            "no output found: none of \(Self.candidates.joined(separator: ", ")) exists in the project with files in it after the build; check that the build command writes its files, or set the deployment's output directory"
        )
    }

    /// Whether `directory` holds a regular file anywhere below it.
    private func holdsFiles(_ directory: String, depth: Int = 0) throws(BuildError) -> Bool {
        guard depth < 32 else { return false }
        for name in try FileSystem.entries(of: directory) {
            let path = directory + "/" + name
            switch FileSystem.lstatus(path).kind {
            case .regular: return true
            case .directory: if try holdsFiles(path, depth: depth + 1) { return true }
            default: continue
            }
        }
        return false
    }
}
