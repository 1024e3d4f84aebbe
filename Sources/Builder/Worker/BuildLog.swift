public import Foundation
public import Model
public import Storage
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A build's log: every line goes, timestamped, to the event bus (live
/// followers) and to a file that becomes `logs/<siteId>/<buildId>.log`.
///
/// - Secret build-variable values are replaced by `***` and credentials in
///   URLs by `***@` before a line goes anywhere.
/// - The file is capped (``BuilderConfiguration/maxLogBytes``): past the cap
///   a note marks the cut and later lines are counted, not kept. Nothing is
///   held in memory, so a build that floods its output cannot grow Slipway.
/// - Safe to use from concurrent tasks (stdout and stderr readers).
public final class BuildLog: Sendable {
    public let buildID: BuildID
    /// The file holding the persisted log.
    public let path: String
    public let maxBytes: Int
    public let maxLineBytes: Int

    private struct State {
        var fd: CInt
        var bytes = 0
        var cut = false
        var linesLeftOut = 0
        var lines = 0
    }

    private let bus: any EventBus
    private let masks: [String]
    private let state: Mutex<State>
    private let clock: @Sendable () -> Date

    /// Creates (truncating) the log file at `path`.
    /// - Parameters:
    ///   - secrets: values to mask wherever they appear.
    public init(
        buildID: BuildID, path: String, bus: any EventBus, secrets: [String] = [], maxBytes: Int = 10 << 20,
        maxLineBytes: Int = 16 << 10, clock: @escaping @Sendable () -> Date = { Date() }
    ) throws(BuildError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw BuildError.workspaceFailed(
                "cannot create the build log \(path): \(POSIXErrorText.current()); check that the data directory is writable"
            )
        }
        self.buildID = buildID
        self.path = path
        self.bus = bus
        self.maxBytes = maxBytes
        self.maxLineBytes = maxLineBytes
        self.clock = clock
        self.masks = BuildLog.masks(for: secrets)
        self.state = Mutex(State(fd: fd))
    }

    deinit {
        state.withLock { if $0.fd >= 0 { _ = close($0.fd) } }
    }

    /// Secrets worth masking, longest first (so a secret containing another
    /// is masked whole). Values under 4 characters would mangle every line
    /// and say little; they are not masked.
    static func masks(for secrets: [String]) -> [String] {
        Array(Set(secrets.filter { $0.count >= minimumMaskedLength })).sorted { $0.count > $1.count }
    }

    /// Shortest secret value that is masked.
    public static let minimumMaskedLength = 4

    /// Slipway's own account of a step.
    public func system(_ text: String) {
        append(text, stream: .system)
    }

    /// A line the build printed.
    public func output(_ text: String, stream: LogLine.Stream) {
        append(text, stream: stream)
    }

    /// Text made safe for the log, an error message or an API response:
    /// secrets masked, URL credentials redacted.
    public func sanitize(_ text: String) -> String {
        var result = text
        for secret in masks where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return RepositorySource.redact(result)
    }

    /// Puts the log an earlier attempt persisted at the start of the file,
    /// so the stored log covers every attempt.
    public func seed(withEarlierAttempts bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        state.withLock { state in
            let kept = Array(bytes.prefix(maxBytes))
            writeAll(state.fd, kept)
            state.bytes += kept.count
            if kept.last != UInt8(ascii: "\n") {
                writeAll(state.fd, Array("\n".utf8))
                state.bytes += 1
            }
        }
    }

    /// Lines appended so far (kept or not).
    public var lineCount: Int { state.withLock { $0.lines } }

    /// Closes the file, adding how many lines the cap left out.
    public func finish() {
        state.withLock { state in
            guard state.fd >= 0 else { return }
            if state.cut {
                let note =
                    "\(Self.timestamp(clock())) system [slipway] \(state.linesLeftOut) more lines were left out of the stored log after the cut above\n"
                writeAll(state.fd, Array(note.utf8))
            }
            _ = close(state.fd)
            state.fd = -1
        }
    }

    private func append(_ raw: String, stream: LogLine.Stream) {
        let text = LineAssembler.cutLine(sanitize(raw), maxBytes: maxLineBytes)
        let now = clock()
        bus.appendLog(LogLine(timestamp: now, stream: stream, text: text), buildID: buildID)
        let record = "\(Self.timestamp(now)) \(stream.rawValue) \(text)\n"
        state.withLock { state in
            state.lines += 1
            guard state.fd >= 0 else { return }
            if state.cut {
                state.linesLeftOut += 1
                return
            }
            let bytes = Array(record.utf8)
            if state.bytes + bytes.count > maxBytes {
                state.cut = true
                state.linesLeftOut += 1
                let note =
                    "\(Self.timestamp(now)) system [slipway] the log reached its \(ByteCount.format(Int64(maxBytes))) limit here; later lines are not stored (followers saw them live)\n"
                writeAll(state.fd, Array(note.utf8))
                return
            }
            writeAll(state.fd, bytes)
            state.bytes += bytes.count
        }
    }

    private func writeAll(_ fd: CInt, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    // A full disk must not fail the build; the live log still has the line.
                    return
                }
                offset += written
            }
        }
    }

    /// `2026-01-31T12:34:56.789Z`, without Foundation's formatter (a log
    /// flood formats millions of these).
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds % 1000), 3))Z"
    }
}

extension LineAssembler {
    /// `text` cut to `maxBytes` bytes on a character boundary, marked when cut.
    static func cutLine(_ text: String, maxBytes: Int) -> String {
        guard text.utf8.count > maxBytes else { return text }
        var assembler = LineAssembler(maxLineBytes: maxBytes)
        return assembler.append(Array(text.utf8) + [UInt8(ascii: "\n")]).first ?? ""
    }
}

/// `strerror(errno)` as text.
enum POSIXErrorText {
    static func current() -> String { describe(errno) }
    static func describe(_ code: CInt) -> String { String(cString: strerror(code)) }
}
