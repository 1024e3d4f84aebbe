public import Model
import Storage

/// What a sanitised path resolves to within one build.
public enum Resolution: Sendable, Equatable {
    /// Serve this manifest file (`path` without leading `/`) with `status`
    /// (200, or 404 for a `404.html` page or a 404 rewrite).
    case file(path: String, status: Int)
    /// Redirect to `location` with a 3xx status.
    case redirect(location: String, status: Int)
    /// Nothing matched and the build has no 404 page: Slipway's own 404 page.
    case notFound
}

/// Resolves request paths against a build's manifest in exactly the order
/// `docs/site-rules.md` gives:
///
/// 1. `_redirects` rules, first match wins; a rule with status 200 rewrites;
///    a file that exists shadows a rule unless the rule is forced with `!`.
/// 2. The exact file.
/// 3. A path ending in `/` -> its `index.html`.
/// 4. No trailing slash and `p/index.html` exists -> 301 to `p/` (query kept).
/// 5. `p.html`.
/// 6. SPA fallback -> `/index.html` with 200 when enabled, only for paths
///    whose last segment has no `.` (a missing hashed asset stays a 404).
/// 7. The nearest `404.html` walking up from the path's directory, with 404.
/// 8. The built-in 404 page.
///
/// Every step costs time linear in the path's length; `_redirects` rules are
/// found through the build's ``RouteIndex``, so an ordinary path is compared
/// with the few rules that could match it, not with every rule.
public enum PathResolver {
    /// - Parameters:
    ///   - request: the sanitised request path and raw query.
    ///   - routes: the build's rules and `404.html` pages, indexed once per
    ///     manifest (``RouteIndex``).
    ///   - spaFallback: the site serves `index.html` for unknown routes (SPA
    ///     mode `spa`, or `auto` without a top-level `404.html`).
    public static func resolve(
        _ request: RequestPath, in manifest: BuildManifest, routes: RouteIndex, spaFallback: Bool
    ) -> Resolution {
        var cost = ResolutionCost()
        return resolve(request, in: manifest, routes: routes, spaFallback: spaFallback, cost: &cost)
    }

    /// ``resolve(_:in:routes:spaFallback:)``, counting its work into `cost`.
    public static func resolve(
        _ request: RequestPath, in manifest: BuildManifest, routes: RouteIndex, spaFallback: Bool,
        cost: inout ResolutionCost
    ) -> Resolution {
        let path = request.path
        let staticFile = staticLookup(path, in: manifest)
        // Split once, and only when a rule or the 404 walk needs the segments.
        var split: [Substring]?
        func segments() -> [Substring] {
            if let split { return split }
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            cost.segmentSteps += parts.count
            split = parts
            return parts
        }
        let trailingSlash = path.utf8.last == UInt8(ascii: "/")

        // 1. Redirect and rewrite rules.
        if routes.hasRedirects {
            for index in routes.redirectCandidates(segments(), cost: &cost) {
                let rule = manifest.redirects[index]
                if staticFile != nil && !rule.force { continue }
                cost.rulesTried += 1
                guard let values = rule.from.match(segments: segments(), trailingSlash: trailingSlash) else {
                    continue
                }
                if rule.isRedirect {
                    let location = rule.target(values: values, encodeValue: encodePathForLocation)
                    return .redirect(location: withQuery(location, request.query), status: rule.status)
                }
                let target = rule.target(values: values)
                let targetPath = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
                if let file = staticLookup(targetPath, in: manifest), case .file(let filePath, _) = file {
                    return .file(path: filePath, status: rule.status)
                }
                // A rewrite to something that does not exist is a missing page.
                return notFound(segments(), trailingSlash: trailingSlash, routes: routes, cost: &cost)
            }
        }

        // 2–5. The file itself, its directory index, or `p.html`.
        if let staticFile { return withQueryIfRedirect(staticFile, request.query) }

        // 6. SPA fallback for route-like paths.
        if spaFallback, manifest.files["index.html"] != nil, !lastSegmentHasDot(path) {
            return .file(path: "index.html", status: 200)
        }

        // 7–8.
        return notFound(segments(), trailingSlash: trailingSlash, routes: routes, cost: &cost)
    }

    /// Steps 2–5: a file that answers `path` without rules or fallbacks.
    static func staticLookup(_ path: String, in manifest: BuildManifest) -> Resolution? {
        let key = RequestPath.manifestKey(path)
        if key.isEmpty || key.utf8.last == UInt8(ascii: "/") {
            let index = key + "index.html"
            return manifest.files[index] != nil ? .file(path: index, status: 200) : nil
        }
        if manifest.files[key] != nil { return .file(path: key, status: 200) }
        if manifest.files[key + "/index.html"] != nil {
            return .redirect(location: encodePathForLocation(path + "/"), status: 301)
        }
        if manifest.files[key + ".html"] != nil { return .file(path: key + ".html", status: 200) }
        return nil
    }

    /// Steps 7–8: the nearest `404.html` from the path's directory up, or the built-in page.
    static func notFound(
        _ segments: [Substring], trailingSlash: Bool, routes: RouteIndex, cost: inout ResolutionCost
    ) -> Resolution {
        let directories = trailingSlash ? segments[...] : segments.dropLast()
        guard let page = routes.nearestNotFoundPage(directories, cost: &cost) else { return .notFound }
        return .file(path: page, status: 404)
    }

    static func lastSegmentHasDot(_ path: String) -> Bool {
        // The last non-empty segment: a trailing `/` does not end one.
        var bytes = path.utf8[...]
        while bytes.last == UInt8(ascii: "/") { bytes = bytes.dropLast() }
        let start = bytes.lastIndex(of: UInt8(ascii: "/")).map { bytes.index(after: $0) } ?? bytes.startIndex
        return bytes[start...].contains(UInt8(ascii: "."))
    }

    private static func withQuery(_ location: String, _ query: String?) -> String {
        guard let query, !query.isEmpty, !location.contains("?") else { return location }
        return location + "?" + query
    }

    private static func withQueryIfRedirect(_ resolution: Resolution, _ query: String?) -> Resolution {
        if case .redirect(let location, let status) = resolution {
            return .redirect(location: withQuery(location, query), status: status)
        }
        return resolution
    }
}
