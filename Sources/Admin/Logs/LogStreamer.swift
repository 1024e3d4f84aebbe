import Foundation
import Hummingbird
import Logging
import Model
import NIOCore
import ServiceLifecycle
import Storage

/// The body of `GET /api/builds/{id}/logs`, as server-sent events or plain text.
///
/// Server-sent events: `log` events (data `{"time", "stream", "text"}`)
/// replay the log so far and follow it live; a `status` event with the
/// build's final JSON ends the stream; comments keep an idle connection open.
/// A finished build whose log is stored replays the stored log; otherwise the
/// live log comes from the event bus.
///
/// Plain text: the stored log when there is one, else the live log's lines,
/// followed until the build ends (the bus offers no snapshot of a live log).
struct LogStreamer: Sendable {
    enum Format: Sendable {
        case eventStream
        case plainText
    }

    /// What the producers hand the writer.
    enum Item: Sendable {
        case line(LogLine)
        case missed(Int)
        /// The live log was closed: no more lines will come.
        case logEnded
        /// The build reached a final status (or vanished with its deployment).
        case finished(Build)
        /// The build ended a while ago and the live log is still open: stop.
        case stopWaiting
        case keepAlive
    }

    let services: AdminServices
    let configuration: AdminConfiguration
    let previewURL: @Sendable (Build) -> String?

    static let maxLineBytes = 64 << 10
    /// Items between the producers and the writer; backpressure beyond.
    static let channelCapacity = 256

    // MARK: Stored log

    /// Replays the stored log of a finished build, or returns nil when none is stored.
    func storedLogBody(for build: Build, format: Format) async throws -> ResponseBody? {
        let download: ObjectDownload
        do {
            download = try await services.store.get(build.logKey)
        } catch let error as ObjectStoreError where error.code == .notFound {
            return nil
        }
        switch format {
        case .plainText:
            return ResponseBody(asyncSequence: download.body)
        case .eventStream:
            let statusEvent = try Self.statusEvent(BuildJSON(build: build, previewURL: previewURL(build)))
            let limit = configuration.maxPersistedLogBytes
            return ResponseBody { writer in
                var splitter = PersistedLog.LineSplitter(maxLineBytes: Self.maxLineBytes)
                var read = 0
                let now = Date()
                for try await chunk in download.body {
                    read += chunk.readableBytes
                    for text in splitter.append(chunk.readableBytesView) {
                        try await writer.write(Self.logEvent(PersistedLog.parse(text[...], fallback: now)))
                    }
                    if read > limit {
                        let note = LogLine(
                            timestamp: now, stream: .system,
                            text: "[slipway] the stored log is longer than \(limit) bytes; the rest is not replayed")
                        try await writer.write(Self.logEvent(note))
                        break
                    }
                }
                if read <= limit, let last = splitter.finish() {
                    try await writer.write(Self.logEvent(PersistedLog.parse(last[...], fallback: now)))
                }
                try await writer.write(statusEvent)
                try await writer.finish(nil)
            }
        }
    }

    // MARK: Live log

    /// Follows the build's live log from the bus until it is closed and the
    /// build has ended. `events` must have been subscribed before `build`
    /// was read, so no status change falls between the two.
    func liveLogBody(for build: Build, format: Format, events: BusSubscription<CatalogEvent>) -> ResponseBody {
        let services = self.services
        let configuration = self.configuration
        let previewURL = self.previewURL
        return ResponseBody { writer in
            let channel = LogEventChannel<Item>(capacity: Self.channelCapacity)
            var finalBuild: Build?
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await delivery in services.bus.subscribeLog(buildID: build.id) {
                        switch delivery {
                        case .value(let line): guard await channel.send(.line(line)) else { return }
                        case .missed(let count): guard await channel.send(.missed(count)) else { return }
                        }
                    }
                    await channel.send(.logEnded)
                }
                group.addTask {
                    let ended = await Self.waitForEnd(of: build, events: events, catalog: services.catalog)
                    guard await channel.send(.finished(ended)) else { return }
                    try? await Task.sleep(for: configuration.logGracePeriod)
                    await channel.send(.stopWaiting)
                }
                group.addTask {
                    // The server is shutting down: end the stream with the
                    // build's last known status, so that a shutdown never
                    // waits on a build that may run for minutes.
                    do {
                        try await gracefulShutdown()
                    } catch {
                        return
                    }
                    await channel.send(.stopWaiting)
                }
                if format == .eventStream {
                    group.addTask {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: configuration.keepAliveInterval)
                            if Task.isCancelled { return }
                            channel.trySend(.keepAlive)
                        }
                    }
                }
                defer {
                    channel.close()
                    group.cancelAll()
                }
                var logEnded = false
                reading: while let item = await channel.next() {
                    switch item {
                    case .line(let line):
                        try await writer.write(Self.encode(line, format: format))
                    case .missed(let count):
                        let note = LogLine(
                            timestamp: Date(), stream: .system, text: "[slipway] \(count) lines were not delivered here"
                        )
                        try await writer.write(Self.encode(note, format: format))
                    case .keepAlive:
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    case .logEnded:
                        logEnded = true
                    case .finished(let build):
                        finalBuild = build
                    case .stopWaiting:
                        break reading
                    }
                    if logEnded && finalBuild != nil { break reading }
                }
            }
            if format == .eventStream {
                let last = finalBuild ?? build
                try await writer.write(Self.statusEvent(BuildJSON(build: last, previewURL: previewURL(last))))
            }
            try await writer.finish(nil)
        }
    }

    /// The build once it is final, following catalog events; the last known
    /// state when its deployment is deleted first.
    static func waitForEnd(of build: Build, events: BusSubscription<CatalogEvent>, catalog: any Catalog) async -> Build
    {
        var current = build
        if current.status.isFinal { return current }
        for await delivery in events {
            switch delivery {
            case .value(.buildChanged(let changed)) where changed.id == build.id:
                current = changed
            case .value(.siteDeleted(let site)) where site.id == build.siteID:
                return current
            case .missed:
                // Events were lost: read the build again.
                do {
                    current = try await catalog.build(id: build.id)
                } catch {
                    return current
                }
            default:
                continue
            }
            if current.status.isFinal { return current }
        }
        return current
    }

    // MARK: Encoding

    static func encode(_ line: LogLine, format: Format) throws -> ByteBuffer {
        switch format {
        case .eventStream:
            return try logEvent(line)
        case .plainText:
            return ByteBuffer(string: "\(APIJSON.timestamp(line.timestamp)) \(line.stream.rawValue) \(line.text)\n")
        }
    }

    static func logEvent(_ line: LogLine) throws -> ByteBuffer {
        let data = try APIJSON.encoder().encode(LogLineJSON(line: line))
        return event("log", data: data)
    }

    static func statusEvent(_ build: BuildJSON) throws -> ByteBuffer {
        event("status", data: try APIJSON.encoder().encode(build))
    }

    /// One server-sent event. JSON never holds a raw line break, so `data`
    /// is a single `data:` line.
    private static func event(_ name: String, data: Data) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("event: \(name)\ndata: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }
}

/// A log line as the `log` event carries it.
struct LogLineJSON: Encodable, Sendable {
    let line: LogLine

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        try container.encode(line.timestamp, forKey: AnyCodingKey("time"))
        try container.encode(line.stream.rawValue, forKey: AnyCodingKey("stream"))
        try container.encode(line.text, forKey: AnyCodingKey("text"))
    }
}
