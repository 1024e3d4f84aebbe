import Admin
import Foundation
import Logging
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Synchronization
import Testing

@testable import slipway

/// `slipway deploy --dir` end to end: the command's own code against a live
/// admin API over the real stores (the disk store and the Ceph gateway),
/// the store's PUTs counted.
@Suite struct FolderDeployTests {
    static let token = "folder-deploy-test-token"

    /// A live admin API on a catalog and a counting store.
    struct Rig: Sendable {
        let directory: String
        let catalog: SQLiteCatalog
        let store: CountingStore
        let failing: FailingStore
        let port: Int

        var client: AdminAPIClient {
            AdminAPIClient(baseURL: "http://127.0.0.1:\(port)", token: FolderDeployTests.token)
        }

        func deploy(_ folder: String, slug: String = "handbook", preview: Bool = false) async throws
            -> FolderDeploy.Outcome
        {
            try await FolderDeploy(
                client: client, slug: slug, directory: folder, preview: preview, parallel: 4, progress: nil,
                retryBase: .milliseconds(1)
            ).run()
        }

        func makeSite(_ slug: String) async throws -> Site {
            try await catalog.createSite(SiteDraft(slug: slug, repoURL: "https://github.com/acme/\(slug).git"))
        }

        /// Writes `files` into a new folder.
        func folder(_ files: [String: String]) throws -> String {
            let root = directory + "/dist-\(UUID().uuidString.prefix(8))"
            for (path, text) in files {
                let url = URL(fileURLWithPath: root + "/" + path)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: true, encoding: .utf8)
            }
            return root
        }

