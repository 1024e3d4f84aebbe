import Foundation
import Model
import Testing

@testable import Proxy

/// The work of resolving one request stays bounded (`docs/hardening.md`,
/// Cost of a request): linear in the path's segments, and for ordinary paths
/// independent of how many `_redirects` rules the site has. Counted in
/// segments visited and rules compared, never timed.
@Suite struct ResolutionCostTests {
    /// A build with a root `404.html`, a few nested pages and `rules` rules
    /// of the shapes real sites use (exact moves, section patterns, splats).
    static func manifest(rules: Int) -> BuildManifest {
        var files: [String: ManifestFile] = [:]
        for path in ["index.html", "404.html", "docs/404.html", "docs/guide/index.html", "b/index.html"] {
            files[path] = ManifestFile(size: 1, etag: "e", contentType: "text/html; charset=utf-8", immutable: false)
        }
        var text = ""
        for index in 0..<rules {
            switch index % 3 {
            case 0: text += "/old-page-\(index) /new-page-\(index) 301\n"
            case 1: text += "/section-\(index)/:slug /articles/:slug 302\n"
            default: text += "/archive-\(index)/* /history/:splat 301\n"
            }
        }
        let parsed = RedirectRules.parse(text)
        precondition(parsed.problems.isEmpty && parsed.rules.count == rules)
        return BuildManifest(siteID: "site", buildID: "build", files: files, redirects: parsed.rules)
    }

    static func cost(_ target: String, _ manifest: BuildManifest, routes: RouteIndex) throws -> (
        Resolution, ResolutionCost
    ) {
        var cost = ResolutionCost()
        let resolution = PathResolver.resolve(
            try RequestPath(target: target), in: manifest, routes: routes, spaFallback: false, cost: &cost)
        return (resolution, cost)
    }

    @Test(arguments: [0, 1, 100, 2_000])
    func aLongMissingPathCostsLinearInItsSegmentsWhateverTheRuleCount(rules: Int) throws {
        let manifest = Self.manifest(rules: rules)
        let routes = RouteIndex(manifest)
        for segments in [1, 10, 100, RequestPath.maxSegments] {
            let target = "/" + Array(repeating: "a", count: segments).joined(separator: "/")
            let (resolution, cost) = try Self.cost(target, manifest, routes: routes)
            // `/a/…/a` is nothing of the build: the root's 404.html answers.
            #expect(resolution == .file(path: "404.html", status: 404), "\(segments) segments")
            // No rule starts with `a`: none is compared.
            #expect(cost.rulesTried == 0, "\(segments) segments, \(rules) rules")
            // Split once, looked up once, walked once: at most 3 steps per segment.
            #expect(cost.segmentSteps <= 3 * segments, "\(segments) segments, \(rules) rules: \(cost)")
        }
    }

    @Test func onlyRulesThatStartLikeThePathAreCompared() throws {
        let manifest = Self.manifest(rules: 2_000)
        let routes = RouteIndex(manifest)
        let (moved, movedCost) = try Self.cost("/old-page-1500", manifest, routes: routes)
        #expect(moved == .redirect(location: "/new-page-1500", status: 301))
        #expect(movedCost.rulesTried == 1)
        let (section, sectionCost) = try Self.cost("/section-1000/hello", manifest, routes: routes)
        #expect(section == .redirect(location: "/articles/hello", status: 302))
        #expect(sectionCost.rulesTried == 1)
        let (archive, archiveCost) = try Self.cost("/archive-1997/2019/05/post", manifest, routes: routes)
        #expect(archive == .redirect(location: "/history/2019/05/post", status: 301))
        #expect(archiveCost.rulesTried == 1)
    }

    @Test func rulesThatMatchAnyPathKeepTheirOrderWithTheIndexedOnes() throws {
        let text = """
            /docs/intro /first 301
            /:lang/intro /second 302
            /* /index.html 200
            """
        var manifest = Self.manifest(rules: 0)
        manifest.redirects = RedirectRules.parse(text).rules
        let routes = RouteIndex(manifest)
        #expect(try Self.cost("/docs/intro", manifest, routes: routes).0 == .redirect(location: "/first", status: 301))
        #expect(try Self.cost("/fr/intro", manifest, routes: routes).0 == .redirect(location: "/second", status: 302))
        #expect(try Self.cost("/fr/other", manifest, routes: routes).0 == .file(path: "index.html", status: 200))
    }

    @Test func theNearest404PageIsFoundByWalkingDownOnce() throws {
        let manifest = Self.manifest(rules: 0)
        let routes = RouteIndex(manifest)
        let deep = "/docs/guide/" + Array(repeating: "x", count: 200).joined(separator: "/")
        let (resolution, cost) = try Self.cost(deep, manifest, routes: routes)
        #expect(resolution == .file(path: "docs/404.html", status: 404))
        #expect(cost.segmentSteps <= 2 * 202)
    }

    @Test func aPathOverTheSegmentCapIsRefused() {
        let target = "/" + Array(repeating: "a", count: RequestPath.maxSegments + 1).joined(separator: "/")
        #expect(throws: RequestPath.Rejection.tooManySegments) { try RequestPath(target: target) }
        let encoded = "/" + Array(repeating: "%61", count: RequestPath.maxSegments + 1).joined(separator: "/")
        #expect(throws: RequestPath.Rejection.tooManySegments) { try RequestPath(target: encoded) }
        let atCap = "/" + Array(repeating: "a", count: RequestPath.maxSegments).joined(separator: "/") + "/"
        #expect(throws: Never.self) { try RequestPath(target: atCap) }
    }
}
