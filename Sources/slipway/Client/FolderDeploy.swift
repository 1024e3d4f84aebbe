import AsyncHTTPClient
import Builder
import Foundation
import Model
import NIOCore
import NIOHTTP1

/// `slipway deploy --dir`: publishes a folder as a new build of a
/// deployment through the admin API's digest protocol, no build step; with
/// `kind` `source` (`slipway deploy --source`), uploads a source tree the
/// same way (without what `.gitignore` ignores, `node_modules` and `.git`)
/// and queues a build of it.
///
/// The folder is scanned with the builder's own output rules (links must
/// stay inside it, no devices or sockets, `.git` skipped), every file is
/// hashed, and the server answers which contents the deployment lacks: only
/// those are sent, several at once, each retried after a dropped connection.
/// Running the command again after an interruption sends only what the
/// server did not get. The build is then finished: live at once, or kept as
/// a preview.
struct FolderDeploy {
    var client: AdminAPIClient
    var slug: String
    var directory: String
    var kind: UploadKind = .output
    var preview: Bool
    var parallel: Int
    /// Progress lines (standard error), nil for none.
    var progress: ((String) -> Void)?
    /// The first pause before a content is sent again (doubling each time).
    var retryBase: Duration = .milliseconds(500)

    /// What the deploy did, for the summary.
    struct Outcome {
        var finished: [String: Any]
        var files: Int
        var bytes: Int64
        var sent: Int
        var sentBytes: Int64
        var skipped: Int
    }

