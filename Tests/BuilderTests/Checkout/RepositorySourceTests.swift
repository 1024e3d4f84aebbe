import Testing

@testable import Builder

@Suite struct RepositorySourceTests {
    @Test func httpsRepositoriesAreAccepted() throws {
        let source = try RepositorySource(url: "https://github.com/acme/site.git", branch: "main", allowLocal: false)
        #expect(source.url == "https://github.com/acme/site.git")
    }

    @Test func dangerousURLsAreRejectedBeforeGitRuns() {
        for url in [
            "file:///etc", "/tmp/repo", "ext::sh -c id", "ssh://-oProxyCommand=x/y", "file:///srv/repo", "/srv/repo",
            "ext::sh -c touch% /tmp/pwned", "ssh://-oProxyCommand=x/repo",
            "-u", "--upload-pack=touch /tmp/x", "git://example.com/r", "http://example.com/r.git",
            "https://", "https:///path", "https://host", "https://exa mple.com/r", "",
        ] {
            #expect(throws: RepositoryError.self, "\(url)") {
                try RepositorySource(url: url, branch: "main", allowLocal: false)
            }
        }
    }

    @Test func localRepositoriesNeedTheExplicitSetting() throws {
        #expect(throws: RepositoryError.self) {
            try RepositorySource(url: "/srv/repo", branch: "main", allowLocal: false)
        }
        _ = try RepositorySource(url: "/srv/repo", branch: "main", allowLocal: true)
        _ = try RepositorySource(url: "file:///srv/repo", branch: "main", allowLocal: true)
        #expect(throws: RepositoryError.self) { try RepositorySource(url: "ext::x", branch: "main", allowLocal: true) }
    }

    @Test func branchNamesFollowCheckRefFormat() throws {
        for good in ["main", "feature/x", "release-1.2", "v1.0.0", "a_b"] {
            _ = try RepositorySource(url: "https://h/r", branch: good, allowLocal: false)
        }
        for bad in [
            "", "-x", "--upload-pack=evil", "--upload-pack=touch /tmp/x", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*",
            "a[", "a\\b",
            "/a", "a/", "a//b", "a.lock", "a.", ".a", "x/.y", "@", "a@{1}", "a\u{7}",
        ] {
            #expect(throws: RepositoryError.self, "\(bad)") {
                try RepositorySource(url: "https://h/r", branch: bad, allowLocal: false)
            }
        }
    }

    @Test func credentialsAreRedactedEverywhere() throws {
        let source = try RepositorySource(
            url: "https://user:s3cret@github.com/acme/site", branch: "main", allowLocal: false)
        #expect(source.redactedURL == "https://***@github.com/acme/site")
        #expect(!source.description.contains("s3cret"))
        #expect(
            RepositorySource.redact("fatal: could not read from https://tok@h/x and https://a:b@h/y")
                == "fatal: could not read from https://***@h/x and https://***@h/y")
        let error = #expect(throws: RepositoryError.self) {
            try RepositorySource(url: "https://user:s3cret@", branch: "main", allowLocal: false)
        }
        #expect(error.map { !$0.message.contains("s3cret") } == true)
    }
}
