import AsyncHTTPClient
import Crypto
import Foundation
import Model
import NIOCore
import NIOHTTP1
import SlipwayTestSupport
import Storage
import Testing

@testable import Admin

/// The upload endpoints against a live admin server and the disk store:
/// what is checked before a blob is stored, what is refused, and finishing.
@Suite struct AdminUploadTests {
    static func sha(_ text: String) -> String { Hex.encode(SHA256.hash(data: Data(text.utf8))) }

    static func entry(_ path: String, _ text: String) -> String {
        #"{"path": "\#(path)", "sha256": "\#(sha(text))", "size": \#(text.utf8.count)}"#
    }

    static let page = "<!doctype html><title>Docs</title>" + String(repeating: "<p>Hello, uploads.</p>", count: 40)
    static let script = "console.log('app');"
    static let redirects = "/old /new 301\n/broken\n"

    /// Starts an upload of `files` (path → text) to `slug`.
    static func start(
        _ server: AdminTestServer, slug: String, _ files: [(String, String)], preview: Bool = false
    ) async throws -> AdminTestServer.Reply {
        let list = files.map { entry($0.0, $0.1) }.joined(separator: ", ")
        return try await server.request(
            .POST, "/api/deployments/\(slug)/uploads", body: #"{"files": [\#(list)], "preview": \#(preview)}"#)
    }

    static func put(_ server: AdminTestServer, _ upload: String, _ text: String, as digest: String? = nil)
        async throws -> AdminTestServer.Reply
    {
        try await server.request(.PUT, "/api/uploads/\(upload)/blobs/\(digest ?? sha(text))", body: text)
    }

    @Test func aFolderIsPublishedFromWhatTheDeploymentLacksAndGoesLive() async throws {
        try await AdminTestServer.run { server in
            _ = try await server.createDeployment(slug: "handbook")
            let files = [("index.html", Self.page), ("app.js", Self.script), ("_redirects", Self.redirects)]
            let started = try await Self.start(server, slug: "handbook", files)
            #expect(started.status == 201, "\(started.body)")
            let upload = try #require(try started.json["id"] as? String)
            #expect(Set(try started.json["missing"] as? [String] ?? []) == Set(files.map { Self.sha($0.1) }))
            for (_, text) in files {
                let sent = try await Self.put(server, upload, text)
                #expect(sent.status == 201, "\(sent.body)")
            }
            // The deployment has it now: sending it again reads nothing.
            #expect(try await Self.put(server, upload, Self.script).status == 200)
            let finished = try await server.request(.POST, "/api/uploads/\(upload)/finish")
            #expect(finished.status == 201, "\(finished.body)")
            #expect(try finished.json["activated"] as? Bool == true)
            #expect(try finished.json["url"] as? String == "http://handbook.apps.test:8080/")
            #expect((try finished.json["warnings"] as? [String] ?? []).contains { $0.contains("_redirects") })
            let build = try #require(try finished.json["build"] as? [String: Any])
            let buildText = try #require(build["id"] as? String)
            let buildID = try #require(BuildID(buildText))
            let site = try await server.catalog.site(slug: "handbook")
            #expect(site.activeBuildID == buildID)

            // Laid out as the builder lays out a build: blobs, a gzip variant, rules.
            let manifest = try BuildManifest.decode(
                Data(
                    try await server.store.getBytes(
                        BuildManifest.key(siteID: site.id.rawValue, buildID: buildID.rawValue)
                    ).readableBytesView))
            #expect(Set(manifest.files.keys) == ["index.html", "app.js"])
            #expect(manifest.redirects.count == 1)
            let index = try #require(manifest.files["index.html"])
            #expect(index.sha256 == Self.sha(Self.page) && index.contentType.hasPrefix("text/html"))
            let gzip = try #require(index.variants["gzip"]?.sha256)
            let compressed = try await server.store.getBytes(ContentAddress.key(sha256: gzip))
            #expect(Self.sha256(compressed) == gzip && compressed.readableBytes < Self.page.utf8.count)
            let expected = try ManifestEntryBuilder.entry(path: "index.html", bytes: Array(Self.page.utf8)).file
            #expect(index.etag == expected.etag && index.variants["gzip"]?.sha256 == expected.variants["gzip"]?.sha256)
            #expect(manifest.files["app.js"]?.variants.isEmpty == true)
            let stored = try await server.store.getBytes(ContentAddress.key(sha256: Self.sha(Self.page)))
            #expect(String(buffer: stored) == Self.page)

            // A second folder with one file changed lacks that file only.
            let next = try await Self.start(
                server, slug: "handbook", [("index.html", Self.page), ("app.js", "console.log('v2');")])
            #expect(try next.json["missing"] as? [String] == [Self.sha("console.log('v2');")])
        }
    }

    @Test func bytesThatAreNotTheNamedContentAreNeverStored() async throws {
        try await AdminTestServer.run { server in
            _ = try await server.createDeployment(slug: "handbook")
            let started = try await Self.start(server, slug: "handbook", [("index.html", Self.page)])
            let upload = try #require(try started.json["id"] as? String)
            let named = Self.sha(Self.page)
            // Same length, other bytes.
            let forged = String(Self.page.reversed())
            let wrong = try await Self.put(server, upload, forged, as: named)
            #expect(wrong.status == 422 && wrong.errorCode == "digest_mismatch", "\(wrong.body)")
            #expect(wrong.errorMessage?.contains("nothing was stored") == true)
            let short = try await Self.put(server, upload, "<p>", as: named)
            #expect(short.status == 422 && short.errorCode == "blob_size_mismatch", "\(short.body)")
            // More than announced, without a length up front: cut off at the announced size.
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/api/uploads/\(upload)/blobs/\(named)")
            request.method = .PUT
            request.headers.add(name: "Authorization", value: "Bearer \(AdminTestServer.token)")
            let flood = ByteBuffer(repeating: UInt8(ascii: "a"), count: 64 << 10)
            request.body = .stream(
                AsyncStream { continuation in
                    for _ in 0..<64 { continuation.yield(flood) }
                    continuation.finish()
                }, length: .unknown)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 413)
            _ = try? await response.body.collect(upTo: 1 << 20)
            // A compression bomb (10 MiB of zeros, gzipped) is never inflated: refused before it is read.
            var bomb = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/api/uploads/\(upload)/blobs/\(named)")
            bomb.method = .PUT
            bomb.headers.add(name: "Authorization", value: "Bearer \(AdminTestServer.token)")
            bomb.headers.add(name: "Content-Encoding", value: "gzip")
            bomb.body = .bytes(ByteBuffer(bytes: try Self.gzipBomb()))
            let refused = try await HTTPClient.shared.execute(bomb, timeout: .seconds(30))
            let refusal = String(buffer: try await refused.body.collect(upTo: 1 << 20))
            #expect(refused.status.code == 415 && refusal.contains("uncompressed"), "\(refusal)")
            let unnamed = try await Self.put(server, upload, "other")
            #expect(unnamed.status == 404 && unnamed.errorCode == "blob_not_in_upload")
            // Nothing became visible, and the upload still lacks it.
            await #expect(throws: (any Error).self) {
                _ = try await server.store.head(ContentAddress.key(sha256: named))
            }
            let state = try await server.request(.GET, "/api/uploads/\(upload)")
            #expect(try state.json["missing"] as? [String] == [named])
            let finish = try await server.request(.POST, "/api/uploads/\(upload)/finish")
            #expect(finish.status == 409 && finish.errorCode == "upload_incomplete", "\(finish.body)")
            #expect(
                try await server.catalog.builds(siteID: try await server.catalog.site(slug: "handbook").id).builds.count
                    == 1)
            // Sent right, it finishes.
            #expect(try await Self.put(server, upload, Self.page).status == 201)
            #expect(try await server.request(.POST, "/api/uploads/\(upload)/finish").status == 201)
        }
    }

    @Test(arguments: [
        ("../etc/passwd", "leaves the folder"), ("/etc/passwd", "absolute path"), ("a//b.html", "empty or '.'"),
        ("a/./b.html", "empty or '.'"), ("a/", "empty or '.'"), (".git/config", "git metadata"),
        ("docs/.git/HEAD", "git metadata"), (".slipway/gzip/x.gz", "reserved"), ("a\\\\b", "backslash"),
        ("a\\tb", "control character"), ("", "empty path"),
    ])
    func hostilePathsAreRefusedWithTheReason(path: String, reason: String) async throws {
        try await AdminTestServer.run { server in
            _ = try await server.createDeployment(slug: "handbook")
            let reply = try await server.request(
                .POST, "/api/deployments/handbook/uploads",
                body: #"{"files": [{"path": "\#(path)", "sha256": "\#(Self.sha("x"))", "size": 1}]}"#)
            #expect(reply.status == 422 && reply.errorCode == "upload_invalid", "\(path): \(reply.body)")
            #expect(reply.errorMessage?.contains(reason) == true, "\(path): \(reply.body)")
        }
    }

    @Test func listsOverTheLimitsOrMalformedAreRefused() async throws {
        try await AdminTestServer.run(configure: { $0.uploads.maxBytes = 1000 }) { server in
            _ = try await server.createDeployment(slug: "handbook")
            let digest = Self.sha("x")
            // 60,000 files: over the 50,000 a build may publish.
            let many = (0..<60_000).map { #"{"path": "f/\#($0).txt", "sha256": "\#(digest)", "size": 0}"# }
            let tooMany = try await server.request(
                .POST, "/api/deployments/handbook/uploads", body: #"{"files": [\#(many.joined(separator: ","))]}"#)
            #expect(
                tooMany.status == 422 && tooMany.errorMessage?.contains("more than 50000") == true,
                "\(tooMany.body.prefix(300))")
            let cases: [(String, String)] = [
                (#"[{"path": "a", "sha256": "\#(digest)", "size": 1001}]"#, "larger than"),
                (#"[{"path": "a", "sha256": "ABC", "size": 1}]"#, "not 64 lower-case"),
                (#"[{"path": "a", "sha256": "\#(digest)", "size": -1}]"#, "negative size"),
                (
                    #"[{"path": "a", "sha256": "\#(digest)", "size": 1}, {"path": "a", "sha256": "\#(digest)", "size": 1}]"#,
                    "named twice"
                ),
                (
                    #"[{"path": "a", "sha256": "\#(digest)", "size": 1}, {"path": "a/b", "sha256": "\#(digest)", "size": 1}]"#,
                    "both a file and a directory"
                ),
                ("[]", "names no files"),
            ]
            for (files, reason) in cases {
                let reply = try await server.request(
                    .POST, "/api/deployments/handbook/uploads", body: #"{"files": \#(files)}"#)
                #expect(reply.status == 422 && reply.errorMessage?.contains(reason) == true, "\(files): \(reply.body)")
            }
            let unknown = try await server.request(.POST, "/api/deployments/nope/uploads", body: #"{"files": []}"#)
            #expect(unknown.status == 404)
            #expect(try await server.request(.GET, "/api/uploads/upl_nope").status == 404)
        }
    }

    @Test func aPreviewGetsAPreviewURLAndLeavesProductionAlone() async throws {
        try await AdminTestServer.run { server in
            let deployment = try await server.createDeployment(slug: "handbook")
            _ = try await server.runNextBuild()
            let started = try await Self.start(server, slug: "handbook", [("index.html", Self.page)], preview: true)
            let upload = try #require(try started.json["id"] as? String)
            #expect(try await Self.put(server, upload, Self.page).status == 201)
            let finished = try await server.request(.POST, "/api/uploads/\(upload)/finish")
            #expect(finished.status == 201)
            #expect(try finished.json["activated"] as? Bool == false)
            let build = try #require(try finished.json["build"] as? [String: Any])
            #expect(build["previewUrl"] as? String == "http://2--handbook.apps.test:8080/")
            #expect(try await server.catalog.site(slug: "handbook").activeBuildID == deployment.buildID)
            // Finishing again answers the same build.
            let again = try await server.request(.POST, "/api/uploads/\(upload)/finish")
            let againBuild = try again.json["build"] as? [String: Any]
            #expect(again.status == 200 && againBuild?["id"] as? String == build["id"] as? String)
        }
    }

    @Test func aDeploymentWithoutARepositoryIsDeployedOnlyByUploads() async throws {
        try await AdminTestServer.run { server in
            let created = try await server.request(.POST, "/api/deployments", body: #"{"slug": "notes"}"#)
            #expect(created.status == 201, "\(created.body)")
            #expect(try created.json["build"] is NSNull)
            let deployment = try #require(try created.json["deployment"] as? [String: Any])
            #expect(deployment["repoUrl"] is NSNull && deployment["status"] as? String == "new")
            #expect(server.wakes.count == 0)
            let trigger = try await server.request(.POST, "/api/deployments/notes/builds", body: "{}")
            #expect(trigger.status == 409 && trigger.errorCode == "no_repository", "\(trigger.body)")
            #expect(trigger.errorMessage?.contains("slipway deploy --slug notes --dir") == true)
            let rebuild = try await server.request(.PATCH, "/api/deployments/notes", body: #"{"rebuild": true}"#)
            #expect(rebuild.status == 409 && rebuild.errorCode == "no_repository")
            let unnamed = try await server.request(.POST, "/api/deployments", body: #"{"branch": "main"}"#)
            #expect(unnamed.status == 422 && unnamed.errorMessage?.contains("give a slug or a repoUrl") == true)

            let started = try await Self.start(server, slug: "notes", [("index.html", Self.page)])
            let upload = try #require(try started.json["id"] as? String)
            #expect(try await Self.put(server, upload, Self.page).status == 201)
            let finished = try await server.request(.POST, "/api/uploads/\(upload)/finish")
            let activated = try finished.json["activated"] as? Bool
            #expect(finished.status == 201 && activated == true)
            let live = try await server.request(.GET, "/api/deployments/notes")
            #expect(try live.json["status"] as? String == "live")
            // A repository set later makes it buildable.
            let repo = try await server.request(
                .PATCH, "/api/deployments/notes",
                body: #"{"repoUrl": "https://github.com/example/notes.git", "rebuild": true}"#)
            #expect(repo.status == 200, "\(repo.body)")
        }
    }

    /// 10 MiB of zeros, gzipped (about 10 KiB).
    static func gzipBomb() throws -> [UInt8] {
        let compressor = try GzipCompressor()
        var output: [UInt8] = []
        let zeros = [UInt8](repeating: 0, count: 10 << 20)
        try zeros.withUnsafeBytes { try compressor.update($0, into: &output) }
        try compressor.finish(into: &output)
        return output
    }

    static func sha256(_ buffer: ByteBuffer) -> String { Hex.encode(SHA256.hash(data: Data(buffer.readableBytesView))) }
}
