import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `slipway deploy --source` leaves out of a source tree: the
/// `.gitignore` files in it (the root's and every directory's, each for its
/// own subtree, as git reads them), and always `.git`, `node_modules` and
/// `.slipway` (a local Slipway's data directory, with its admin token).
///
/// Supported: comments, blank lines, `!` to re-include, a trailing `/` for
/// directories only, a leading or inner `/` anchoring the pattern to the
/// `.gitignore`'s directory, `*`, `?`, `[…]` and `**` (`**/x`, `x/**`,
/// `a/**/b`). As in git, nothing under an ignored directory can be
/// re-included.
final class SourceIgnore: Sendable {
    /// Directory names never uploaded, wherever they are.
    static let alwaysLeftOut: Set<String> = [".git", "node_modules", ".slipway"]

    private let root: String
    /// Rules of each directory's `.gitignore`, by path relative to the root ("" for the root).
    private let rules = Mutex<[String: [IgnoreRule]]>([:])

    init(root: String) { self.root = root }

    /// Whether the entry at `path` (relative to the root, `/`-separated) is left out.
    func excludes(_ path: String, isDirectory: Bool) -> Bool {
        let segments = path.split(separator: "/").map(String.init)
        guard let name = segments.last else { return false }
        if isDirectory && Self.alwaysLeftOut.contains(name) { return true }
        // The deepest .gitignore with a rule for the path decides; within one, the last rule.
        for depth in stride(from: segments.count - 1, through: 0, by: -1) {
            let directory = segments[..<depth].joined(separator: "/")
            let relative = Array(segments[depth...])
            for rule in rules(in: directory).reversed() where rule.matches(relative, isDirectory: isDirectory) {
                return !rule.negated
            }
        }
        return false
    }

    private func rules(in directory: String) -> [IgnoreRule] {
        if let known = rules.withLock({ $0[directory] }) { return known }
        let file = root + (directory.isEmpty ? "" : "/" + directory) + "/.gitignore"
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        let parsed = IgnoreRule.parse(text)
        rules.withLock { $0[directory] = parsed }
        return parsed
    }
}

/// One pattern of a `.gitignore`.
struct IgnoreRule: Sendable, Equatable {
    var segments: [String]
    var negated: Bool
    var directoryOnly: Bool
    /// Matched against the whole path below the `.gitignore`'s directory;
    /// otherwise against the last name only.
    var anchored: Bool

    static func parse(_ text: String) -> [IgnoreRule] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).compactMap { rawLine in
            var line = Substring(rawLine)
            while line.last == " " && !line.hasSuffix("\\ ") { line = line.dropLast() }
            if line.isEmpty || line.hasPrefix("#") { return nil }
            var negated = false
            if line.hasPrefix("!") {
                negated = true
                line = line.dropFirst()
            } else if line.hasPrefix("\\!") || line.hasPrefix("\\#") {
                line = line.dropFirst()
            }
            var directoryOnly = false
            while line.hasSuffix("/") {
                directoryOnly = true
                line = line.dropLast()
            }
            let anchored = line.contains("/")
            while line.hasPrefix("/") { line = line.dropFirst() }
            let segments = line.split(separator: "/").map(String.init)
            guard !segments.isEmpty else { return nil }
            return IgnoreRule(segments: segments, negated: negated, directoryOnly: directoryOnly, anchored: anchored)
        }
    }

    func matches(_ path: [String], isDirectory: Bool) -> Bool {
        if directoryOnly && !isDirectory { return false }
        guard anchored else { return path.last.map { Self.glob(segments[0], $0) } ?? false }
        return Self.match(segments[...], path[...])
    }

    /// Segment-wise matching, `**` standing for any number of segments.
    private static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            var tail = path
            while true {
                if match(rest, tail) { return true }
                guard !tail.isEmpty else { return false }
                tail = tail.dropFirst()
            }
        }
        guard let name = path.first, glob(first, name) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// One name against one pattern segment (`*`, `?`, `[…]`), dot files included.
    private static func glob(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }
}
