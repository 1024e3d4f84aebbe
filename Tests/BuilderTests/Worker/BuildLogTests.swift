import Foundation
import Model
import Storage
import Testing

@testable import Builder

@Suite final class BuildLogTests {
    let directory = NSTemporaryDirectory() + "slipway-buildlog-" + UUID().uuidString

    init() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func makeLog(bus: InProcessEventBus, secrets: [String] = [], maxBytes: Int = 10 << 20) throws -> (BuildLog, BuildID)
    {
        let id = BuildID.generate()
        return (
            try BuildLog(buildID: id, path: directory + "/\(id).log", bus: bus, secrets: secrets, maxBytes: maxBytes),
            id
        )
    }

    func persisted(_ log: BuildLog) throws -> String {
        try String(contentsOfFile: log.path, encoding: .utf8)
    }

    @Test func linesGoToTheBusAndTheFileWithTimestampsAndStreams() async throws {
        let bus = InProcessEventBus()
        let (log, id) = try makeLog(bus: bus)
        log.system("cloning")
        log.output("compiled", stream: .stdout)
        log.output("warning: slow", stream: .stderr)
        log.finish()
        bus.closeLog(buildID: id)
        var live: [LogLine] = []
        for await delivery in bus.subscribeLog(buildID: id) {
            if case .value(let line) = delivery { live.append(line) }
        }
        #expect(live.map(\.text) == ["cloning", "compiled", "warning: slow"])
        #expect(live.map(\.stream) == [.system, .stdout, .stderr])
        let lines = try persisted(log).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[1].hasSuffix(" stdout compiled"))
        // 2026-01-31T12:34:56.789Z
        #expect(
            lines[0].range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z system cloning$"#, options: .regularExpression)
                != nil)
    }

    @Test func secretValuesAndURLCredentialsNeverReachTheBusOrTheFile() async throws {
        let bus = InProcessEventBus()
        let (log, id) = try makeLog(bus: bus, secrets: ["hunter2-secret", "abc"])
        log.output("token=hunter2-secret; again hunter2-secret", stream: .stdout)
        log.system("fetching https://deploy:pa55word@git.example.com/acme/site.git")
        log.output("abc is too short to mask", stream: .stdout)
        log.finish()
        bus.closeLog(buildID: id)
        let file = try persisted(log)
        #expect(!file.contains("hunter2-secret"))
        #expect(!file.contains("pa55word"))
        #expect(file.contains("token=***; again ***"))
        #expect(file.contains("https://***@git.example.com/acme/site.git"))
        #expect(file.contains("abc is too short"))
        for await delivery in bus.subscribeLog(buildID: id) {
            if case .value(let line) = delivery {
                #expect(!line.text.contains("hunter2-secret") && !line.text.contains("pa55word"))
            }
        }
    }

    @Test func aFloodIsCutAtTheCapWithANoteAndCounted() throws {
        let bus = InProcessEventBus(limits: .init(logLines: 100, logBytes: 64 << 10))
        let (log, id) = try makeLog(bus: bus, maxBytes: 64 << 10)
        let line = String(repeating: "y", count: 200)
        for _ in 0..<10_000 { log.output(line, stream: .stdout) }
        log.finish()
        bus.closeLog(buildID: id)
        let attributes = try FileManager.default.attributesOfItem(atPath: log.path)
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        #expect(size <= (64 << 10) + 1024)
        let text = try persisted(log)
        #expect(text.contains("the log reached its 64 KiB limit here"))
        #expect(text.contains("more lines were left out of the stored log"))
        #expect(log.lineCount == 10_000)
    }

    @Test func earlierAttemptsAreKeptAtTheStart() throws {
        let bus = InProcessEventBus()
        let (log, _) = try makeLog(bus: bus)
        log.seed(withEarlierAttempts: Array("2026-01-01T00:00:00.000Z system attempt 1 failed".utf8))
        log.system("attempt 2")
        log.finish()
        let lines = try persisted(log).split(separator: "\n")
        #expect(lines.first == "2026-01-01T00:00:00.000Z system attempt 1 failed")
        #expect(lines.last?.hasSuffix("system attempt 2") == true)
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(BuildLog.timestamp(Date(timeIntervalSince1970: 1_767_225_600.5)) == "2026-01-01T00:00:00.500Z")
    }

    /// Every line the bus holds for a closed log, and the persisted file's lines.
    func everything(_ log: BuildLog, _ id: BuildID, bus: InProcessEventBus) async throws -> (
        live: [String], file: String
    ) {
        log.finish()
        bus.closeLog(buildID: id)
        var live: [String] = []
        for await delivery in bus.subscribeLog(buildID: id) {
            if case .value(let line) = delivery { live.append(line.text) }
        }
        return (live, try persisted(log))
    }

    static let pem = """
        -----BEGIN OPENSSH PRIVATE KEY-----
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
        QyNTUxOQAAACDqTbY1cmFuZG9tLWJ5dGVzLWZvci10ZXN0aW5nLW9ubHkAAAAAAAAAAAAA
        -----END OPENSSH PRIVATE KEY-----
        """

    /// A build that prints a multi-line secret (a key, a certificate) prints
    /// it a line at a time: each line is masked.
    @Test func everyLineOfAMultiLineSecretIsMasked() async throws {
        let bus = InProcessEventBus()
        let (log, id) = try makeLog(bus: bus, secrets: [Self.pem])
        for line in Self.pem.split(separator: "\n") { log.output("key: " + line, stream: .stdout) }
        log.output(Self.pem, stream: .stdout)
        #expect(!log.sanitize("error: \(Self.pem)").contains("b3BlbnNz"))
        let (live, file) = try await everything(log, id, bus: bus)
        #expect(live == Array(repeating: "key: ***", count: 4) + ["***"])
        for line in Self.pem.split(separator: "\n") {
            #expect(!file.contains(line) && !live.contains { $0.contains(line) }, "\(line)")
        }
    }

    /// A runner cuts a line over the limit before the log sees it (its
    /// line assembler keeps at most `maxLineBytes`): a secret crossing the
    /// cut arrives as a prefix, which is masked too.
    @Test func aSecretCrossingTheLineCutShowsNoPrefix() async throws {
        let bus = InProcessEventBus()
        let secret = "tok_5a7b9c1d3e5f7a9b"
        let (log, id) = try makeLog(bus: bus, secrets: [secret])
        let limit = log.maxLineBytes
        var assembler = LineAssembler(maxLineBytes: limit)
        for kept in [8, 1, 3, secret.utf8.count - 1] {
            let line = String(repeating: "x", count: limit - kept) + secret + " and more"
            for cut in assembler.append(Array((line + "\n").utf8)) { log.output(cut, stream: .stdout) }
            // The same line given whole: masked, then cut.
            log.output(line, stream: .stderr)
        }
        let (live, file) = try await everything(log, id, bus: bus)
        #expect(live.count == 8)
        for (index, text) in live.enumerated() {
            let fits = text.utf8.count <= limit
            #expect(fits, "line \(index) has \(text.utf8.count) bytes")
            let afterTheXs = String(text.drop(while: { $0 == "x" }).prefix(40))
            #expect(!afterTheXs.hasPrefix("t"), "line \(index) goes on with \(afterTheXs)")
            if index.isMultiple(of: 2) {
                // Cut by the assembly: the x's, what is left of the `***`, the marker.
                let marked = afterTheXs.hasSuffix(LineAssembler.truncationMarker)
                let masked = afterTheXs.dropLast(LineAssembler.truncationMarker.count).allSatisfy { $0 == "*" }
                #expect(marked && masked, "line \(index) goes on with \(afterTheXs)")
            }
        }
        #expect(!file.contains("xt"), "no prefix of the secret follows the x's")
    }

    /// Masking compares UTF-8 bytes, not characters: a combining mark after
    /// a secret merges with its last letter into one character, and the
    /// secret is masked all the same.
    @Test func aSecretFollowedByACombiningMarkIsMasked() async throws {
        let bus = InProcessEventBus()
        let (log, id) = try makeLog(bus: bus, secrets: ["hunter2-secret", "\u{301}accent-first"])
        log.output("token=hunter2-secret\u{301} done", stream: .stdout)
        log.output("e\u{301}accent-first", stream: .stdout)
        let (live, file) = try await everything(log, id, bus: bus)
        #expect(live == ["token=***\u{301} done", "e***"])
        #expect(!file.contains("hunter2") && !file.contains("accent-first"))
    }

    /// Git prints the repository URL whole when the password holds a `/`.
    @Test func aPasswordWithSlashesInAGitMessageIsRedacted() async throws {
        let bus = InProcessEventBus()
        let (log, id) = try makeLog(bus: bus)
        log.output(
            "fatal: unable to access 'https://deploy:pa/ss?w#rd@127.0.0.1:9/acme/site.git/': URL using bad/illegal format",
            stream: .stderr)
        let (live, file) = try await everything(log, id, bus: bus)
        #expect(
            live == ["fatal: unable to access 'https://***@127.0.0.1:9/acme/site.git/': URL using bad/illegal format"])
        #expect(!file.contains("pa/ss"))
    }

    /// Where the URL is ambiguous (`deploy:12` could be a host and port)
    /// git prints it whole and a redaction by shape cannot tell; the
    /// repository's credentials are masks of their own from the clone on,
    /// encoded and decoded.
    @Test func theRepositoryCredentialsAreMaskedHoweverGitPrintsTheURL() async throws {
        let bus = InProcessEventBus()
        let (log, id) = try makeLog(bus: bus)
        let url = "https://deploy:12/ab%40cd@127.0.0.1:9/acme/site.git"
        log.maskCredentials(of: try RepositorySource(url: url, branch: "main", allowLocal: false))
        log.output("fatal: unable to access '\(url)/': Could not resolve host: deploy", stream: .stderr)
        log.output("the password was 12/ab@cd", stream: .stdout)
        #expect(
            log.sanitize("git clone of \(url) failed") == "git clone of https://***@127.0.0.1:9/acme/site.git failed")
        let (live, file) = try await everything(log, id, bus: bus)
        #expect(
            live == [
                "fatal: unable to access 'https://***@127.0.0.1:9/acme/site.git/': Could not resolve host: deploy",
                "the password was ***",
            ])
        #expect(!file.contains("12/ab"))
    }

    /// Secrets that overlap in a line are masked as one: no byte of either shows.
    @Test func overlappingSecretsAreMaskedAsOne() async throws {
        let bus = InProcessEventBus()
        let (log, id) = try makeLog(bus: bus, secrets: ["abcdef", "defghi", "ghijkl"])
        log.output("xx abcdefghijkl yy abcdef-defghi", stream: .stdout)
        let (live, _) = try await everything(log, id, bus: bus)
        #expect(live == ["xx *** yy ***-***"])
    }
}
