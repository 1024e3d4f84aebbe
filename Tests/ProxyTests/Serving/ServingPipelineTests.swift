import Foundation
import Model
import NIOHTTP1
import Storage
import Testing

@testable import Proxy

@Suite struct ServingPipelineTests {
    let siteID = SiteID.generate()
    let buildID = BuildID.generate()
    let fixture: FixtureSite
    let pipeline: ServingPipeline
    let manifest: LoadedManifest

    init() throws {
        fixture = try FixtureSite("docs", siteID: siteID.rawValue, buildID: buildID.rawValue)
        manifest = LoadedManifest(fixture.manifest)
        let table = SiteTable()
        let date = Date(timeIntervalSince1970: 1_750_000_000)
        let site = Site(
            id: siteID, slug: "manual", repoURL: "https://github.com/example/manual", branch: "main", rootDir: nil,
            installCommand: nil, buildCommand: nil, outputDir: nil, spa: .auto, env: [], activeBuildID: buildID,
            createdAt: date, updatedAt: date)
        table.apply(.siteCreated(site))
        table.apply(.activated(Activation(siteID: siteID, buildID: buildID, buildNumber: 1, previousBuildID: nil)))
        pipeline = ServingPipeline(
            appsDomain: "apps.test", siteTable: table,
            pages: try SlipwayPages(directory: TestProxy.pagesDirectory), maxCachedBodyBytes: 1 << 20)
    }

    func request(_ target: String, host: String = "manual.apps.test", headers: [(String, String)] = [])
        -> IncomingRequest
    {
        var all = HTTPHeaders(headers)
        all.add(name: "Host", value: host)
        return IncomingRequest(
            method: .GET, target: target, host: host, headers: all, version: .http1_1, isKeepAlive: true)
    }

    func plan(_ target: String, headers: [(String, String)] = []) -> ResponsePlan? {
        let incoming = request(target, headers: headers)
        return plan(pipeline.route(incoming), incoming)
    }

    private func plan(_ routed: ServingPipeline.Routed, _ incoming: IncomingRequest) -> ResponsePlan? {
        switch routed {
        case .reply(let plan), .replyAndClose(let plan): return plan
        case .build(let build): return pipeline.plan(incoming, build: build, manifest: manifest)
        // The site of these tests is not protected; what a protected one answers is tested end to end.
        case .protected(_, let inner): return plan(inner, incoming)
        }
    }

    @Test func everyAcceptedPathMapsToAKeyInsideTheBuildsPrefix() throws {
        // Property (docs/hardening.md): whatever the target, a file reply reads
        // an object the manifest lists (the blob of one of its files' or
        // variants' digests), a valid key with no empty, `.` or `..`
        // segment; a redirect stays on the host.
        let alphabet = [
            "/", "/", ".", "..", "%", "2e", "2E", "2f", "5c", "00", "c0", "ae", "a", "docs", "about", "index.html",
            "assets", "app-3f9a1b2c.js", "\\", "é", "~", " ", "?", "#", "%25", "404.html", "blog", "first-post",
        ]
        let manifest = fixture.manifest
        let known = Set(
            manifest.files.flatMap { path, file in
                [manifest.objectKey(for: path, sha256: file.sha256)]
                    + file.variants.values.map { manifest.objectKey(for: $0.path, sha256: $0.sha256) }
            })
        var generator = SystemRandomNumberGenerator()
        var files = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 1...10, using: &generator)
            let target = "/" + (0..<length).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            switch plan(target, headers: [("Accept-Encoding", "gzip")]) {
            case .file(let reply):
                files += 1
                let key = reply.object.objectKey
                #expect(key.hasPrefix(ContentAddress.prefix), "\(target) -> \(key)")
                #expect(throws: Never.self) { try validateObjectKey(key) }
                #expect(known.contains(key), "\(target) -> \(key)")
                for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
                    #expect(!segment.isEmpty && segment != "." && segment != "..", "\(target) -> \(key)")
                }
            case .immediate(let status, let headers, _)
            where (300..<400).contains(status.code) && status != .notModified:
                let location = headers.first(name: "Location") ?? ""
                let onHost = location.hasPrefix("/") && !location.hasPrefix("//") && !location.hasPrefix("/\\")
                #expect(onHost || location.hasPrefix("https://example.org/"), "\(target) -> \(location)")
            default:
                break
            }
        }
        #expect(files > 100)
    }

    @Test func routingNeverDependsOnForwardingHeaders() {
        let forwarded = request("/", host: "nosuch.apps.test", headers: [("X-Forwarded-Host", "manual.apps.test")])
        guard case .reply(.immediate(let status, _, _)) = pipeline.route(forwarded) else {
            Issue.record("an unknown host must be answered by Slipway")
            return
        }
        #expect(status == .notFound)
    }

    @Test func rulesCannotOverrideWhatTheProxyRelaysOn() throws {
        var custom = CustomHeaders()
        custom.headers = [
            ("ETag", "\"forged\""), ("X-Content-Type-Options", "off"), ("X-Cache", "HIT"), ("Vary", "Cookie"),
            ("Content-Type", "text/plain"), ("X-Extra", "1"),
        ]
        custom.removed = ["x-content-type-options", "etag", "cache-control"]
        let file = fixture.manifest.files["about.html"]!
        let headers = SlipwayResponseHeaders.fileHeaders(
            file, coding: nil, etag: file.etag, lastModified: "then", custom: custom, isPreview: true)
        #expect(headers.first(name: "ETag") == "\"\(file.etag)\"")
        #expect(headers.first(name: "X-Content-Type-Options") == "nosniff")
        #expect(headers.first(name: "X-Cache") == nil)
        #expect(headers.first(name: "Cache-Control") == nil) // sites may drop the default
        #expect(headers.first(name: "Content-Type") == "text/plain")
        #expect(headers.first(name: "X-Extra") == "1")
        #expect(headers.first(name: "X-Robots-Tag") == "noindex")
    }
}
