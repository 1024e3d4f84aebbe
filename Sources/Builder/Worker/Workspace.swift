import Foundation

/// The private directory of one build attempt, removed at its end whatever
/// happens: `<data>/workspaces/<buildId>-a<attempt>/` holding
///
/// - `src/`: the checkout (the container's `/workspace`);
/// - `home/`: the build user's home (the container's `/home/slipway`);
/// - `tmp/`: `TMPDIR` of the local runner;
/// - `git-home/`: an empty `HOME` for git;
/// - `scratch/`: compressed variants of large files while they upload;
/// - `build.log`: the persisted log until it is stored.
struct Workspace: Sendable {
    let root: String

    var checkout: String { root + "/src" }
    var home: String { root + "/home" }
    var temporary: String { root + "/tmp" }
    var gitHome: String { root + "/git-home" }
    var scratch: String { root + "/scratch" }
    var logFile: String { root + "/build.log" }

    /// The directory name of an attempt: `<buildId>-a<attempt>`.
    static func name(buildID: String, attempt: Int) -> String { "\(buildID)-a\(attempt)" }

    /// Parses a workspace directory name back into build id and attempt.
    static func parse(_ name: String) -> (buildID: String, attempt: Int)? {
        guard let separator = name.range(of: "-a", options: .backwards),
            let attempt = Int(name[separator.upperBound...]), attempt >= 1
        else { return nil }
        return (String(name[..<separator.lowerBound]), attempt)
    }

    /// Creates a fresh workspace (removing a stale one with the same name).
    static func create(in base: String, buildID: String, attempt: Int) throws(BuildError) -> Workspace {
        let workspace = Workspace(root: base + "/" + name(buildID: buildID, attempt: attempt))
        try FileSystem.makeDirectory(base, mode: 0o711)
        try FileSystem.removeTree(workspace.root)
        try FileSystem.makeDirectory(workspace.root, mode: 0o711)
        for directory in [workspace.home, workspace.temporary, workspace.gitHome, workspace.scratch] {
            try FileSystem.makeDirectory(directory, mode: 0o700)
        }
        return workspace
    }

    /// Removes the workspace and everything in it.
    func remove() throws(BuildError) {
        try FileSystem.removeTree(root)
    }
}
