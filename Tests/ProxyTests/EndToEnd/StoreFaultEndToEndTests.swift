import CoreMetrics
import Foundation
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Testing

@testable import Proxy

/// Runs `body` with a proxy reading through `S3ObjectStore` (presigned GETs)
/// from a `FaultyStore`, and builds published straight into that store.
func withFaultyStore(
    metricsFactory: (any MetricsFactory)? = nil,
    configure: (inout ProxyConfiguration) -> Void = { _ in },
    _ body: (TestProxy, FaultyStore) async throws -> Void
) async throws {
    let faulty = try await FaultyStore.start()
    let s3 = try faulty.objectStore()
    do {
        try await withTestProxy(
            store: s3, publish: { faulty.seed($0) }, metricsFactory: metricsFactory, configure: configure
        ) { proxy in
            try await body(proxy, faulty)
        }
    } catch {
        try? await s3.shutdown()
        await faulty.stop()
        throw error
    }
    try await s3.shutdown()
    await faulty.stop()
}

extension EndToEnd {
    /// Store faults (`docs/hardening.md`, cache and object store), through a small
    /// in-process server that answers 500, stalls, or resets mid-body.
    @Suite struct StoreFaultEndToEndTests {
        static let large = patternBytes(count: 2 << 20, seed: 3)

        func smallAndLarge(_ configuration: inout ProxyConfiguration) {
            configuration.cache.maxEntryBytes = 256 << 10
        }

        @Test func aStoreAnswering5xxIsA502PageThatHidesTheStoresDetails() async throws {
            try await withFaultyStore(configure: smallAndLarge) { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual", extraFiles: ["big.bin": Self.large])
                let manifest = site.fixture.manifest
                for status in [500, 503] {
                    store.setBehavior(.fail(status: status), for: manifest.objectKey(for: "about.html"))
                    store.setBehavior(.fail(status: status), for: manifest.objectKey(for: "big.bin"))
                    for target in ["/about", "/big.bin"] {
                        let response = try await proxy.get(target, slug: "manual")
                        #expect(response.status == 502, "\(target) \(status)")
                        #expect(response.header("Cache-Control") == "no-store")
                        #expect(
                            !response.text.contains(FaultyStore.secretInErrors)
                                && !response.text.contains("InternalError"))
                    }
                }
                // An object the manifest lists but the store lacks is a 502 as well.
                store.setBehavior(.serve, for: manifest.objectKey(for: "about.html"))
                store.seed(manifest.objectKey(for: "about.html"), Data())
                #expect(try await proxy.get("/about", slug: "manual").status == 502)
            }
        }

        @Test func aStoreThatDoesNotAnswerIsA504WithinTheUpstreamTimeout() async throws {
            try await withFaultyStore(configure: {
                smallAndLarge(&$0)
                $0.upstream.timeout = .seconds(1)
            }) { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual", extraFiles: ["big.bin": Self.large])
                _ = try await proxy.get("/style.8e1f5c3a.css", slug: "manual") // the manifest is in memory now
                let clock = ContinuousClock()
                for path in ["about.html", "big.bin"] {
                    store.setBehavior(.stallHead, for: site.fixture.manifest.objectKey(for: path))
                    let started = clock.now
                    let response = try await proxy.get("/" + path, slug: "manual")
                    #expect(response.status == 504, "\(path)")
                    #expect(clock.now - started < .seconds(10))
                }
                // A manifest the store does not deliver in time is a 504 too.
                let other = try await proxy.createSite("other")
                let build = try await proxy.startBuild(of: other)
                let fixture = try proxy.fixture("docs", site: other, build: build)
                store.setBehavior(
                    .stallHead, for: BuildManifest.key(siteID: other.id.rawValue, buildID: build.id.rawValue))
                _ = try await proxy.succeed(build, with: fixture)
                _ = try await proxy.catalog.activate(siteID: other.id, buildID: build.id, allowOlder: false)
                try await proxy.waitUntil("other is live") {
                    proxy.server.siteTable.lookup(slug: "other")?.activeBuildID == build.id
                }
                #expect(try await proxy.get("/", slug: "other").status == 504)
            }
        }

        @Test func aStoreThatRefusesConnectionsIsA502AndCachedFilesStillServe() async throws {
            try await withFaultyStore(configure: smallAndLarge) { proxy, store in
                _ = try await proxy.deploy("docs", as: "manual", extraFiles: ["big.bin": Self.large])
                #expect(try await proxy.get("/about", slug: "manual").status == 200)
                await store.stop() // nothing listens on the store's port any more
                let clock = ContinuousClock()
                let started = clock.now
                for target in ["/style.8e1f5c3a.css", "/big.bin"] {
                    #expect(try await proxy.get(target, slug: "manual").status == 502, "\(target)")
                }
                #expect(clock.now - started < .seconds(10))
                let cached = try await proxy.get("/about", slug: "manual")
                #expect(cached.status == 200 && cached.header("X-Cache") == "HIT")
            }
        }

