import Model

/// One file to publish.
package struct OutputFile: Sendable, Hashable {
    /// The site path, without a leading `/` (`index.html`, `assets/app-3f9a.js`).
    package var path: String
    /// The file to read: the entry itself, or the file an in-output symlink leads to.
    package var source: String
    package var size: Int64
}

/// What an output directory holds.
package struct OutputScan: Sendable {
    /// Files to publish, sorted by path.
    package var files: [OutputFile]
    package var totalBytes: Int64
    /// The top-level `_headers` and `_redirects` files (rules, not published).
    package var headersFile: String?
    package var redirectsFile: String?
    /// Things left out on purpose, for the log.
    package var notes: [String]
}

/// Walks a build's output with `lstat`, refusing what must never be
/// published and enforcing the file-count and size limits.
///
/// - Regular files are published. Directories are walked (at most 64 deep).
/// - A symlink is followed only when it resolves inside the output
///   directory; one that leaves it (`dist/x -> /etc/passwd`) or dangles
///   fails the build. Symlinked directories are walked; loops are cut.
/// - A regular file with more than one hard link is published only when
///   every link to it is inside the output: a hard link made to a file
///   elsewhere (`ln /etc/shadow dist/x`, a secret of the workspace) fails the
///   build like a symlink that leaves the output.
/// - FIFOs, sockets and devices fail the build.
///
/// `slipway deploy --dir` scans the folder it uploads with it too, so a
/// folder is refused for exactly what a build's output would be.
/// - `.git` directories are skipped; a top-level `.slipway` (reserved for
///   Slipway's variants) fails the build; top-level `_headers` and
///   `_redirects` are rules, not files.
package struct OutputScanner: Sendable {
    package var maxFiles: Int
    package var maxBytes: Int64
    /// Entries left out before any other check (path relative to the root,
    /// whether it is a directory): what `slipway deploy --source` ignores.
    package var exclude: (@Sendable (_ path: String, _ isDirectory: Bool) -> Bool)?

    package init(
        maxFiles: Int, maxBytes: Int64, exclude: (@Sendable (_ path: String, _ isDirectory: Bool) -> Bool)? = nil
    ) {
        self.maxFiles = maxFiles
        self.maxBytes = maxBytes
        self.exclude = exclude
    }

    /// Longest site path accepted, in bytes (object keys are at most 1024
    /// bytes with the `sites/<siteId>/<buildId>/` prefix and variant suffixes).
    static let maxPathBytes = 900
    static let maxDepth = 64
    static let reservedDirectory = ManifestEntryBuilder.reservedDirectory

    /// - Parameters:
    ///   - root: the canonical output directory.
    ///   - shownAs: how the log names the directory (`dist`).
    package func scan(_ root: String, shownAs name: String) throws(BuildError) -> OutputScan {
        var scan = OutputScan(files: [], totalBytes: 0, headersFile: nil, redirectsFile: nil, notes: [])
        let rootStatus = FileSystem.status(root)
        // Each directory carries the identities of its ancestors: a symlink
        // back to one of them is a loop and is not walked again.
        var stack: [(directory: String, prefix: String, depth: Int, ancestors: Set<[UInt64]>)] = [
            (root, "", 0, [[rootStatus.device, rootStatus.inode]])
        ]
        func shown(_ path: String) -> String { "\(name)/\(path)" }
        // Files with more than one hard link: the entries of the output that
        // name each (absolute paths, so a directory walked twice through a
        // symlink counts once), checked against the link count at the end.
        var linked: [[UInt64]: (links: UInt64, path: String, entries: Set<String>)] = [:]

        while let (directory, prefix, depth, ancestors) = stack.popLast() {
            for entry in try FileSystem.entries(of: directory) {
                let path = prefix + entry
                let absolute = directory + "/" + entry
                if let exclude, exclude(path, FileSystem.lstatus(absolute).kind == .directory) { continue }
                try Self.checkName(entry, path: path, shown: shown(path))
                if prefix.isEmpty && entry == Self.reservedDirectory {
                    throw BuildError.outputRejected(
                        "the output holds \(shown(entry)): the name '.slipway' is reserved for Slipway's compressed variants; rename it"
                    )
                }
                var status = FileSystem.lstatus(absolute)
                var source = absolute
                if status.kind == .regular && status.links > 1 {
                    linked[[status.device, status.inode], default: (status.links, path, [])].entries.insert(absolute)
                }
                if status.kind == .directory && entry == ".git" {
                    scan.notes.append("skipped \(shown(path)) (git metadata is never published)")
                    continue
                }
                if status.kind == .symlink {
                    guard let target = FileSystem.realPath(absolute) else {
                        throw BuildError.outputRejected(
                            "\(shown(path)) is a symlink that leads nowhere; remove it or make it point at a file in the output"
                        )
                    }
                    guard FileSystem.isInside(target, root) else {
                        throw BuildError.outputRejected(
                            "\(shown(path)) is a symlink that leaves the output directory; only symlinks to files inside the output can be published — copy the file instead"
                        )
                    }
                    status = FileSystem.status(target)
                    source = target
                }
                switch status.kind {
                case .regular:
                    if prefix.isEmpty && (entry == "_headers" || entry == "_redirects") {
                        if entry == "_headers" { scan.headersFile = source } else { scan.redirectsFile = source }
                        continue
                    }
                    scan.files.append(OutputFile(path: path, source: source, size: status.size))
                    scan.totalBytes += status.size
                    if scan.files.count > maxFiles {
                        throw BuildError.limitExceeded(
                            "the output has more than \(maxFiles) files, the limit per build; publish fewer files (or raise the limit)"
                        )
                    }
                    if scan.totalBytes > maxBytes {
                        throw BuildError.limitExceeded(
                            "the output is larger than \(ByteCount.format(maxBytes)), the limit per build; publish fewer or smaller files (or raise the limit)"
                        )
                    }
                case .directory:
                    guard depth + 1 < Self.maxDepth else {
                        throw BuildError.outputRejected(
                            "the output nests directories more than \(Self.maxDepth) deep at \(shown(path))")
                    }
                    let identity: [UInt64] = [status.device, status.inode]
                    guard !ancestors.contains(identity) else {
                        scan.notes.append("skipped \(shown(path)) (a symlink loop back to a directory above it)")
                        continue
                    }
                    stack.append((source, path + "/", depth + 1, ancestors.union([identity])))
                case .fifo:
                    throw BuildError.outputRejected("\(shown(path)) is a FIFO; builds may publish only regular files")
                case .socket:
                    throw BuildError.outputRejected("\(shown(path)) is a socket; builds may publish only regular files")
                case .characterDevice, .blockDevice:
                    throw BuildError.outputRejected("\(shown(path)) is a device; builds may publish only regular files")
                case .symlink, .missing, .other:
                    throw BuildError.outputRejected(
                        "\(shown(path)) is not a regular file; builds may publish only regular files")
                }
            }
        }
        for (links, path, entries) in linked.values where entries.count < links {
            throw BuildError.outputRejected(
                "\(shown(path)) is a hard link to a file outside the output directory; only files inside the output can be published — copy the file instead"
            )
        }
        scan.files.sort { $0.path < $1.path }
        return scan
    }

    /// Names that cannot become object keys or URLs are refused with the reason.
    static func checkName(_ name: String, path: String, shown: String) throws(BuildError) {
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f || $0 == "\\" }) {
            throw BuildError.outputRejected(
                "\(shown.debugDescription) has control characters or a backslash in its name; rename it")
        }
        if path.utf8.count > maxPathBytes {
            throw BuildError.outputRejected(
                "\(shown.prefix(200))… has a path longer than \(maxPathBytes) bytes; shorten it")
        }
    }
}
