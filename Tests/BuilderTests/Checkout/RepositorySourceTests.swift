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

    /// Git reads credentials only when the first `@` comes before the first
    /// `/`, `?` or `#` after `://`, and when it prints a URL it drops what
    /// comes before that first `@` — or nothing at all when a `/` comes
    /// first (`transport_anonymize_url`). A password with an unencoded `/`,
    /// `?`, `#` or `@` therefore shows in git's messages. The redaction ends
    /// the user-info at the last `@` instead, unless what comes before the
    /// first `/`, `?` or `#` is a plain `host[:port]`.
    @Test(arguments: [
        // A password with an unencoded `/`, `?`, `#`, `@` or all of them.
        ("https://deploy:pa/ss@git.example.com/acme/site.git", "https://***@git.example.com/acme/site.git"),
        ("https://deploy:pa?ss@git.example.com/acme/site.git", "https://***@git.example.com/acme/site.git"),
        ("https://deploy:pa#ss@git.example.com/acme/site.git", "https://***@git.example.com/acme/site.git"),
        ("https://deploy:p@ss@git.example.com/acme/site.git", "https://***@git.example.com/acme/site.git"),
        ("https://deploy:p@s/s?w#o@rd@h:8443/a/b", "https://***@h:8443/a/b"),
        ("https://deploy:p@ss/x@h/a", "https://***@h/a"),
        ("https://tok@h", "https://***@h"),
        // As git prints them: quoted, with a trailing slash and a reason.
        (
            "fatal: unable to access 'https://deploy:pa/ss@127.0.0.1:9/acme/site.git/': URL using bad/illegal format",
            "fatal: unable to access 'https://***@127.0.0.1:9/acme/site.git/': URL using bad/illegal format"
        ),
        // Two URLs on one line, each redacted up to its own last `@`.
        ("from https://a:b/c@h/x to https://d:e?f@k/y", "from https://***@h/x to https://***@k/y"),
        // An `@` followed by a combining mark is still an `@`.
        ("https://deploy:s3cret@\u{301}h/x", "https://***@\u{301}h/x"),
    ])
    func credentialsAreRedactedUpToTheLastAtBeforeTheHost(_ text: String, _ redacted: String) {
        #expect(RepositorySource.redact(text) == redacted)
    }

    /// An `@` after a plain host is part of the path or the query, not
    /// user-info: npm's scoped packages, an e-mail in a query.
    @Test(arguments: [
        "https://registry.npmjs.org/@babel%2fcore",
        "npm error 404 Not Found - GET https://registry.npmjs.org/@acme/widget - Not found",
        "http://localhost:4873/@scope/pkg",
        "https://h.example/path?email=a@b.example",
        "https://h.example/#@x",
        "https://[::1]:8080/@x",
        "mail me at dev@example.com, not https://h/x",
    ])
    func anAtAfterAPlainHostIsLeftAlone(_ text: String) {
        #expect(RepositorySource.redact(text) == text)
    }

    /// The repository URL itself is one URL: its user-info runs to its last
    /// `@`, even where a plain `host:port` comes first (git would read
    /// `https://deploy:12/ab@h/r` as host `deploy`, port 12; the owner meant
    /// a password).
    @Test func theRepositoryURLIsRedactedUpToItsLastAt() throws {
        for (url, shown) in [
            ("https://deploy:12/ab@git.example.com/acme/site", "https://***@git.example.com/acme/site"),
            ("https://deploy:pa/ss@git.example.com/acme/site", "https://***@git.example.com/acme/site"),
            ("https://git.example.com/acme/site", "https://git.example.com/acme/site"),
        ] {
            let source = try RepositorySource(url: url, branch: "main", allowLocal: false)
            #expect(source.redactedURL == shown)
            #expect(source.description == shown + "#main")
        }
        let refused = #expect(throws: RepositoryError.self) {
            try RepositorySource(url: "ext::deploy:12/ab@h/r", branch: "main", allowLocal: false)
        }
        #expect(refused.map { !$0.message.contains("12/ab") } == true)
    }
}