        /// The live build's manifest.
        func liveManifest(_ slug: String) async throws -> BuildManifest {
            let site = try await catalog.site(slug: slug)
            let build = try #require(site.activeBuildID)
            let bytes = try await store.getBytes(BuildManifest.key(siteID: site.id.rawValue, buildID: build.rawValue))
            return try BuildManifest.decode(Data(bytes.readableBytesView))
        }
    }

    /// Fails every blob put while `failing` is on, as a store that went away.
    final class FailingStore: WrappingStore {
        struct Gone: Error {}
        let base: any ObjectStore
        private let state = Mutex((failing: false, after: Int.max))

        init(base: any ObjectStore) { self.base = base }

        /// Lets `count` more blob puts through, then fails them.
        func fail(after count: Int) { state.withLock { $0 = (true, count) } }
        func heal() { state.withLock { $0 = (false, .max) } }

        func put(_ key: String, body: ObjectBody, options: PutOptions) async throws -> ObjectInfo {
            let refuse = state.withLock { state -> Bool in
                guard state.failing, key.hasPrefix(ContentAddress.prefix) else { return false }
                if state.after > 0 {
                    state.after -= 1
                    return false
                }
                return true
            }
            if refuse { throw Gone() }
            return try await base.put(key, body: body, options: options)
        }
    }

    static func withRig(_ kind: TestStoreKind, _ body: @Sendable (Rig) async throws -> Void) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await kind.withStore(in: directory) { store in try await run(directory, base: store, body) }
    }

    private static func run(
        _ directory: String, base: any ObjectStore, _ body: @Sendable (Rig) async throws -> Void
    ) async throws {
        let bus = InProcessEventBus()
        let catalog = try SQLiteCatalog(dataDirectory: directory + "/data", bus: bus)
        let failing = FailingStore(base: base)
        let store = CountingStore(base: failing)
        var configuration = AdminConfiguration(host: "127.0.0.1", port: 0, token: token, appsDomain: "apps.test")
        try FileManager.default.createDirectory(atPath: directory + "/uploads", withIntermediateDirectories: true)
        configuration.uploads.scratchDirectory = directory + "/uploads"
        var logger = Logger(label: "slipway.admin.test")
        logger.logLevel = .warning
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let server = AdminServer(
            configuration: configuration, services: AdminServices(catalog: catalog, bus: bus, store: store),
            logger: logger
        ) { port in
            portSink.yield(port)
            portSink.finish()
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                var iterator = ports.makeAsyncIterator()
                guard let port = await iterator.next() else { throw TestFailure("the admin server did not start") }
                defer { group.cancelAll() }
                try await body(
                    Rig(directory: directory, catalog: catalog, store: store, failing: failing, port: port))
            }
        } catch {
            try? await catalog.close()
            throw error
        }
        try await catalog.close()
        // Nothing is left in the scratch directory once requests end.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/uploads").isEmpty)
    }

    /// ``SampleSite/thirtyFiles`` and a `_redirects`.
    static let site: [String: String] = SampleSite.thirtyFiles.merging(["_redirects": "/old /page-1.html 301\n"]) { $1 }

    @Test(arguments: TestStoreKind.all)
    func aFolderDeployedTwiceWithOneFileChangedSendsOneContent(_ kind: TestStoreKind) async throws {
        try await Self.withRig(kind) { rig in
            _ = try await rig.makeSite("handbook")
            let first = try await rig.deploy(try rig.folder(Self.site))
            // 30 contents (two files share one), each stored once, plus a gzip variant per page and script.
            #expect(first.files == 31 && first.sent == 30 && first.skipped == 0)
            #expect(first.finished["activated"] as? Bool == true)
            #expect(rig.store.blobPuts == 30 + 28 && rig.store.puts == 30 + 28 + 1)
            let live = try await rig.liveManifest("handbook")
            #expect(live.files.count == 30 && live.redirects.count == 1)
            #expect(live.files["page-3.html"]?.variants["gzip"] != nil)
            for (path, file) in live.files {
                let bytes = try await rig.store.getBytes(live.objectKey(for: path))
                #expect(String(buffer: bytes) == Self.site[path], "\(path)")
                #expect(file.sha256 == ContentAddressedDigest.of(Self.site[path]!))
            }

            var changed = Self.site
            changed["page-7.html"] =
                "<!doctype html><title>Page 7, again</title>" + String(repeating: "<p>new</p>", count: 40)
            rig.store.reset()
            let second = try await rig.deploy(try rig.folder(changed))
            #expect(second.sent == 1 && second.skipped == 29)
            // The page, its gzip variant and the manifest: nothing else was written.
            #expect(rig.store.blobPuts == 2 && rig.store.puts == 3, "\(rig.store.keys)")
            let next = try await rig.liveManifest("handbook")
            #expect(next.buildID != live.buildID)
            #expect(next.files["page-1.html"]?.sha256 == live.files["page-1.html"]?.sha256)
            #expect(next.files["page-7.html"]?.sha256 != live.files["page-7.html"]?.sha256)
            let page = try await rig.store.getBytes(next.objectKey(for: "page-7.html"))
            #expect(String(buffer: page) == changed["page-7.html"])
        }
    }

    @Test(arguments: TestStoreKind.all)
    func theSameFolderInTwoDeploymentsIsSentAndCheckedForEach(_ kind: TestStoreKind) async throws {
        try await Self.withRig(kind) { rig in
            _ = try await rig.makeSite("handbook")
            _ = try await rig.makeSite("blog")
            let folder = try rig.folder(["index.html": "<h1>same</h1>", "app.js": "same()"])
            #expect(try await rig.deploy(folder, slug: "handbook").sent == 2)
            // The blog is never told the docs have these contents: it sends them too.
            #expect(try await rig.deploy(folder, slug: "blog").sent == 2)
            #expect(try await rig.deploy(folder, slug: "blog").sent == 0)
        }
    }

    @Test(arguments: TestStoreKind.all)
    func aDroppedUploadIsResumedAndOnlyWhatWasMissingIsSent(_ kind: TestStoreKind) async throws {
        try await Self.withRig(kind) { rig in
            _ = try await rig.makeSite("handbook")
            let folder = try rig.folder(Self.site)
            // The store goes away after 10 blobs: the deploy stops with a clear error, nothing goes live.
            rig.failing.fail(after: 10)
            await #expect(throws: ClientError.self) { _ = try await rig.deploy(folder) }
            #expect(try await rig.catalog.site(slug: "handbook").activeBuildID == nil)
            rig.failing.heal()
            rig.store.reset()
            let resumed = try await rig.deploy(folder)
            #expect(resumed.finished["activated"] as? Bool == true)
            #expect(resumed.sent < 30 && resumed.sent + resumed.skipped == 30, "sent \(resumed.sent)")
            let live = try await rig.liveManifest("handbook")
            for (path, _) in live.files {
                let bytes = try await rig.store.getBytes(live.objectKey(for: path))
                #expect(String(buffer: bytes) == Self.site[path], "\(path)")
            }
        }
    }

    @Test func twoDeploysOfOneSiteAtOnceEachPublishAWholeBuildAndTheNewerStaysLive() async throws {
        try await Self.withRig(.disk) { rig in
            _ = try await rig.makeSite("handbook")
            let first = try rig.folder(SampleSite.thirtyFiles.merging(["index.html": "<h1>first</h1>"]) { $1 })
            let second = try rig.folder(SampleSite.thirtyFiles.merging(["index.html": "<h1>second</h1>"]) { $1 })
            async let a = rig.deploy(first)
            async let b = rig.deploy(second)
            let outcomes = try await [a, b]
            let numbers = outcomes.compactMap { ($0.finished["build"] as? [String: Any])?["number"] as? Int }
            #expect(Set(numbers) == [1, 2])
            // Each build's manifest is whole and its own; the live one is the higher number.
            let site = try await rig.catalog.site(slug: "handbook")
            let builds = try await rig.catalog.builds(siteID: site.id).builds
            for build in builds {
                let bytes = try await rig.store.getBytes(build.manifestKey)
                let manifest = try BuildManifest.decode(Data(bytes.readableBytesView))
                #expect(manifest.files.count == 31)
                let index = try await rig.store.getBytes(manifest.objectKey(for: "index.html"))
                #expect(["<h1>first</h1>", "<h1>second</h1>"].contains(String(buffer: index)))
            }
            #expect(site.activeBuildID == builds.max { $0.number < $1.number }?.id)
        }
    }

    @Test func hostileFoldersAreRefusedBeforeAnythingIsSent() async throws {
        try await Self.withRig(.disk) { rig in
            _ = try await rig.makeSite("handbook")
            let outside = try rig.folder(["secret.txt": "do not publish"])
            var cases: [(String, String)] = []
            let link = try rig.folder(["index.html": "<h1>hi</h1>"])
            try FileManager.default.createSymbolicLink(
                atPath: link + "/leak.txt", withDestinationPath: outside + "/secret.txt")
            cases.append((link, "leaves the output directory"))
            let hardLink = try rig.folder(["index.html": "<h1>hi</h1>"])
            try FileManager.default.linkItem(atPath: outside + "/secret.txt", toPath: hardLink + "/leak.txt")
            cases.append((hardLink, "hard link"))
            let fifo = try rig.folder(["index.html": "<h1>hi</h1>"])
            #expect(mkfifo(fifo + "/pipe", 0o600) == 0)
            cases.append((fifo, "FIFO"))
            let reserved = try rig.folder(["index.html": "<h1>hi</h1>", ".slipway/x": "x"])
            cases.append((reserved, ".slipway"))
            cases.append((rig.directory + "/missing", "no such directory"))
            for (folder, reason) in cases {
                do {
                    _ = try await rig.deploy(folder)
                    Issue.record("\(folder) was deployed")
                } catch let error as ClientError {
                    #expect(error.description.contains(reason), "\(error)")
                }
            }
            #expect(rig.store.puts == 0)
            #expect(
                try await rig.catalog.builds(siteID: try await rig.catalog.site(slug: "handbook").id).builds.isEmpty)
            // `.git` is skipped, not refused.
            let withGit = try rig.folder(["index.html": "<h1>hi</h1>", ".git/config": "[core]"])
            #expect(try await rig.deploy(withGit).files == 1)
        }
    }

    @Test func aPreviewIsPublishedWithoutTouchingProduction() async throws {
        try await Self.withRig(.disk) { rig in
            _ = try await rig.makeSite("handbook")
            _ = try await rig.deploy(try rig.folder(["index.html": "<h1>v1</h1>"]))
            let live = try await rig.catalog.site(slug: "handbook").activeBuildID
            let preview = try await rig.deploy(try rig.folder(["index.html": "<h1>v2</h1>"]), preview: true)
            #expect(preview.finished["activated"] as? Bool == false)
            let build = try #require(preview.finished["build"] as? [String: Any])
            #expect((build["previewUrl"] as? String)?.hasPrefix("http://2--handbook.apps.test") == true)
            #expect(try await rig.catalog.site(slug: "handbook").activeBuildID == live)
        }
    }
}

