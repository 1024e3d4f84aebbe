import Foundation
import SlipwayTestSupport
import Testing

@testable import slipway

/// What `slipway deploy --source` leaves out of a source tree.
@Suite struct SourceIgnoreTests {
    /// A tree with `.gitignore` files at the root and in `app/`.
    func tree() throws -> String {
        let root = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: root + "/app", withIntermediateDirectories: true)
        try """
        # build products
        dist/
        *.log
        /secret.env
        !keep.log
        docs/**/draft-*.md
        \\#hash
        """.write(toFile: root + "/.gitignore", atomically: true, encoding: .utf8)
        try "local.json\n!app.log\n".write(toFile: root + "/app/.gitignore", atomically: true, encoding: .utf8)
        return root
    }

    @Test(arguments: [
        ("dist", true, true), ("app/dist", true, true), ("dist", false, false),
        ("debug.log", false, true), ("app/deep/debug.log", false, true), ("keep.log", false, false),
        ("secret.env", false, true), ("app/secret.env", false, false),
        ("docs/draft-1.md", false, true), ("docs/a/b/draft-2.md", false, true), ("docs/final.md", false, false),
        ("#hash", false, true), ("app/local.json", false, true), ("local.json", false, false),
        ("app/app.log", false, false), ("app/other.log", false, true),
        ("node_modules", true, true), ("app/node_modules", true, true), (".git", true, true),
        (".slipway", true, true), ("node_modules", false, false), ("src/index.js", false, false),
    ])
    func rulesApplyAsGitReadsThem(path: String, isDirectory: Bool, excluded: Bool) throws {
        let root = try tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(SourceIgnore(root: root).excludes(path, isDirectory: isDirectory) == excluded)
    }

    @Test func parsingSkipsCommentsAndBlankLinesAndKeepsTheKinds() {
        let rules = IgnoreRule.parse("# c\n\n  \n/a/b/\n!c\nd/e\n*.tmp   \n")
        #expect(
            rules == [
                IgnoreRule(segments: ["a", "b"], negated: false, directoryOnly: true, anchored: true),
                IgnoreRule(segments: ["c"], negated: true, directoryOnly: false, anchored: false),
                IgnoreRule(segments: ["d", "e"], negated: false, directoryOnly: false, anchored: true),
                IgnoreRule(segments: ["*.tmp"], negated: false, directoryOnly: false, anchored: false),
            ])
    }
}
