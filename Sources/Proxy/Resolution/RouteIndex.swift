public import Model

/// A build's `_redirects` rules and `404.html` pages, indexed once when its
/// manifest is loaded, so that resolving a request costs time linear in the
/// length of its path and, for ordinary paths, independent of how many rules
/// the site has (`docs/hardening.md`, Cost of a request):
///
/// - a rule made only of literal segments is found by its key (the segments
///   joined with `/`) in a dictionary;
/// - any other rule whose first segment is literal is filed under that
///   segment, so a path is only tried against rules that start like it;
/// - the few rules that can match any first segment (`/:lang/…`, `/*`) are
///   tried for every path, as their order in the file demands;
/// - the `404.html` pages form a tree of directory names, walked once down
///   the request's directories to find the nearest one.
public struct RouteIndex: Sendable {
    private let exactRules: [String: [Int]]
    private let rulesByFirstSegment: [String: [Int]]
    private let rulesForAnyPath: [Int]
    private let notFoundPages: [PageNode]

    /// One directory of the `404.html` tree.
    private struct PageNode: Sendable {
        /// The site path of this directory's `404.html`, when it has one.
        var page: String?
        var children: [Substring: Int] = [:]
    }

    public init(_ manifest: BuildManifest) {
        var exact: [String: [Int]] = [:]
        var byFirst: [String: [Int]] = [:]
        var any: [Int] = []
        for (index, rule) in manifest.redirects.enumerated() {
            switch rule.from.indexKey {
            case .exact(let key): exact[key, default: []].append(index)
            case .firstSegment(let first): byFirst[first, default: []].append(index)
            case .any: any.append(index)
            }
        }
        exactRules = exact
        rulesByFirstSegment = byFirst
        rulesForAnyPath = any

        var nodes = [PageNode()]
        for path in manifest.files.keys where path == "404.html" || path.hasSuffix("/404.html") {
            var node = 0
            for directory in path.split(separator: "/").dropLast() {
                if let child = nodes[node].children[directory] {
                    node = child
                } else {
                    nodes.append(PageNode())
                    nodes[node].children[directory] = nodes.count - 1
                    node = nodes.count - 1
                }
            }
            nodes[node].page = path
        }
        notFoundPages = nodes
    }

    /// Whether the build has any redirect or rewrite rule.
    public var hasRedirects: Bool { !(exactRules.isEmpty && rulesByFirstSegment.isEmpty && rulesForAnyPath.isEmpty) }

    /// The indexes (into the manifest's `redirects`) of the rules that can
    /// match a path with these segments, in file order.
    func redirectCandidates(_ segments: [Substring], cost: inout ResolutionCost) -> [Int] {
        var exact: [Int] = []
        if !exactRules.isEmpty {
            cost.segmentSteps += segments.count
            exact = exactRules[segments.joined(separator: "/")] ?? []
        }
        let byFirst = segments.first.flatMap { rulesByFirstSegment[String($0)] } ?? []
        return Self.merged(exact, byFirst, rulesForAnyPath)
    }

    /// The nearest `404.html` at or above `directories` (the request's
    /// directory segments from the root), or nil when the build has none.
    func nearestNotFoundPage(_ directories: ArraySlice<Substring>, cost: inout ResolutionCost) -> String? {
        var node = 0
        var nearest = notFoundPages[0].page
        for directory in directories {
            cost.segmentSteps += 1
            guard let child = notFoundPages[node].children[directory] else { break }
            node = child
            if let page = notFoundPages[node].page { nearest = page }
        }
        return nearest
    }

    /// Three ascending lists as one, in ascending order.
    private static func merged(_ a: [Int], _ b: [Int], _ c: [Int]) -> [Int] {
        if b.isEmpty && c.isEmpty { return a }
        if a.isEmpty && c.isEmpty { return b }
        if a.isEmpty && b.isEmpty { return c }
        return (a + b + c).sorted()
    }
}

/// What resolving one request cost, counted in the units that grow with its
/// path and the site's rules: the tests prove with it that the work stays
/// bounded, without timing anything.
public struct ResolutionCost: Sendable, Hashable {
    /// `_redirects` rules whose pattern was compared with the path.
    public var rulesTried = 0
    /// Path segments visited: splitting the path, building its lookup key,
    /// walking the `404.html` tree.
    public var segmentSteps = 0

    public init() {}
}