/// The SHA-256 a file is announced with.
enum ContentAddressedDigest {
    static func of(_ text: String) -> String {
        (try? ManifestEntryBuilder.entry(path: "x.bin", bytes: Array(text.utf8)).file.sha256) ?? ""
    }
}

/// The `slipway` binary: `slipway deploy --dir` against `slipway serve`,
/// and the proxy serving what it published.
@Suite struct FolderDeployCommandTests {
    @Test func deployDirCreatesTheDeploymentPublishesTheFolderAndTheProxyServesIt() async throws {
        var (server, data, proxyPort, adminPort) = try await startLocalServe()
        defer { server.kill() }
        try await AdminClient(port: adminPort, token: "").waitUntilReady()
        let folder = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "<h1>Notes v1</h1>".write(toFile: folder + "/index.html", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: folder + "/assets", withIntermediateDirectories: true)
        try "body{color:red}".write(toFile: folder + "/assets/site-3f9a1b2c.css", atomically: true, encoding: .utf8)

        func cli(_ arguments: [String], token: String? = nil) async throws -> (
            status: Int32, output: String, error: String
        ) {
            var environment = ["SLIPWAY_ADMIN_URL": "http://127.0.0.1:\(adminPort)", "SLIPWAY_DATA_DIR": data]
            if let token { environment["SLIPWAY_TOKEN"] = token }
            var process = try SlipwayProcess.start(arguments, environment: environment)
            defer { process.kill() }
            let status = try await process.waitForExit()
            return (status, process.output, process.errorOutput)
        }

        let first = try await cli(["deploy", "--slug", "notes", "--dir", folder])
        #expect(first.status == 0, "\(first.output)\(first.error)")
        #expect(first.error.contains("created the deployment notes (no repository)"))
        #expect(first.error.contains("2 files") && first.error.contains("2 to send"))
        #expect(first.output.contains("is live at http://notes.localhost:\(proxyPort)"), "\(first.output)")
        let page = try await httpGet(port: proxyPort, host: "notes.localhost:\(proxyPort)")
        #expect(page.status == 200 && page.body == "<h1>Notes v1</h1>")

        // A CI job with a token for this deployment only: one changed file is sent.
        let created = try await cli(["tokens", "create", "--name", "ci", "--scope", "deploy:notes"])
        let token = try #require(
            created.output.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("slw_") }.map(String.init))
        try "<h1>Notes v2</h1>".write(toFile: folder + "/index.html", atomically: true, encoding: .utf8)
        let second = try await cli(["deploy", "--slug", "notes", "--dir", folder], token: token)
        #expect(second.status == 0, "\(second.output)\(second.error)")
        #expect(second.output.contains("1 sent") && second.output.contains("1 already stored"), "\(second.output)")
        let next = try await httpGet(port: proxyPort, host: "notes.localhost:\(proxyPort)")
        #expect(next.body == "<h1>Notes v2</h1>")

        // Another deployment is out of the token's reach; a preview leaves production alone.
        let other = try await cli(["deploy", "--slug", "other", "--dir", folder], token: token)
        #expect(other.status == 1 && other.error.contains("deploy:notes"), "\(other.error)")
        try "<h1>Notes v3</h1>".write(toFile: folder + "/index.html", atomically: true, encoding: .utf8)
        let preview = try await cli(["deploy", "--slug", "notes", "--dir", folder, "--preview"], token: token)
        #expect(preview.status == 0 && preview.output.contains("ready to preview"), "\(preview.output)")
        #expect(try await httpGet(port: proxyPort, host: "notes.localhost:\(proxyPort)").body == "<h1>Notes v2</h1>")
        let bad = try await cli(["deploy", "--slug", "notes", "--dir", folder, "--repo", "https://x/y.git"])
        #expect(bad.status != 0 && bad.error.contains("--repo does not go with --dir"))
    }
}

