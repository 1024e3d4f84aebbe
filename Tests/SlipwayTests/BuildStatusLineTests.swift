import Foundation
import Synchronization
import Testing

@testable import slipway

@Suite struct BuildStatusLineTests {
    let line = BuildStatusLine(
        slug: "my-site", number: "3", status: "building", elapsed: .seconds(42), logLines: 118, frame: 2)

    @Test func showsSpinnerSlugBuildStatusClockAndLineCount() {
        #expect(line.render(width: 80, color: false) == "⠹ my-site  build #3  building  0:42  · 118 log lines")
    }

    @Test func spinnerFramesCycleAndOneLineIsSingular() {
        var next = line
        next.frame = 12
        next.logLines = 1
        #expect(next.render(width: 80, color: false) == "⠹ my-site  build #3  building  0:42  · 1 log line")
        next.frame = -1
        #expect(next.render(width: 80, color: false).hasPrefix("⠏ "))
    }

    @Test func neverReachesTheLastColumnAndMarksTheCut() {
        let full = line.render(width: 200, color: false)
        for width in 1...80 {
            let rendered = line.render(width: width, color: false)
            #expect(rendered.count <= max(0, width - 1), "width \(width): \(rendered)")
            if full.count > width - 1 && width > 1 {
                #expect(rendered.hasSuffix("…"))
            }
        }
        #expect(line.render(width: 30, color: false) == "⠹ my-site  build #3  buildin…")
        #expect(line.render(width: full.count + 1, color: false) == full)
    }

    @Test func coloursTakeNoColumns() {
        for width in [20, 40, 80] {
            let colored = line.render(width: width, color: true)
            #expect(colored.contains("\u{1B}["))
            #expect(stripSGR(colored) == line.render(width: width, color: false))
        }
        #expect(line.render(width: 80, color: true).hasPrefix("\u{1B}[36m⠹\u{1B}[0m"))
    }

    @Test func clockIsMinutesAndSecondsThenHours() {
        #expect(BuildStatusLine.clock(.zero) == "0:00")
        #expect(BuildStatusLine.clock(.milliseconds(59_900)) == "0:59")
        #expect(BuildStatusLine.clock(.seconds(61)) == "1:01")
        #expect(BuildStatusLine.clock(.seconds(3600 + 62)) == "1:01:02")
        #expect(BuildStatusLine.clock(.seconds(-5)) == "0:00")
    }

    @Test func finalLinesSayWhatHappenedAndWhatToDo() {
        let live = BuildStatusLine.live(
            url: "http://my-site.localhost:8080/", number: "3", elapsed: .seconds(57), color: false)
        #expect(live == "✓ live at http://my-site.localhost:8080/ (build #3, 0:57)")
        #expect(
            stripSGR(BuildStatusLine.live(url: "u", number: "3", elapsed: .zero, color: true))
                == "✓ live at u (build #3, 0:00)")

        let failed = BuildStatusLine.notLive(
            number: "3", status: "failed", error: "the build command exited with status 3", buildID: "b1", color: false)
        #expect(failed.hasPrefix("✗ build #3 failed: the build command exited with status 3\n  "))
        #expect(failed.contains("slipway logs b1"))
        #expect(!failed.contains("\u{1B}"))
        let canceled = BuildStatusLine.notLive(number: "3", status: "canceled", error: nil, buildID: "b1", color: false)
        #expect(canceled.hasPrefix("✗ build #3 was canceled"))
        let cut = BuildStatusLine.notLive(number: "3", status: "building", error: nil, buildID: "b1", color: false)
        #expect(cut.contains("slipway logs b1 --follow"))
        let stopped = BuildStatusLine.interrupted(number: "3", buildID: "b1")
        #expect(stopped.hasPrefix("stopped following build #3; it goes on"))
        #expect(stopped.contains("slipway logs b1 --follow") && stopped.contains("slipway cancel b1"))
    }

    @Test func styleFollowsTheTerminalTermAndNoColor() {
        typealias Style = BuildProgress.Style
        #expect(Style.detect(json: true, errorIsTerminal: true, environment: ["TERM": "xterm"]) == .quiet)
        #expect(Style.detect(json: false, errorIsTerminal: false, environment: ["TERM": "xterm"]) == .plain)
        #expect(Style.detect(json: false, errorIsTerminal: true, environment: ["TERM": "dumb"]) == .plain)
        #expect(Style.detect(json: false, errorIsTerminal: true, environment: ["TERM": "xterm"]) == .live(color: true))
        #expect(
            Style.detect(json: false, errorIsTerminal: true, environment: ["TERM": "xterm", "NO_COLOR": ""])
                == .live(color: true))
        #expect(
            Style.detect(json: false, errorIsTerminal: true, environment: ["TERM": "xterm", "NO_COLOR": "1"])
                == .live(color: false))
    }
}

