import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import Proxy

@Suite struct SlipwayPagesTests {
    func temporaryDirectory(_ files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-pages-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
        return directory
    }

    @Test func valuesAreHTMLEscaped() throws {
        let pages = try SlipwayPages(directory: TestProxy.pagesDirectory)
        let page = pages.building(slug: "<b>\"x\"&'y'", buildNumber: 3, state: "queued")
        let html = String(buffer: page.body)
        #expect(html.contains("&lt;b&gt;&quot;x&quot;&amp;&#39;y&#39;"))
        #expect(!html.contains("<b>\"x\""))
        #expect(page.status == .serviceUnavailable)
        #expect(escapeHTML("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#39;")
    }

    @Test func everyFixedPageCarriesItsStatusAndTitle() throws {
        let pages = try SlipwayPages(directory: TestProxy.pagesDirectory)
        for kind in SlipwayPages.Kind.allCases {
            let page = pages.page(kind)
            let html = String(buffer: page.body)
            #expect(page.status == kind.status)
            #expect(html.contains("<title>\(kind.status.code) · \(escapeHTML(kind.title))</title>"), "\(kind)")
            #expect(!html.contains("{{"), "\(kind)")
        }
    }

    @Test func anOverrideDirectoryReplacesPagesOneByOne() throws {
        let override = try temporaryDirectory(["error.html": "<p>{{status}} {{title}}: {{message}}</p>"])
        defer { try? FileManager.default.removeItem(atPath: override) }
        let pages = try SlipwayPages(directory: TestProxy.pagesDirectory, overrideDirectory: override)
        #expect(
            String(buffer: pages.page(.noSite).body) == "<p>404 No site here: \(SlipwayPages.Kind.noSite.message)</p>")
        // building.html still comes from static/pages.
        #expect(
            String(buffer: pages.building(slug: "a", buildNumber: 1, state: "queued").body).contains(
                "http-equiv=\"refresh\""))
    }

    @Test func missingPagesAndUnknownPlaceholdersAreRefusedAtStart() throws {
        let empty = try temporaryDirectory([:])
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(throws: ProxyError.self) { try SlipwayPages(directory: empty) }
        let unknown = try temporaryDirectory(["error.html": "{{status}} {{path}}"])
        defer { try? FileManager.default.removeItem(atPath: unknown) }
        do {
            _ = try SlipwayPages(directory: TestProxy.pagesDirectory, overrideDirectory: unknown)
            Issue.record("an unknown placeholder must be refused")
        } catch {
            #expect(error.message.contains("{{path}}"))
        }
        let unclosed = try temporaryDirectory(["failed.html": "{{slug"])
        defer { try? FileManager.default.removeItem(atPath: unclosed) }
        #expect(throws: ProxyError.self) {
            try SlipwayPages(directory: TestProxy.pagesDirectory, overrideDirectory: unclosed)
        }
    }
}
