import Model
import Testing

/// Notify URLs: what is accepted, how one is taken apart, what logs show.
@Suite struct NotifyURLTests {
    @Test func anAcceptedURLIsTakenApartWithItsCredentialsOutOfTheRequestURL() throws {
        let url = try NotifyURL("HTTPS://ci%40acme:p%3Ass@hooks.example.com:8443/in/slipway?token=t0p&x=1")
        #expect(url.isTLS && url.host == "hooks.example.com" && url.port == 8443)
        #expect(url.user == "ci@acme" && url.password == "p:ss")
        #expect(url.requestURL == "HTTPS://hooks.example.com:8443/in/slipway?token=t0p&x=1")
        #expect(url.redacted == "HTTPS://hooks.example.com:8443/in/slipway?…")
        #expect("\(url)" == url.redacted)

        let plain = try NotifyURL("http://127.0.0.1:9000")
        #expect(!plain.isTLS && plain.host == "127.0.0.1" && plain.port == 9000 && plain.user == nil)
        #expect(plain.requestURL == "http://127.0.0.1:9000" && plain.redacted == "http://127.0.0.1:9000")
        let literal = try NotifyURL("http://[::1]:8080/hook")
        #expect(literal.host == "[::1]" && literal.port == 8080)
        #expect(try NotifyURL("https://token@hooks.example.com/").password == "")
    }

    @Test(arguments: [
        ("ftp://files.example.com/in", "http:// or https://"),
        ("hooks.example.com/in", "http:// or https://"),
        ("/relative/path", "http:// or https://"),
        ("https:///no-host", "no host"),
        ("https://user@/x", "no host"),
        ("https://hooks.example.com:0/", "port"),
        ("https://hooks.example.com:99999/", "port"),
        ("https://hooks.example.com:http/", "port"),
        ("https://hooks.example.com/in#part", "fragment"),
        ("https://hooks.example.com/with space", "whitespace"),
        ("https://hooks.example.com/\ttab", "whitespace"),
        ("https://hooks.exämple.com/", "non-ASCII"),
        ("https://[::1/", "IPv6"),
        ("https://hooks.example.com/{x}", "not a valid URL"),
        ("https://hooks.example.com/100%", "not a valid URL"),
    ])
    func aRefusedURLSaysWhatToChange(_ text: String, _ problem: String) {
        #expect {
            _ = try NotifyURL(text)
        } throws: { error in
            guard let error = error as? CatalogError else { return false }
            return error.code == .invalidInput && error.message.contains("notifyUrl") && error.message.contains(problem)
        }
    }

    @Test func aTooLongURLIsRefused() {
        let long = "https://hooks.example.com/" + String(repeating: "a", count: SiteSettings.maxNotifyURLLength)
        #expect(throws: CatalogError.self) { try NotifyURL(long) }
        let longest = "https://hooks.example.com/" + String(repeating: "a", count: SiteSettings.maxNotifyURLLength - 26)
        #expect(throws: Never.self) { try NotifyURL(longest) }
    }

    @Test func messagesAndLogsNeverShowCredentialsOrTheQuery() {
        let error = #expect(throws: CatalogError.self) { try NotifyURL("gopher://me:secret@example.com/?token=s3cr3t") }
        #expect(error?.message.contains("secret") == false)
        #expect(error?.message.contains("s3cr3t") == false)
        #expect(NotifyURL.redact("https://me:secret@example.com/a?token=s3cr3t#frag") == "https://example.com/a?…")
        #expect(NotifyURL.redact("not a url?token=1") == "not a url?…")
        let draft = SiteDraft(
            slug: "x", repoURL: "https://github.com/a/b", notifyURL: "https://me:pw@example.com/?token=s3cr3t")
        #expect(!String(describing: draft).contains("s3cr3t") && !String(describing: draft).contains("pw@"))
    }
}