        @Test func aMissingCorruptOrForeignManifestIsA502NeverACrash() async throws {
            try await withFaultyStore { proxy, store in
                func activate(_ slug: String, manifest: Data?) async throws {
                    let site = try await proxy.createSite(slug)
                    let build = try await proxy.startBuild(of: site)
                    let fixture = try proxy.fixture("docs", site: site, build: build)
                    for (path, _) in fixture.manifest.files {
                        store.seed(fixture.manifest.objectKey(for: path), fixture.data(path))
                    }
                    if let manifest {
                        store.seed(BuildManifest.key(siteID: site.id.rawValue, buildID: build.id.rawValue), manifest)
                    }
                    _ = try await proxy.catalog.finishBuild(
                        buildID: build.id, workerID: "test-worker", result: .success(fileCount: 1, bytes: 1))
                    _ = try await proxy.catalog.activate(siteID: site.id, buildID: build.id, allowOlder: false)
                    try await proxy.waitUntil("\(slug) is live") {
                        proxy.server.siteTable.lookup(slug: slug)?.activeBuildID == build.id
                    }
                }
                try await activate("missing", manifest: nil)
                try await activate("corrupt", manifest: Data("{\"version\": 1, \"files\": ".utf8))
                let foreign = try FixtureSite(
                    "docs", siteID: SiteID.generate().rawValue, buildID: BuildID.generate().rawValue)
                try await activate("foreign", manifest: try foreign.manifest.encoded())
                for slug in ["missing", "corrupt", "foreign"] {
                    let response = try await proxy.get("/", slug: slug)
                    #expect(response.status == 502, "\(slug)")
                    #expect(response.text.contains("Bad gateway"))
                }
                // The server is unharmed.
                _ = try await proxy.deploy("docs", as: "manual")
                #expect(try await proxy.get("/", slug: "manual").status == 200)
            }
        }

        @Test func whatTheCacheHoldsKeepsBeingServedWhileTheStoreFails() async throws {
            try await withFaultyStore { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual")
                let about = try await proxy.get("/about", slug: "manual")
                #expect(about.status == 200 && about.header("X-Cache") == "MISS")
                for path in site.fixture.manifest.files.keys {
                    store.setBehavior(.fail(status: 500), for: site.fixture.manifest.objectKey(for: path))
                }
                store.setBehavior(
                    .fail(status: 500),
                    for: BuildManifest.key(siteID: site.site.id.rawValue, buildID: site.build.id.rawValue))
                let cached = try await proxy.get("/about", slug: "manual")
                #expect(cached.status == 200 && cached.header("X-Cache") == "HIT" && cached.body == about.body)
                #expect(try await proxy.get("/style.8e1f5c3a.css", slug: "manual").status == 502)
            }
        }

        @Test func aSmallObjectCutShortIsA502AndNothingIsCached() async throws {
            try await withFaultyStore { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual")
                let key = site.fixture.manifest.objectKey(for: "assets/app-3f9a1b2c.js")
                for fault in [FaultyStore.Behavior.resetAfter(bytes: 1000)] {
                    store.setBehavior(fault, for: key)
                    #expect(try await proxy.get("/assets/app-3f9a1b2c.js", slug: "manual").status == 502)
                }
                store.setBehavior(.serve, for: key)
                let served = try await proxy.get("/assets/app-3f9a1b2c.js", slug: "manual")
                #expect(served.status == 200 && served.header("X-Cache") == "MISS")
                #expect(served.body == Array(site.fixture.data("assets/app-3f9a1b2c.js")))
                #expect(store.gets(key) == 2)
            }
        }