@Suite struct BuildProgressTests {
    /// What a `BuildProgress` wrote, per descriptor, in order.
    final class Writes: Sendable {
        private let all = Mutex<[(descriptor: Int32, text: String)]>([])
        func append(_ text: String, _ descriptor: Int32) { all.withLock { $0.append((descriptor, text)) } }
        var entries: [(descriptor: Int32, text: String)] { all.withLock { $0 } }
        func joined(_ descriptor: Int32) -> String {
            entries.filter { $0.descriptor == descriptor }.map(\.text).joined()
        }
    }

    func progress(_ style: BuildProgress.Style, _ writes: Writes) -> BuildProgress {
        BuildProgress(style: style, slug: "s", number: "3", status: "queued", columns: { 60 }, write: writes.append)
    }

    @Test func theStatusLineIsErasedAroundEachLogLineAndReplacedByTheOutcome() {
        let writes = Writes()
        let progress = progress(.live(color: false), writes)
        progress.start()
        progress.log("npm run build")
        progress.observe(status: "building")
        progress.tick()
        progress.finish(status: "success", error: nil, buildID: "b1", url: "http://s.localhost/")
        let entries = writes.entries
        #expect(
            entries.first?.descriptor == Terminal.error
                && entries.first?.text.hasPrefix("\r\u{1B}[2K⠋ s  build #3  queued") == true)
        // Erase, log line on stdout, redraw with the count.
        #expect(entries[1].descriptor == Terminal.error && entries[1].text == BuildProgress.eraseLine)
        #expect(entries[2].descriptor == Terminal.output && entries[2].text == "  npm run build\n")
        #expect(entries[3].text.contains("queued") && entries[3].text.contains("1 log line"))
        #expect(entries[4].text.contains("building"))
        #expect(entries[5].text.hasPrefix("\r\u{1B}[2K⠙"))
        #expect(entries[6].text == BuildProgress.eraseLine)
        #expect(
            entries[7].descriptor == Terminal.output
                && entries[7].text.hasPrefix("✓ live at http://s.localhost/ (build #3, 0:0"))
        #expect(entries.count == 8)
        // Once finished, late events draw nothing.
        progress.tick()
        progress.log("late")
        #expect(writes.entries.count == 8)
    }

    @Test func plainOutputHasALinePerStatusChangeAndNoEscapes() {
        let writes = Writes()
        let progress = progress(.plain, writes)
        progress.start()
        progress.observe(status: "queued")
        progress.log("hello")
        progress.observe(status: "building")
        progress.observe(status: "building")
        progress.observe(status: "success")
        #expect(!progress.finish(status: "failed", error: "boom", buildID: "b1", url: "u"))
        #expect(
            writes.joined(Terminal.error).hasPrefix("build #3 queued\nbuild #3 building\n✗ build #3 failed: boom\n"))
        #expect(writes.joined(Terminal.output) == "  hello\n")
        #expect(!writes.entries.contains { $0.text.contains("\u{1B}") || $0.text.contains("\r") })
    }

    @Test func quietWritesNothing() {
        let writes = Writes()
        let progress = progress(.quiet, writes)
        progress.start()
        progress.log("hello")
        progress.tick()
        #expect(progress.finish(status: "success", error: nil, buildID: "b1", url: "u"))
        #expect(writes.entries.isEmpty)
    }
}

/// The text without its SGR sequences (`ESC [ … m`).
func stripSGR(_ text: String) -> String {
    text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
}