    func run() async throws -> Outcome {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ClientError(
                "\(kind == .source ? "--source" : "--dir") \(directory): no such directory; give the folder \(kind == .source ? "holding the project" : "holding the built site")"
            )
        }
        var exclude: (@Sendable (String, Bool) -> Bool)?
        if kind == .source {
            let ignore = SourceIgnore(root: root)
            exclude = { path, isDirectory in ignore.excludes(path, isDirectory: isDirectory) }
        }
        let scan: OutputScan
        do {
            scan = try OutputScanner(maxFiles: 10_000_000, maxBytes: .max, exclude: exclude).scan(
                root, shownAs: (directory as NSString).lastPathComponent)
        } catch {
            throw ClientError("\(error.message); nothing was uploaded")
        }
        for note in scan.notes { progress?(note) }
        var sources = scan.files.map { (path: $0.path, source: $0.source) }
        if let headers = scan.headersFile { sources.append(("_headers", headers)) }
        if let redirects = scan.redirectsFile { sources.append(("_redirects", redirects)) }
        for (path, _) in sources {
            if let problem = UploadRules.problem(path: path, kind: kind) {
                throw ClientError("\(problem); nothing was uploaded")
            }
        }
        let files = try await hash(sources)
        let total = files.reduce(Int64(0)) { $0 + $1.file.size }
        let started =
            try await client.send(
                .POST, "/api/deployments/\(slug)/uploads",
                body: [
                    "files": files.map { entry -> [String: Any] in
                        var file: [String: Any] = [
                            "path": entry.file.path, "sha256": entry.file.sha256, "size": entry.file.size,
                        ]
                        if entry.file.executable { file["executable"] = true }
                        return file
                    },
                    "preview": preview, "kind": kind.rawValue,
                ]) as? [String: Any] ?? [:]
        guard let uploadID = started["id"] as? String else {
            throw ClientError("the admin API did not answer with an upload; is it a Slipway with uploads?")
        }
        var missing = Set(started["missing"] as? [String] ?? [])
        let unique = Set(files.map(\.file.sha256))
        progress?(
            "\(files.count) files (\(ByteCount.format(total))): \(missing.count) to send (\(ByteCount.format(Int64(started["missingBytes"] as? Int ?? 0)))), \(unique.count - missing.count) already stored"
        )
        var sent = 0
        var sentBytes: Int64 = 0
        for _ in 0..<3 {
            let batch = files.filter { missing.remove($0.file.sha256) != nil }
            let (count, bytes) = try await send(batch, uploadID: uploadID)
            sent += count
            sentBytes += bytes
            let (status, body) = try await client.request(.POST, "/api/uploads/\(uploadID)/finish")
            if (200..<300).contains(status) {
                return Outcome(
                    finished: body, files: files.count, bytes: total, sent: sent, sentBytes: sentBytes,
                    skipped: unique.count - sent)
            }
            guard status == 409, Self.code(body) == "upload_incomplete" else {
                throw ClientError(Self.message(body) ?? "finishing the upload failed (HTTP \(status))")
            }
            // The server lost some contents meanwhile (collected): send them again.
            let again = try await client.send(.GET, "/api/uploads/\(uploadID)") as? [String: Any] ?? [:]
            missing = Set(again["missing"] as? [String] ?? [])
        }
        throw ClientError(
            "upload \(uploadID) is still missing contents after three rounds; run the deploy again (it sends only what is missing)"
        )
    }

    /// Hashes every file, `parallel` at a time.
    private func hash(_ sources: [(path: String, source: String)]) async throws -> [(file: UploadFile, source: String)]
    {
        try await withThrowingTaskGroup(of: (Int, UploadFile).self) { group in
            var results = [UploadFile?](repeating: nil, count: sources.count)
            var next = 0
            func add() {
                guard next < sources.count else { return }
                let index = next
                let (path, source) = sources[index]
                next += 1
                let kind = self.kind
                group.addTask {
                    let digest = try FileDigest.sha256(ofFileAt: source)
                    // A source tree's scripts keep their executable bit (as git keeps it).
                    let executable = kind == .source && FileManager.default.isExecutableFile(atPath: source)
                    return (
                        index, UploadFile(path: path, sha256: digest.sha256, size: digest.size, executable: executable)
                    )
                }
            }
            for _ in 0..<max(1, parallel) { add() }
            while let (index, file) = try await group.next() {
                results[index] = file
                add()
            }
            return zip(results, sources).map { ($0!, $1.source) }
        }
    }

    /// Sends each file's content once, `parallel` at a time; each is tried
    /// up to five times (a dropped connection, a server restarting).
    private func send(_ files: [(file: UploadFile, source: String)], uploadID: String) async throws -> (Int, Int64) {
        var seen = Set<String>()
        let unique = files.filter { seen.insert($0.file.sha256).inserted }
        let total = unique.reduce(Int64(0)) { $0 + $1.file.size }
        var done = 0
        var doneBytes: Int64 = 0
        var reported = 0
        try await withThrowingTaskGroup(of: UploadFile.self) { group in
            var next = 0
            func add() {
                guard next < unique.count else { return }
                let (file, source) = unique[next]
                next += 1
                group.addTask { [client, retryBase] in
                    try await Self.put(file, source: source, uploadID: uploadID, client: client, retryBase: retryBase)
                    return file
                }
            }
            for _ in 0..<max(1, parallel) { add() }
            while let file = try await group.next() {
                done += 1
                doneBytes += file.size
                let percent = total == 0 ? 100 : Int(doneBytes * 100 / total)
                if percent >= reported + 10 || done == unique.count {
                    reported = percent - percent % 10
                    progress?(
                        "sent \(done)/\(unique.count) files, \(ByteCount.format(doneBytes)) of \(ByteCount.format(total))"
                    )
                }
                add()
            }
        }
        return (done, doneBytes)
    }

    private static func put(
        _ file: UploadFile, source: String, uploadID: String, client: AdminAPIClient, retryBase: Duration
    ) async throws {
        var attempt = 1
        while true {
            do {
                let (status, body) = try await client.putFile(
                    "/api/uploads/\(uploadID)/blobs/\(file.sha256)", path: source, size: file.size)
                if (200..<300).contains(status) { return }
                // Refusals are final; a server that cannot store right now is tried again.
                guard status >= 500, attempt < 5 else {
                    throw ClientError("\(file.path): \(message(body) ?? "the admin API answered HTTP \(status)")")
                }
            } catch let error as ClientError {
                throw error
            } catch {
                guard attempt < 5 else {
                    throw ClientError(
                        "\(file.path) could not be sent (\(error)); run the deploy again: it sends only what is missing"
                    )
                }
            }
            try await Task.sleep(for: retryBase * (1 << (attempt - 1)))
            attempt += 1
        }
    }

    private static func code(_ body: [String: Any]) -> String? {
        (body["error"] as? [String: Any])?["code"] as? String
    }

    private static func message(_ body: [String: Any]) -> String? {
        (body["error"] as? [String: Any])?["message"] as? String
    }
}

extension AdminAPIClient {
    /// Sends a request and returns the status and the JSON object answered,
    /// whatever the status.
    func request(_ method: HTTPMethod, _ path: String) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await Self.http.execute(request, timeout: .seconds(300))
        let data = Data((try await response.body.collect(upTo: 32 << 20)).readableBytesView)
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    /// PUTs the file at `path` (`size` bytes), streamed in 256 KiB chunks.
    func putFile(_ apiPath: String, path: String, size: Int64) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: baseURL + apiPath)
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(FileChunks(path: path), length: .known(size))
        let response = try await Self.http.execute(request, timeout: .seconds(600))
        let data = Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }
}

/// A file's bytes as a sequence of buffers, read as they are asked for.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        let path: String

        mutating func next() async throws -> ByteBuffer? {
            guard let handle else { throw ClientError("cannot open \(path)") }
            guard let data = try handle.read(upToCount: 256 << 10), !data.isEmpty else {
                try? handle.close()
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(handle: FileHandle(forReadingAtPath: path), path: path)
    }
}
