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
}