/// `slipway deploy --source`: a source tree uploaded, built by the builder
/// from its blobs, and served.
@Suite struct SourceDeployCommandTests {
    @Test func deploySourceUploadsTheTreeWithoutWhatIsIgnoredAndBuildsIt() async throws {
        var (server, data, proxyPort, adminPort) = try await startLocalServe()
        defer { server.kill() }
        try await AdminClient(port: adminPort, token: "").waitUntilReady()
        let tree = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: tree) }
        let files = [
            "build.sh": "mkdir -p dist && sed 's/VERSION/v1/' src/index.html > dist/index.html\n",
            "src/index.html": "<h1>Built VERSION</h1>",
            ".gitignore": "dist/\n.env\n",
            ".env": "API_KEY=never-uploaded",
            "node_modules/left/index.js": "module.exports = 'never uploaded'",
            ".slipway/admin-token": "never-uploaded-token",
            "dist/stale.html": "never uploaded",
        ]
        for (path, text) in files {
            let url = URL(fileURLWithPath: tree + "/" + path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        // Run directly: its executable bit travels with the upload.
        #expect(chmod(tree + "/build.sh", 0o755) == 0)
        var process = try SlipwayProcess.start(
            ["deploy", "--slug", "built", "--source", tree, "--build", "./build.sh", "--install", "true"],
            environment: ["SLIPWAY_ADMIN_URL": "http://127.0.0.1:\(adminPort)", "SLIPWAY_DATA_DIR": data])
        defer { process.kill() }
        let status = try await process.waitForExit()
        #expect(status == 0, "\(process.output)\(process.errorOutput)")
        // build.sh, src/index.html and .gitignore: nothing ignored, nothing under node_modules or .slipway.
        #expect(process.errorOutput.contains("3 files"), "\(process.errorOutput)")
        #expect(process.output.contains("unpacked the uploaded source: 3 files"), "\(process.output)")
        let page = try await httpGet(port: proxyPort, host: "built.localhost:\(proxyPort)")
        #expect(page.status == 200 && page.body.contains("<h1>Built v1</h1>"), "\(page.body)")
        // No blob holds what was left out.
        let blobs = try FileManager.default.subpathsOfDirectory(atPath: data + "/objects/blobs")
        for path in blobs where !path.hasSuffix("/") {
            let text = (try? String(contentsOfFile: data + "/objects/blobs/" + path, encoding: .utf8)) ?? ""
            #expect(!text.contains("never"), "\(path)")
        }
    }
}