        @Test func aLargeObjectCutShortMidBodyAbortsTheClientConnection() async throws {
            try await withFaultyStore(configure: smallAndLarge) { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual", extraFiles: ["big.bin": Self.large])
                let key = site.fixture.manifest.objectKey(for: "big.bin")
                store.setBehavior(.resetAfter(bytes: 512 << 10), for: key)
                let connection = try await RawConnection.connect(port: proxy.port)
                defer { connection.close() }
                try await connection.send("GET /big.bin HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                let (bytes, closed) = try await connection.readUntilClosed(timeout: .seconds(15))
                #expect(closed)
                let text = String(decoding: bytes.prefix(1024), as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 200 OK"))
                #expect(text.contains("Content-Length: \(Self.large.count)"))
                #expect(bytes.count < Self.large.count)
                // The store works again: the whole object arrives.
                store.setBehavior(.serve, for: key)
                #expect(try await proxy.get("/big.bin", slug: "manual").body == Array(Self.large))
            }
        }

        @Test func aStoreThatStallsMidBodyIsAbortedAtTheIdleTimeout() async throws {
            try await withFaultyStore(configure: {
                smallAndLarge(&$0)
                $0.upstream.idleTimeout = .seconds(1)
            }) { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual", extraFiles: ["big.bin": Self.large])
                store.setBehavior(.stallAfter(bytes: 256 << 10), for: site.fixture.manifest.objectKey(for: "big.bin"))
                let connection = try await RawConnection.connect(port: proxy.port)
                defer { connection.close() }
                try await connection.send("GET /big.bin HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                let (bytes, closed) = try await connection.readUntilClosed(timeout: .seconds(15))
                #expect(closed)
                #expect(bytes.count < Self.large.count && bytes.count > 256 << 10)
            }
        }

        @Test func oneHundredConcurrentMissesOnOneObjectCauseOneUpstreamGET() async throws {
            try await withFaultyStore { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual")
                _ = try await proxy.get("/style.8e1f5c3a.css", slug: "manual") // load the manifest first
                let key = site.fixture.manifest.objectKey(for: "about.html")
                let cacheKey = BodyCache.key(objectKey: key)
                store.setBehavior(.hold, for: key)
                try await withThrowingTaskGroup(of: TestResponse.self) { group in
                    for _ in 0..<100 {
                        group.addTask { try await proxy.get("/about", slug: "manual") }
                    }
                    // Every request is waiting on the one load, and that load's GET has
                    // reached the store, before the store answers.
                    try await proxy.waitUntil("100 requests wait on one load", timeout: .seconds(60)) {
                        proxy.server.bodyCache.waitingCallers(forKey: cacheKey) == 100 && store.heldCount(key) >= 1
                    }
                    #expect(store.heldCount(key) == 1)
                    store.release(key)
                    var responses: [TestResponse] = []
                    for try await response in group { responses.append(response) }
                    #expect(responses.count == 100)
                    #expect(
                        responses.allSatisfy { $0.status == 200 && $0.body == Array(site.fixture.data("about.html")) })
                    #expect(responses.allSatisfy { $0.header("X-Cache") == "MISS" })
                }
                #expect(store.gets(key) == 1)
                #expect(try await proxy.get("/about", slug: "manual").header("X-Cache") == "HIT")
            }
        }

        @Test func aSlowClientIsFedOnlyAsFastAsItReads() async throws {
            let huge = patternBytes(count: 96 << 20, seed: 11)
            try await withFaultyStore(configure: smallAndLarge) { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual", extraFiles: ["huge.bin": huge])
                let key = site.fixture.manifest.objectKey(for: "huge.bin")
                let connection = try await RawConnection.connect(port: proxy.port, receiveBuffer: 16 << 10)
                defer { connection.close() }
                try await connection.send("GET /huge.bin HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                var received: [UInt8] = []
                while received.count < 64 << 10 {
                    guard case .bytes(let bytes) = try await connection.read() else {
                        throw TestFailure("the response stopped")
                    }
                    received += bytes
                }
                // The client stops reading: the proxy stops reading from the store.
                try await Task.sleep(for: .milliseconds(1500))
                let sentWhilePaused = store.bytesWritten(key)
                try await Task.sleep(for: .milliseconds(500))
                #expect(store.bytesWritten(key) == sentWhilePaused)
                #expect(
                    sentWhilePaused < 32 << 20, "the store sent \(sentWhilePaused) bytes to a client that read 64 KiB")
                // Reading again resumes the transfer, intact.
                guard let headEnd = received.firstRange(of: Array("\r\n\r\n".utf8)) else {
                    throw TestFailure("no head")
                }
                var offset = received.count - headEnd.upperBound
                #expect(Array(received[headEnd.upperBound...]) == Array(huge.prefix(offset)))
                while offset < huge.count {
                    guard case .bytes(let bytes) = try await connection.read(maximum: 1 << 20) else { break }
                    #expect(bytes.elementsEqual(huge[offset..<min(offset + bytes.count, huge.count)]))
                    offset += bytes.count
                }
                #expect(offset == huge.count)
            }
        }

        @Test func aClientThatGoesAwayCancelsItsUpstreamRequest() async throws {
            let big = patternBytes(count: 32 << 20, seed: 5)
            try await withFaultyStore(configure: smallAndLarge) { proxy, store in
                let site = try await proxy.deploy("docs", as: "manual", extraFiles: ["big.bin": big])
                let key = site.fixture.manifest.objectKey(for: "big.bin")
                let connection = try await RawConnection.connect(port: proxy.port, receiveBuffer: 16 << 10)
                try await connection.send("GET /big.bin HTTP/1.1\r\nHost: manual.apps.test\r\n\r\n")
                guard case .bytes = try await connection.read() else { throw TestFailure("no response") }
                connection.close()
                try await proxy.waitUntil("the store sees the download abandoned") { store.abandoned(key) == 1 }
                try await proxy.waitUntil("the proxy lets go of the client") { proxy.server.connectionCount == 0 }
                #expect(store.bytesWritten(key) < big.count)
            }
        }
    }
}
