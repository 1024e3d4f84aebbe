/// The one line `slipway deploy` keeps at the bottom of a terminal while it
/// follows a build, e.g. `⠹ my-site  build #3  building  0:42  · 118 log lines`,
/// and the lines that end the follow.
///
/// Rendering is a pure function of the state and the terminal's width, so it
/// is tested without a terminal; `BuildProgress` decides when to draw it.
struct BuildStatusLine: Sendable, Equatable {
    var slug: String
    /// The build's number as the API gives it.
    var number: String
    /// `queued`, `building`, … as the API names it.
    var status: String
    /// Time since `slipway deploy` started following.
    var elapsed: Duration
    var logLines: Int
    /// Which spinner glyph to show; any integer, taken modulo the frames.
    var frame: Int = 0

    static let spinner: [Character] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

    /// The line, never wider than `width - 1` columns (so that it cannot wrap,
    /// which would leave the carriage return a line short of erasing it), cut
    /// with `…` when it does not fit. With `color`, SGR sequences (which take
    /// no columns) colour the spinner and the status.
    func render(width: Int, color: Bool) -> String {
        let glyph = Self.spinner[((frame % Self.spinner.count) + Self.spinner.count) % Self.spinner.count]
        let lines = logLines == 1 ? "1 log line" : "\(logLines) log lines"
        let text = StyledText([
            (String(glyph), .cyan),
            (" \(slug)", .bold),
            ("  build #\(number)", nil),
            ("  ", nil),
            (status, status == "queued" ? .yellow : .cyan),
            ("  \(Self.clock(elapsed))", nil),
            ("  · \(lines)", .dim),
        ])
        return text.rendered(columns: width - 1, color: color)
    }

    /// A plain line for a status change, for output that is not a terminal.
    static func change(number: String, status: String) -> String {
        "build #\(number) \(status)"
    }

    /// The last line of a build that went live.
    static func live(url: String, number: String, elapsed: Duration, color: Bool) -> String {
        StyledText([("✓", .green), (" live at \(url) (build #\(number), \(clock(elapsed)))", nil)])
            .rendered(columns: .max, color: color)
    }

    /// The last lines of a build that did not go live: what happened, then
    /// what to do about it.
    static func notLive(number: String, status: String, error: String?, buildID: String, color: Bool) -> String {
        let what: String
        let hint: String
        switch status {
        case "canceled":
            what = "build #\(number) was canceled"
            hint = "nothing changed on the site; run `slipway deploy` again to build anew"
        case "failed":
            what = "build #\(number) failed: \(error ?? "no reason was given")"
            hint = "nothing changed on the site; the whole log: `slipway logs \(buildID)`"
        default:
            what = "stopped following build #\(number) while it was \(status): the server ended the log stream"
            hint = "the build goes on; follow it again with `slipway logs \(buildID) --follow`"
        }
        return StyledText([("✗", .red), (" \(what)", nil)]).rendered(columns: .max, color: color) + "\n  " + hint
    }

    /// The last lines when the user stopped following (Ctrl-C): the build
    /// itself goes on.
    static func interrupted(number: String, buildID: String) -> String {
        "stopped following build #\(number); it goes on on the server\n"
            + "  follow it again with `slipway logs \(buildID) --follow`, or stop it with `slipway cancel \(buildID)`"
    }

    /// `m:ss`, or `h:mm:ss` from an hour on.
    static func clock(_ duration: Duration) -> String {
        let seconds = max(0, duration.components.seconds)
        let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60)
        let mmss = "\(minutes):" + (rest < 10 ? "0\(rest)" : "\(rest)")
        guard hours > 0 else { return mmss }
        return "\(hours):" + (minutes < 10 ? "0" : "") + mmss
    }
}

/// Text in runs that may each carry one SGR style.
struct StyledText: Sendable {
    enum Style: String, Sendable {
        case bold = "1"
        case dim = "2"
        case red = "31"
        case green = "32"
        case yellow = "33"
        case cyan = "36"
    }

    let runs: [(text: String, style: Style?)]

    init(_ runs: [(String, Style?)]) {
        self.runs = runs.map { (text: $0.0, style: $0.1) }
    }

    /// The text cut to `columns` characters (the last one becoming `…` when
    /// anything was cut), with the styles as SGR sequences when `color`.
    /// Every character counts as one column: Slipway's own text is ASCII or
    /// narrow symbols, and a wide character in a slug cannot happen.
    func rendered(columns: Int, color: Bool) -> String {
        guard columns > 0 else { return "" }
        let total = runs.reduce(0) { $0 + $1.text.count }
        var budget = total > columns ? columns - 1 : columns
        var output = ""
        for run in runs where budget > 0 {
            let piece = String(run.text.prefix(budget))
            budget -= piece.count
            if color, let style = run.style {
                output += "\u{1B}[\(style.rawValue)m" + piece + "\u{1B}[0m"
            } else {
                output += piece
            }
        }
        return total > columns ? output + "…" : output
    }
}
