import Foundation
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Testing

@testable import Builder

/// Private repositories over the real build path: a real git host
/// (`GitHTTPServer`: smart HTTP over HTTPS, Basic auth, a private CA given
/// to git with `SLIPWAY_GIT_CA_FILE`), real git, the local runner.
@Suite(.serialized) struct PrivateRepositoryTests {
    static let token = "ghp_priv4te7oken9c2e81f"

    /// A harness whose git trusts the server's CA, a private repository of
    /// the `static-site` fixture on the server, and `body`.
    private static func withPrivateRepository(
        runner: BuilderHarness.RunnerChoice = .local,
        _ body: (BuilderHarness, GitHTTPServer, String) async throws -> Void
    ) async throws {
        let server = try await GitHTTPServer.start(token: token)
        defer { server.stop() }
        try await BuilderHarness.with(runner: runner, configure: { $0.gitCAFile = server.caFile }) { harness in
            let url = try server.serve(try await harness.repository("static-site"), as: "acme/private-site")
            try await body(harness, server, url)
        }
    }

    /// Everything a build left where people can read it.
    private static func everything(_ build: Build, in harness: BuilderHarness) async throws -> [String] {
        [
            build.error ?? "",
            String(decoding: try JSONEncoder().encode(build), as: UTF8.self),
            try await harness.storedLog(build),
            await harness.liveLog(build.id).map(\.text).joined(separator: "\n"),
            harness.reports(for: build.id).compactMap { $0.error?.description }.joined(separator: "\n"),
        ]
    }

    @Test func aDeploymentWithItsTokenBuildsAndTheTokenReachesOnlyGit() async throws {
        try await Self.buildWithTheToken(runner: .local)
    }

    /// The same in a build container, on the Docker engine `scripts/test` starts.
    @Test(
        .enabled(
            if: TestDocker.shouldRun,
            "needs a Docker engine and SLIPWAY_TEST_BUILD_IMAGE: run scripts/test, or scripts/docker-engine.sh start and export SLIPWAY_TEST_BUILD_IMAGE=$(scripts/docker-test-image.sh)"
        ))
    func aDeploymentWithItsTokenBuildsInAContainerThatNeverSeesTheToken() async throws {
        try await Self.buildWithTheToken(runner: .docker)
    }

    /// A build with the right token: it succeeds, and the token shows
    /// nowhere but in git's requests.
    private static func buildWithTheToken(runner: BuilderHarness.RunnerChoice) async throws {
        try await Self.withPrivateRepository(runner: runner) { harness, server, url in
            // The build writes its whole environment and the clone's
            // configuration (the URL git was given) into the published
            // output, where nothing is masked, and prints the environment.
            let site = try await harness.catalog.createSite(
                SiteDraft(
                    repoURL: url, installCommand: "true",
                    buildCommand: "env > public/env.txt && cp .git/config public/git-config.txt && env",
                    outputDir: "public", repoToken: Self.token))
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            #expect(build.attempt == 1)

            // The server saw the token, as the password of the default user.
            #expect(server.received.contains { $0.user == RepoToken.defaultUser && $0.method == "POST" })

            let manifest = try await harness.manifest(build)
            let environment = String(
                buffer: try await harness.store.getBytes(manifest.objectKey(for: "env.txt"), limit: 1 << 20))
            let configuration = String(
                buffer: try await harness.store.getBytes(manifest.objectKey(for: "git-config.txt"), limit: 1 << 20))
            #expect(
                environment.contains("SLIPWAY_BUILD_ID=\(build.id.rawValue)"), "the real environment: \(environment)")
            #expect(!environment.contains(Self.token) && !environment.contains("SLIPWAY_GIT_"), "\(environment)")
            #expect(configuration.contains("url = \(url)"), "git was given the bare URL: \(configuration)")
            #expect(!configuration.contains(Self.token) && !configuration.contains("credential"), "\(configuration)")

            let log = try await harness.storedLog(build)
            #expect(log.contains("cloning \(url) (branch main) with the deployment's access token"))
            #expect(log.contains("SLIPWAY_BUILD_ID="), "the build printed its environment")
            for text in try await Self.everything(build, in: harness) {
                #expect(!text.contains(Self.token), "\(text)")
            }
        }
    }

    @Test func aWrongTokenFailsAtOnceSayingTheRepositoryRefusedIt() async throws {
        let wrong = "ghp_wr0ngtoken5b8d"
        try await Self.withPrivateRepository { harness, server, url in
            let site = try await harness.catalog.createSite(SiteDraft(repoURL: url, repoToken: wrong))
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .failed)
            #expect(build.attempt == 1, "an authentication failure is not retried")
            #expect(harness.reports(for: build.id).count == 1)
            let error = build.error ?? ""
            #expect(error.contains("the repository refused the access token; check repoToken"), "\(error)")
            #expect(error.contains("Authentication failed"), "git's own words: \(error)")
            #expect(!server.received.isEmpty && server.received.allSatisfy { $0.user == nil })
            for text in try await Self.everything(build, in: harness) {
                #expect(!text.contains(wrong), "\(text)")
            }
        }
    }

    @Test func noTokenFailsAtOnceSayingTheRepositoryNeedsCredentials() async throws {
        try await Self.withPrivateRepository { harness, _, url in
            let site = try await harness.catalog.createSite(SiteDraft(repoURL: url))
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .failed)
            #expect(build.attempt == 1, "missing credentials are not retried")
            let error = build.error ?? ""
            #expect(error.contains("the repository needs credentials"), "\(error)")
            #expect(error.contains("set repoToken"), "\(error)")
        }
    }

    /// The token is read from the catalog when the build checks out: a
    /// replaced one is the one git gets.
    @Test func aReplacedTokenIsTheOneGitGets() async throws {
        try await Self.withPrivateRepository { harness, _, url in
            let site = try await harness.catalog.createSite(SiteDraft(repoURL: url, repoToken: "ghp_old0token1a2b"))
            _ = try await harness.catalog.setRepoToken(siteID: site.id, Self.token)
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
        }
    }
}
