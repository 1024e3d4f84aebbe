import Foundation
import Model
import Storage
import Testing

@testable import Builder

/// Secrets through the whole build path (real git, the local runner, the
/// real line assembly): what reaches the build's error, its stored log, its
/// live log and the server's log (the worker's report).
@Suite(.serialized) struct SecretMaskingPipelineTests {
    /// Everything a build left where people can read it.
    private static func everything(_ build: Build, in harness: BuilderHarness) async throws -> [String] {
        [
            build.error ?? "",
            try await harness.storedLog(build),
            await harness.liveLog(build.id).map(\.text).joined(separator: "\n"),
            harness.reports(for: build.id).compactMap { $0.error?.description }.joined(separator: "\n"),
        ]
    }

    /// A repository token with the characters that cut URLs (`/`, `?`,
    /// `#`, `@`): it goes through the credential helper, never a URL, and
    /// shows nowhere when the clone fails.
    @Test(arguments: ["pw/9f8e7d", "pw?9f8e7d", "pw#9f8e7d", "pw@9f8e7d", "p/w?#@9f8e7d"])
    func aTokenWithSpecialCharactersShowsNowhere(_ password: String) async throws {
        // One attempt: the refused connection is a network error, retried otherwise.
        // A long lease: with one attempt, a lease lost to a stalled machine
        // would end the build without the worker's report.
        var once = BuilderHarness.queueSettings
        once.maxAttempts = 1
        once.leaseDuration = .seconds(120)
        try await BuilderHarness.with(runner: .local, queueSettings: once) { harness in
            let site = try await harness.site(
                repository: "https://127.0.0.1:9/acme/site.git", repoToken: "deployer:\(password)")
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .failed)
            #expect(build.error?.contains("https://127.0.0.1:9/acme/site.git") == true, "\(build.error ?? "")")
            for text in try await Self.everything(build, in: harness) {
                #expect(!text.contains("9f8e7d") && !text.contains("deployer"), "\(text)")
            }
            #expect(try await harness.storedLog(build).contains("cloning https://127.0.0.1:9/acme/site.git"))
        }
    }

    static let deployKey = """
        -----BEGIN OPENSSH PRIVATE KEY-----
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
        QyNTUxOQAAACDqTbY1cmFuZG9tLWJ5dGVzLWZvci10ZXN0aW5nLW9ubHkAAAAAAAAAAAAA
        -----END OPENSSH PRIVATE KEY-----
        """

    /// The build prints a multi-line key, a token at the 16 KiB line cut,
    /// and a token followed by a combining mark: none of it is readable.
    @Test func secretsPrintedByTheBuildAreMaskedOnEveryLineAtTheCutAndBeforeCombiningMarks() async throws {
        let token = "tok_5a7b9c1d3e5f7a9b"
        try await BuilderHarness.with(runner: .local) { harness in
            let cut = harness.configuration.maxLogLineBytes - 8
            let site = try await harness.site(
                repository: try await harness.repository("static-site"), install: "true",
                build: """
                    printf '%s\\n' "$DEPLOY_KEY"; \
                    head -c \(cut) /dev/zero | tr '\\0' x; printf '%s and more\\n' "$API_TOKEN"; \
                    printf 'token=%s\\314\\201 done\\n' "$API_TOKEN"
                    """,
                env: [
                    BuildVariable(name: "DEPLOY_KEY", value: Self.deployKey, secret: true),
                    BuildVariable(name: "API_TOKEN", value: token, secret: true),
                ])
            let build = try await harness.buildAndWait(site)
            #expect(build.status == .success, "\(build.error ?? "")")
            let log = try await harness.storedLog(build)
            let live = await harness.liveLog(build.id).map(\.text)
            for text in [log, live.joined(separator: "\n")] {
                for line in Self.deployKey.split(separator: "\n") { #expect(!text.contains(line), "\(line)") }
                #expect(!text.contains("tok_"), "no prefix of the token, at the cut or before the mark")
                #expect(
                    text.range(of: #"xxxx\**… \[truncated\]"#, options: .regularExpression) != nil,
                    "the line is cut where the token began")
                #expect(text.contains("token=***\u{301} done"))
            }
            #expect(live.filter { $0 == "***" }.count == 4, "each line of the key: \(live.suffix(12))")
        }
    }
}
