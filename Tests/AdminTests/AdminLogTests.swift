import AsyncHTTPClient
import Foundation
import Model
import NIOCore
import NIOHTTP1
import Storage
import Testing

@testable import Admin

@Suite struct AdminLogTests {
    /// One parsed server-sent event.
    struct Event {
        let name: String
        let data: [String: Any]
    }

    /// Reads server-sent events from a streaming response.
    struct EventReader {
        var iterator: HTTPClientResponse.Body.AsyncIterator
        var pending = ""
        var sawKeepAlive = false

        /// The next event; nil when the stream ended.
        mutating func next() async throws -> Event? {
            while true {
                if let range = pending.range(of: "\n\n") {
                    let block = String(pending[..<range.lowerBound])
                    pending.removeSubrange(..<range.upperBound)
                    if block.hasPrefix(":") {
                        sawKeepAlive = true
                        continue
                    }
                    var name = "message"
                    var data = ""
                    for line in block.split(separator: "\n") {
                        if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                        if line.hasPrefix("data: ") { data += line.dropFirst(6) }
                    }
                    let object = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] ?? [:]
                    return Event(name: name, data: object)
                }
                guard let chunk = try await iterator.next() else { return nil }
                pending += String(buffer: chunk)
            }
        }
    }

    func openStream(_ server: AdminTestServer, buildID: BuildID) async throws -> (HTTPClientResponse, EventReader) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/api/builds/\(buildID)/logs")
        request.headers.add(name: "Authorization", value: "Bearer \(AdminTestServer.token)")
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (response, EventReader(iterator: response.body.makeAsyncIterator()))
    }

    func line(_ text: String, _ stream: LogLine.Stream = .stdout) -> LogLine {
        LogLine(timestamp: Date(timeIntervalSince1970: 1_767_225_600.25), stream: stream, text: text)
    }

    @Test func eventStreamReplaysFollowsAndEndsWithTheFinalStatus() async throws {
        try await AdminTestServer.run { server in
            let (_, buildID) = try await server.createDeployment(slug: "live")
            let claimed = try #require(try await server.catalog.claimNextBuild(workerID: "w"))
            #expect(claimed.id == buildID)
            server.bus.appendLog(line("cloning", .system), buildID: buildID)
            server.bus.appendLog(line("npm install"), buildID: buildID)

            let (response, initialReader) = try await openStream(server, buildID: buildID)
            var reader = initialReader
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true)

            let first = try #require(try await reader.next())
            #expect(first.name == "log")
            #expect(first.data["text"] as? String == "cloning")
            #expect(first.data["stream"] as? String == "system")
            #expect(first.data["time"] as? String == "2026-01-01T00:00:00.250Z")
            let second = try #require(try await reader.next())
            #expect(second.data["text"] as? String == "npm install")

            // Followed live, after the replay.
            server.bus.appendLog(line("vite build", .stderr), buildID: buildID)
            let third = try #require(try await reader.next())
            #expect(third.data["text"] as? String == "vite build")
            #expect(third.data["stream"] as? String == "stderr")

            _ = try await server.catalog.finishBuild(
                buildID: buildID, workerID: "w", result: .success(fileCount: 1, bytes: 10))
            server.bus.appendLog(line("done"), buildID: buildID)
            server.bus.closeLog(buildID: buildID)

            let fourth = try #require(try await reader.next())
            #expect(fourth.data["text"] as? String == "done")
            let status = try #require(try await reader.next())
            #expect(status.name == "status")
            #expect(status.data["status"] as? String == "success")
            #expect(status.data["previewUrl"] as? String == "http://1--live.apps.test:8080/")
            #expect(try await reader.next() == nil)
        }
    }

    @Test func eventStreamOfAnIdleBuildSendsKeepAlivesAndEndsWhenItIsCanceled() async throws {
        try await AdminTestServer.run { server in
            let (_, buildID) = try await server.createDeployment(slug: "idle")
            let (_, initialReader) = try await openStream(server, buildID: buildID)
            var reader = initialReader
            let canceler = Task {
                try await Task.sleep(for: .milliseconds(700))
                _ = try await server.catalog.cancelBuild(id: buildID)
            }
            // A queued build canceled before any worker took it never gets a
            // live log; the stream still ends, with the final status.
            let status = try #require(try await reader.next())
            #expect(status.name == "status")
            #expect(status.data["status"] as? String == "canceled")
            #expect(try await reader.next() == nil)
            #expect(reader.sawKeepAlive)
            try await canceler.value
        }
    }

    @Test func aFinishedBuildReplaysItsStoredLogInBothFormats() async throws {
        try await AdminTestServer.run { server in
            let (_, buildID) = try await server.createDeployment(slug: "old")
            let finished = try await server.runNextBuild(succeeding: false)
            let stored = """
                2026-01-01T00:00:01.000Z system [slipway] cloning https://github.com/example/site.git
                2026-01-01T00:00:02.500Z stderr npm ERR! missing script: build
                2026-01-01T00:00:03.000Z system build failed: npm run build exited with 1

                """
            try await server.store.put(finished.logKey, body: .string(stored))

            let plain = try await server.request(.GET, "/api/builds/\(buildID)/logs")
            #expect(plain.status == 200)
            #expect(plain.headers.first(name: "Content-Type")?.hasPrefix("text/plain") == true)
            #expect(plain.body == stored)

            let (_, initialReader) = try await openStream(server, buildID: buildID)
            var reader = initialReader
            var texts: [String] = []
            var last: Event?
            while let event = try await reader.next() {
                if event.name == "log" { texts.append(event.data["text"] as? String ?? "") }
                last = event
            }
            #expect(
                texts == [
                    "[slipway] cloning https://github.com/example/site.git", "npm ERR! missing script: build",
                    "build failed: npm run build exited with 1",
                ])
            #expect(last?.name == "status")
            #expect(last?.data["status"] as? String == "failed")
            #expect(last?.data["error"] as? String == "npm run build exited with 1")
        }
    }

    @Test func plainTextWithoutAStoredLogGivesTheLinesTheBusHolds() async throws {
        try await AdminTestServer.run { server in
            let (_, buildID) = try await server.createDeployment(slug: "fresh")
            _ = try #require(try await server.catalog.claimNextBuild(workerID: "w"))
            server.bus.appendLog(line("step one"), buildID: buildID)
            _ = try await server.catalog.finishBuild(
                buildID: buildID, workerID: "w", result: .success(fileCount: 1, bytes: 1))
            server.bus.appendLog(line("step two", .system), buildID: buildID)
            server.bus.closeLog(buildID: buildID)
            let plain = try await server.request(.GET, "/api/builds/\(buildID)/logs")
            #expect(plain.status == 200)
            #expect(
                plain.body == "2026-01-01T00:00:00.250Z stdout step one\n2026-01-01T00:00:00.250Z system step two\n")
        }
    }

    @Test func logsOfAnUnknownBuildAre404() async throws {
        try await AdminTestServer.run { server in
            let reply = try await server.request(.GET, "/api/builds/0000000000aaaaaaaaaaaaaaaa/logs")
            #expect(reply.status == 404)
            #expect(reply.errorCode == "build_not_found")
        }
    }
}
