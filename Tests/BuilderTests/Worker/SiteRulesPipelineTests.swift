import Foundation
import Model
import Storage
import Testing

@testable import Builder

/// `_redirects` and `_headers` through the whole build path: what the
/// build's output holds becomes the manifest's rules, and a problem with
/// them never fails the build.
@Suite(.serialized) struct SiteRulesPipelineTests {
    /// Rule files saved with CRLF line ends (Windows editors, `git` with
    /// `core.autocrlf`) give the same rules as with LF.
    @Test func rulesFilesWithCRLFLineEndsArePublishedRuleByRule() async throws {
        try await BuilderHarness.with(runner: .local) { harness in
            let site = try await harness.site(
                repository: try await harness.repository("static-site"), install: "true",
                build: """
                    printf '# moved\\r\\n/old-about   /about   301\\r\\n/docs/*  /docs/index.html  200\\r\\n' \
                    > public/_redirects; \
                    printf '/*\\r\\n  X-Frame-Options: DENY\\r\\n\\r\\n/docs/*\\r\\n  Cache-Control: no-store\\r\\n' \
                    > public/_headers
                    """)
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            let manifest = try await harness.manifest(build)
            #expect(manifest.redirects.map(\.from.source) == ["/old-about", "/docs/*"])
            #expect(manifest.redirects.map(\.to) == ["/about", "/docs/index.html"])
            #expect(manifest.headers.map(\.pattern.source) == ["/*", "/docs/*"])
            #expect(
                manifest.headers.flatMap(\.operations) == [
                    HeaderOperation(name: "X-Frame-Options", value: "DENY"),
                    HeaderOperation(name: "Cache-Control", value: "no-store"),
                ])
            let log = try await harness.storedLog(build)
            #expect(log.contains("_redirects: 2 rules") && log.contains("_headers: 2 rules"))
            #expect(!log.contains("warning"))
        }
    }

    /// A rules file over its 1 MiB limit is skipped with a warning that
    /// names it by its place in the site; the build goes on and the other
    /// file still applies. No server path reaches the log or the build.
    @Test func aRulesFileOverItsLimitIsSkippedWithAWarningAndTheBuildGoesOn() async throws {
        try await BuilderHarness.with(runner: .local) { harness in
            let site = try await harness.site(
                repository: try await harness.repository("static-site"), install: "true",
                build: """
                    yes '/from /to 301' | head -c \(Publisher.maxRulesFileBytes + 1) > public/_redirects; \
                    printf '/*\\n  X-Frame-Options: DENY\\n' > public/_headers
                    """)
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            let manifest = try await harness.manifest(build)
            #expect(manifest.redirects.isEmpty)
            #expect(manifest.headers.map(\.pattern.source) == ["/*"])
            let log = try await harness.storedLog(build)
            #expect(
                log.contains(
                    "warning: _redirects is larger than 1 MiB, the limit for this file; it was skipped: this build has no redirect rules"
                ), "\(log)")
            #expect(log.contains("_headers: 1 rule"))
            // (git's own "Cloning into '<workspace>/src'" names the
            // workspace; nothing about the rules does.)
            let serverPaths = log.split(separator: "\n").filter {
                $0.contains("/public/_redirects") || ($0.contains("_redirects") && $0.contains(harness.root))
            }
            #expect(serverPaths.isEmpty)
        }
    }
}
