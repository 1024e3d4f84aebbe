import Foundation
import Model
import SlipwayTestSupport
import Testing

@testable import Builder

/// The credential helper git runs for a private repository, run here as
/// git runs it (`sh -c '<script> <action>'`, the request on standard
/// input), and what the clone makes of git's complaints.
@Suite struct GitCredentialHelperTests {
    static let token = "glpat-7f3e9a1c5b"

    /// What the helper prints for `action` and `request`, with the
    /// variables of `helper` in its environment, as git runs it.
    private static func answer(of helper: GitCredentialHelper, to action: String, _ request: String) throws -> String {
        let process = TestProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", GitCredentialHelper.script + " " + action]
        process.environment = helper.environment.merging(["PATH": "/usr/bin:/bin"]) { $1 }
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data(request.utf8))
        try input.fileHandleForWriting.close()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .newlines)
    }

    @Test func theHelperAnswersGetForTheRepositorysOwnHostOnly() throws {
        let helper = try #require(
            try GitCredentialHelper(url: "https://git.example.com:8443/acme/site.git", token: Self.token))
        let expected = "username=x-access-token\npassword=\(Self.token)"
        #expect(
            try Self.answer(of: helper, to: "get", "protocol=https\nhost=git.example.com:8443\n") == expected)
        #expect(
            try Self.answer(of: helper, to: "get", "protocol=https\nhost=git.example.com:8443\nusername=bob\n\n")
                == expected)
        for other in [
            "protocol=https\nhost=evil.example.net\n",
            "protocol=https\nhost=git.example.com\n",
            "protocol=https\nhost=git.example.com:8444\n",
            "protocol=https\nhost=git.example.com:8443.evil.example.net\n",
            "protocol=http\nhost=git.example.com:8443\n",
            "host=git.example.com:8443\n",
            "protocol=https\n",
            "",
        ] {
            #expect(try Self.answer(of: helper, to: "get", other) == "", "\(other)")
        }
        for action in ["store", "erase", "capability"] {
            let request = "protocol=https\nhost=git.example.com:8443\nusername=u\npassword=p\n"
            #expect(try Self.answer(of: helper, to: action, request) == "", "\(action)")
        }
    }

    @Test func theURLGitGetsHasNoUserinfoAndItsUserIsKept() throws {
        let plain = try #require(try GitCredentialHelper(url: "https://github.com/acme/site.git", token: Self.token))
        #expect(plain.url == "https://github.com/acme/site.git" && plain.host == "github.com")
        #expect(plain.user == RepoToken.defaultUser)

        let withUser = try #require(
            try GitCredentialHelper(url: "https://deploy%2Dbot:old-pass@gitlab.example.com:444/g/r", token: Self.token))
        #expect(withUser.url == "https://gitlab.example.com:444/g/r")
        #expect(withUser.host == "gitlab.example.com:444" && withUser.user == "deploy-bot")

        #expect(try GitCredentialHelper(url: "file:///srv/repo", token: Self.token) == nil)
        #expect(try GitCredentialHelper(url: "/srv/repo", token: Self.token) == nil)

        // The command line names only the variables; the token is in the environment alone.
        #expect(!plain.configurationArguments.joined().contains(Self.token))
        #expect(plain.configurationArguments.prefix(2) == ["-c", "credential.helper="])
        #expect(plain.environment[GitCredentialHelper.tokenVariable] == Self.token)
        #expect(plain.secrets.contains(Data("x-access-token:\(Self.token)".utf8).base64EncodedString()))
    }

    @Test func aUserColonTokenNamesTheUserGitSends() throws {
        let bitbucket = try #require(
            try GitCredentialHelper(url: "https://bitbucket.org/acme/site.git", token: "bb-user:app-pass-1"))
        #expect(bitbucket.user == "bb-user" && bitbucket.token == "app-pass-1")
        #expect(bitbucket.environment[GitCredentialHelper.tokenVariable] == "app-pass-1")
        #expect(bitbucket.secrets.contains("bb-user:app-pass-1") && bitbucket.secrets.contains("app-pass-1"))
        let plain = try #require(try GitCredentialHelper(url: "https://github.com/acme/site.git", token: "ghp_x"))
        #expect(plain.user == RepoToken.defaultUser && plain.token == "ghp_x")
    }

    @Test func aTokenWithControlCharactersIsRefusedWithoutShowingIt() {
        for bad in ["s3cr3t\nprotocol=https", "s3cr3t en", "s3cr3t\u{7f}", "s3cr3t\u{e9}"] {
            let error = #expect(throws: BuildError.self) {
                try GitCredentialHelper(url: "https://github.com/acme/site.git", token: bad)
            }
            #expect(error?.code == .cloneFailed && error?.isTransient == false)
            #expect(error.map { !$0.message.contains("s3cr3t") } == true)
        }
    }

    @Test(
        arguments: [
            // git 2.39 with a token the host refused (401 on the retry).
            ("remote: unauthorized\nfatal: Authentication failed for 'https://h/r.git/'", true, .tokenRefused),
            ("fatal: unable to access 'https://h/r.git/': The requested URL returned error: 403", true, .tokenRefused),
            // No helper answered: without a token, the repository wants one.
            (
                "error: unable to read askpass response from '/bin/false'\nfatal: could not read Username for 'https://h': terminal prompts disabled",
                false, .credentialsNeeded
            ),
            ("fatal: Authentication failed for 'https://h/r.git/'", false, .credentialsNeeded),
            // With a token, the helper stayed silent: another host asked.
            ("fatal: could not read Username for 'https://other': terminal prompts disabled", true, .askedElsewhere),
        ] as [(String, Bool, GitCheckout.CredentialProblem)])
    func gitsComplaintsAboutCredentialsAreNamed(output: String, hasToken: Bool, problem: GitCheckout.CredentialProblem)
    {
        #expect(GitCheckout.credentialProblem(in: output, hasToken: hasToken) == problem)
        #expect(!GitCheckout.looksTransient(output))
    }

    @Test func otherFailuresAreNoCredentialProblem() {
        for output in [
            "fatal: unable to access 'https://h/r.git/': Could not resolve host: h",
            "fatal: Remote branch nope not found in upstream origin",
            "fatal: repository 'https://h/r.git/' not found",
        ] {
            #expect(GitCheckout.credentialProblem(in: output, hasToken: true) == nil, "\(output)")
            #expect(GitCheckout.credentialProblem(in: output, hasToken: false) == nil, "\(output)")
        }
    }

    @Test func theCAFileMustBeAReadablePEMBundle() throws {
        let directory = NSTemporaryDirectory() + "slipway-git-ca-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = BuilderConfiguration(dataDirectory: directory)
        configuration.gitCAFile = directory + "/missing.pem"
        let missing = #expect(throws: BuildError.self) { try configuration.validate() }
        #expect(missing?.message.contains("SLIPWAY_GIT_CA_FILE '\(directory)/missing.pem' is not a file") == true)

        configuration.gitCAFile = directory + "/notes.txt"
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: directory + "/notes.txt"))
        let notPEM = #expect(throws: BuildError.self) { try configuration.validate() }
        #expect(notPEM?.message.contains("holds no PEM certificate") == true)

        configuration.gitCAFile = directory + "/ca.pem"
        try Data("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8)
            .write(to: URL(fileURLWithPath: directory + "/ca.pem"))
        try configuration.validate()
    }
}
