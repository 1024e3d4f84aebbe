import Synchronization

/// Shows a build that `slipway deploy` follows.
///
/// The log goes to standard output. On a terminal (standard error is one and
/// `TERM` is not `dumb`) one status line stays at the bottom of standard
/// error and is rewritten in place: each log line erases it, is printed, and
/// redraws it, and a ticker keeps the spinner and the clock moving. Anywhere
/// else (pipes, CI) nothing but plain text is written: a line per status
/// change. The last line says how the build ended, in both.
///
/// Every write happens under one lock, so the log, the ticker and the status
/// poller can call in from different tasks without tearing a line.
final class BuildProgress: Sendable {
    enum Style: Equatable, Sendable {
        /// The status line, with colours unless `NO_COLOR` is set.
        case live(color: Bool)
        /// A line per status change, no escape sequences.
        case plain
        /// Nothing at all (`--json`).
        case quiet

        /// The style for this process: `quiet` for JSON, `live` when
        /// standard error is a terminal that can move its cursor, else `plain`.
        static func detect(json: Bool, errorIsTerminal: Bool, environment: [String: String]) -> Style {
            if json { return .quiet }
            guard errorIsTerminal, environment["TERM"] != "dumb" else { return .plain }
            // https://no-color.org: set and not empty means no colour.
            return .live(color: (environment["NO_COLOR"] ?? "").isEmpty)
        }
    }

    /// Carriage return and "erase the whole line" (ECMA-48 EL with 2).
    static let eraseLine = "\r\u{1B}[2K"

    private struct State {
        var line: BuildStatusLine
        var drawn = false
        var lastChange: String?
        var finished = false
    }

    let style: Style
    private let state: Mutex<State>
    private let started: ContinuousClock.Instant
    private let columns: @Sendable () -> Int
    private let write: @Sendable (_ text: String, _ descriptor: Int32) -> Void
    /// Whether log lines land on the terminal that shows the status line,
    /// so that it must be erased before each of them.
    private let logSharesTerminal: Bool

    init(
        style: Style, slug: String, number: String, status: String,
        logSharesTerminal: Bool = true,
        columns: @escaping @Sendable () -> Int,
        write: @escaping @Sendable (_ text: String, _ descriptor: Int32) -> Void = Terminal.write
    ) {
        self.style = style
        self.started = .now
        self.columns = columns
        self.write = write
        self.logSharesTerminal = logSharesTerminal
        self.state = Mutex(
            State(line: BuildStatusLine(slug: slug, number: number, status: status, elapsed: .zero, logLines: 0)))
    }

    /// Shows the first status: the status line, or its plain line.
    func start() {
        state.withLock { state in
            switch style {
            case .live: draw(&state)
            case .plain: announce(&state)
            case .quiet: break
            }
        }
    }

    /// One line of the build's log.
    func log(_ text: String) {
        state.withLock { state in
            guard !state.finished, style != .quiet else { return }
            state.line.logLines += 1
            if case .live = style, state.drawn, logSharesTerminal {
                write(Self.eraseLine, Terminal.error)
                state.drawn = false
            }
            write("  " + text + "\n", Terminal.output)
            if case .live = style { draw(&state) }
        }
    }

    /// The build's status as the API reports it while it runs (`queued`,
    /// `building`); a final status is left to `finish`.
    func observe(status: String) {
        guard status == "queued" || status == "building" else { return }
        state.withLock { state in
            guard !state.finished, state.line.status != status else { return }
            state.line.status = status
            switch style {
            case .live: draw(&state)
            case .plain: announce(&state)
            case .quiet: break
            }
        }
    }

    /// Moves the spinner and the clock on (the status line only).
    func tick() {
        guard case .live = style else { return }
        state.withLock { state in
            guard !state.finished else { return }
            state.line.frame += 1
            draw(&state)
        }
    }

    /// Replaces the status line by how the build ended: the URL on standard
    /// output when it went live, what happened and what to do on standard
    /// error when it did not. Returns whether it went live.
    @discardableResult
    func finish(status: String, error: String?, buildID: String, url: String) -> Bool {
        state.withLock { state in
            state.finished = true
            let color: Bool
            switch style {
            case .quiet: return status == "success"
            case .live(let colored):
                color = colored
                if state.drawn { write(Self.eraseLine, Terminal.error) }
                state.drawn = false
            case .plain:
                color = false
            }
            let elapsed = ContinuousClock.now - started
            if status == "success" {
                write(
                    BuildStatusLine.live(url: url, number: state.line.number, elapsed: elapsed, color: color) + "\n",
                    Terminal.output)
                return true
            }
            let text = BuildStatusLine.notLive(
                number: state.line.number, status: status, error: error, buildID: buildID, color: color)
            write(text + "\n", Terminal.error)
            return false
        }
    }

    /// Replaces the status line by a note that the user stopped following
    /// (Ctrl-C, which the terminal echoes onto the line being erased).
    func interrupted(buildID: String) {
        state.withLock { state in
            state.finished = true
            if state.drawn { write(Self.eraseLine, Terminal.error) }
            state.drawn = false
            write(BuildStatusLine.interrupted(number: state.line.number, buildID: buildID) + "\n", Terminal.error)
        }
    }

    /// Takes the status line off the terminal (before an error message).
    func clear() {
        state.withLock { state in
            state.finished = true
            if state.drawn { write(Self.eraseLine, Terminal.error) }
            state.drawn = false
        }
    }

    private func draw(_ state: inout State) {
        guard case .live(let color) = style else { return }
        state.line.elapsed = ContinuousClock.now - started
        write(Self.eraseLine + state.line.render(width: columns(), color: color), Terminal.error)
        state.drawn = true
    }

    private func announce(_ state: inout State) {
        let change = BuildStatusLine.change(number: state.line.number, status: state.line.status)
        guard change != state.lastChange else { return }
        state.lastChange = change
        write(change + "\n", Terminal.error)
    }
}
