import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The part of the Docker Engine API (version 1.41) the builder uses,
/// spoken over the engine's unix socket with AsyncHTTPClient.
///
/// Its own `HTTPClient`: redirects off, response decompression off, no read
/// timeout (a `wait` or a followed log legitimately stays silent for
/// minutes; callers bound those by cancelling). Over a unix socket nothing
/// fills in `Host`, so every request sets it.
final class DockerEngineClient: Sendable {
    static let apiVersion = "v1.41"

    let socketPath: String
    private let http: HTTPClient
    /// Deadline of short requests (everything but pulls, logs and waits).
    private let requestTimeout: TimeAmount

    init(socketPath: String, requestTimeout: TimeAmount = .seconds(60)) {
        self.socketPath = socketPath
        self.requestTimeout = requestTimeout
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5), read: nil)
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: Requests

    /// An answer with its body read whole.
    struct Reply: Sendable {
        var status: Int
        var body: ByteBuffer

        var text: String { String(buffer: body) }

        /// The engine's `{"message": "…"}`, or the raw text.
        var message: String {
            if let decoded = try? JSONDecoder().decode(EngineMessage.self, from: Data(body.readableBytesView)) {
                return decoded.message
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    private struct EngineMessage: Decodable {
        var message: String
    }

    /// `http+unix://<socket>/v1.41<path>?<query>`.
    func url(_ path: String, query: [(String, String)] = []) -> String {
        let socket = socketPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketPath
        var url = "http+unix://\(socket)/\(Self.apiVersion)\(path)"
        if !query.isEmpty {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            url +=
                "?"
                + query.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(
                    separator: "&")
        }
        return url
    }

    private func makeRequest(_ method: HTTPMethod, _ path: String, query: [(String, String)], json: (any Encodable)?)
        throws -> HTTPClientRequest
    {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        request.headers.add(name: "Host", value: "docker")
        if let json {
            let data = try JSONEncoder().encode(json)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        return request
    }

    /// Sends a request and reads the whole answer (at most `limit` bytes).
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json: (any Encodable)? = nil,
        limit: Int = 8 << 20
    ) async throws(BuildError) -> Reply {
        do {
            let request = try makeRequest(method, path, query: query, json: json)
            let response = try await http.execute(request, timeout: requestTimeout)
            let body = try await response.body.collect(upTo: limit)
            return Reply(status: Int(response.status.code), body: body)
        } catch {
            throw mapError(error, doing: "\(method) \(path)")
        }
    }

    /// Sends a request and hands each chunk of the answer to `onChunk` as it
    /// arrives (pull progress, followed logs); returns the status once the
    /// body ends. A non-2xx answer's body is returned whole in `Reply`.
    func stream(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json: (any Encodable)? = nil,
        onChunk: (ByteBuffer) throws -> Void
    ) async throws -> Reply {
        let response: HTTPClientResponse
        do {
            let request = try makeRequest(method, path, query: query, json: json)
            response = try await http.execute(request, deadline: .distantFuture)
        } catch {
            throw mapError(error, doing: "\(method) \(path)")
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            return Reply(status: status, body: body)
        }
        do {
            for try await chunk in response.body {
                try onChunk(chunk)
            }
        } catch let error as CancellationError {
            throw error
        } catch let error as BuildError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw mapError(error, doing: "reading \(path)")
        }
        return Reply(status: status, body: ByteBuffer())
    }

    private func mapError(_ error: any Error, doing what: String) -> BuildError {
        if let error = error as? BuildError { return error }
        return BuildError.engineUnavailable(
            "the Docker engine at unix://\(socketPath) did not answer (\(what): \(error)); start it (e.g. scripts/docker-engine.sh start) or set SLIPWAY_BUILD_RUNNER=local for development"
        )
    }

    func engineFailure(_ reply: Reply, doing what: String) -> BuildError {
        let message = "the Docker engine refused to \(what): HTTP \(reply.status): \(reply.message.prefix(500))"
        return reply.status >= 500
            ? .engineUnavailable(message) : BuildError(code: .engineUnavailable, message: message)
    }

    // MARK: Operations

    /// Whether the engine answers `/_ping`.
    func ping() async -> Bool {
        guard let reply = try? await send(.GET, "/_ping") else { return false }
        return reply.status == 200
    }

    /// Whether the image is present locally.
    func imageExists(_ reference: String) async throws(BuildError) -> Bool {
        let reply = try await send(.GET, "/images/\(Self.pathEscaped(reference))/json")
        switch reply.status {
        case 200: return true
        case 404: return false
        default: throw engineFailure(reply, doing: "inspect the image \(reference)")
        }
    }

    /// Pulls `reference`, reporting progress objects as they stream in.
    func pullImage(_ reference: String, progress: @Sendable (PullProgress) -> Void) async throws {
        var pending = ByteBuffer()
        var failure: String?
        let reply = try await stream(.POST, "/images/create", query: [("fromImage", Self.withTag(reference))]) {
            chunk in
            var chunk = chunk
            pending.writeBuffer(&chunk)
            // The engine sends one JSON object per line.
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - pending.readerIndex
                guard let line = pending.readSlice(length: length) else { break }
                pending.moveReaderIndex(forwardBy: 1)
                guard let item = try? JSONDecoder().decode(PullProgress.self, from: Data(line.readableBytesView)) else {
                    continue
                }
                if let error = item.error { failure = error } else { progress(item) }
            }
            pending.discardReadBytes()
        }
        if reply.status == 404 {
            throw BuildError.imageUnavailable(
                "the build image \(reference) does not exist in its registry: \(reply.message.prefix(300)); check SLIPWAY_BUILD_IMAGE",
                transient: false)
        }
        guard (200..<300).contains(reply.status) else {
            throw BuildError.imageUnavailable(
                "pulling the build image \(reference) failed: HTTP \(reply.status): \(reply.message.prefix(300))",
                transient: reply.status >= 500)
        }
        if let failure {
            throw BuildError.imageUnavailable(
                "pulling the build image \(reference) failed: \(failure.prefix(300)); check the image name and the engine's network access",
                transient: true)
        }
    }

    /// Creates a container; returns its id, or nil when a container with
    /// that name already exists.
    func createContainer(name: String, _ spec: ContainerSpec) async throws(BuildError) -> String? {
        let reply = try await send(.POST, "/containers/create", query: [("name", name)], json: spec)
        switch reply.status {
        case 201:
            guard
                let created = try? JSONDecoder().decode(CreatedContainer.self, from: Data(reply.body.readableBytesView))
            else {
                throw BuildError.engineUnavailable(
                    "the Docker engine answered the container creation with \(reply.text.prefix(200))")
            }
            return created.id
        case 404:
            throw BuildError.imageUnavailable(
                "the build image \(spec.image) is not present: \(reply.message)", transient: true)
        case 409:
            return nil
        default:
            throw engineFailure(reply, doing: "create the build container")
        }
    }

    func startContainer(_ id: String) async throws(BuildError) {
        let reply = try await send(.POST, "/containers/\(id)/start")
        guard reply.status == 204 || reply.status == 304 else {
            throw engineFailure(reply, doing: "start the build container")
        }
    }

    /// Waits until the container stops; returns its exit status.
    func waitContainer(_ id: String) async throws -> Int32 {
        var body = ByteBuffer()
        let reply = try await stream(.POST, "/containers/\(id)/wait", query: [("condition", "not-running")]) { chunk in
            var chunk = chunk
            body.writeBuffer(&chunk)
        }
        guard (200..<300).contains(reply.status),
            let result = try? JSONDecoder().decode(WaitResult.self, from: Data(body.readableBytesView))
        else {
            throw engineFailure(
                reply.status == 200 ? Reply(status: 200, body: body) : reply, doing: "wait for the build container")
        }
        return result.statusCode
    }

    /// Follows the container's logs from its start until it stops, handing
    /// each raw (multiplexed) chunk to `onChunk`.
    func followLogs(_ id: String, onChunk: (ByteBuffer) throws -> Void) async throws {
        let reply = try await stream(
            .GET, "/containers/\(id)/logs", query: [("follow", "1"), ("stdout", "1"), ("stderr", "1")], onChunk: onChunk
        )
        guard (200..<300).contains(reply.status) else { throw engineFailure(reply, doing: "stream the build's output") }
    }

    func inspectContainer(_ id: String) async throws(BuildError) -> ContainerState {
        let reply = try await send(.GET, "/containers/\(id)/json")
        guard reply.status == 200,
            let info = try? JSONDecoder().decode(ContainerInfo.self, from: Data(reply.body.readableBytesView))
        else {
            throw engineFailure(reply, doing: "inspect the build container")
        }
        return info.state
    }

    /// Sends SIGKILL to every process of the container; a stopped container is fine.
    func killContainer(_ id: String) async throws(BuildError) {
        let reply = try await send(.POST, "/containers/\(id)/kill", query: [("signal", "SIGKILL")])
        guard reply.status == 204 || reply.status == 409 || reply.status == 404 else {
            throw engineFailure(reply, doing: "kill the build container")
        }
    }

    /// Removes the container (killing it if needed) and its anonymous volumes; a missing one is fine,
    /// and so is one whose removal another caller (a builder's reaper, the runner) already started.
    func removeContainer(_ id: String) async throws(BuildError) {
        let reply = try await send(.DELETE, "/containers/\(id)", query: [("force", "1"), ("v", "1")])
        if reply.status == 204 || reply.status == 404 { return }
        if reply.status == 409,
            String(decoding: reply.body.readableBytesView, as: UTF8.self).contains("already in progress")
        {
            return
        }
        throw engineFailure(reply, doing: "remove the build container")
    }

    /// Containers (running or not) carrying the label `label`.
    func containers(withLabel label: String) async throws(BuildError) -> [ContainerSummary] {
        let filters = "{\"label\":[\"\(label)\"]}"
        let reply = try await send(.GET, "/containers/json", query: [("all", "1"), ("filters", filters)])
        guard reply.status == 200,
            let list = try? JSONDecoder().decode([ContainerSummary].self, from: Data(reply.body.readableBytesView))
        else {
            throw engineFailure(reply, doing: "list build containers")
        }
        return list
    }

    // MARK: Names

    /// `node` -> `node:latest`; a reference with a tag or digest is unchanged
    /// (without a tag the engine would pull every tag).
    static func withTag(_ reference: String) -> String {
        if reference.contains("@") { return reference }
        let lastComponent = reference.split(separator: "/").last ?? Substring(reference)
        return lastComponent.contains(":") ? reference : reference + ":latest"
    }

    static func pathEscaped(_ reference: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:/@")
        return reference.addingPercentEncoding(withAllowedCharacters: allowed) ?? reference
    }
}
