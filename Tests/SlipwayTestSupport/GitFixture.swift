import Foundation

/// A git repository (branch `main`) holding `files` (contents by relative
/// path), made in a new temporary directory, for local deployments; its path.
public func makeRepository(files: [String: String]) throws -> String {
    let root = temporaryDirectory()
    for (path, contents) in files {
        let url = URL(fileURLWithPath: root).appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try contents.write(to: url, atomically: true, encoding: .utf8)
    }
    for arguments in [
        ["init", "-q", "-b", "main"], ["add", "-A"],
        ["-c", "user.email=tests@slipway.invalid", "-c", "user.name=Slipway tests", "commit", "-q", "-m", "fixture"],
    ] {
        let git = TestProcess()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git"] + arguments
        git.currentDirectoryURL = URL(fileURLWithPath: root)
        try git.run()
        git.waitUntilExit()
        guard git.terminationStatus == 0 else { throw TestFailure("git \(arguments.joined(separator: " ")) failed") }
    }
    return root
}
