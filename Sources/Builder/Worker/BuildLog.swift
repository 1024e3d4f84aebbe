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
///   URLs by `***@` before a line goes anywhere (``SecretMasker``,
///   ``RepositorySource/redact(_:)``). Both work on the line's UTF-8 bytes,
///   before the line is cut to ``maxLineBytes``; a line that arrives
///   already cut (a runner's line assembly cuts at the same limit and
///   drops the rest) has the start of a secret masked at its end.
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
    private let masker: Mutex<SecretMasker>
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
        self.masker = Mutex(SecretMasker(secrets: secrets))
        self.state = Mutex(State(fd: fd))
    }

    deinit {
        state.withLock { if $0.fd >= 0 { _ = close($0.fd) } }
    }

    /// Shortest secret value that is masked, in characters: shorter values
    /// would mangle every line and say little.
    public static let minimumMaskedLength = SecretMasker.minimumLength

    /// Masks `values` too in every later line and ``sanitize(_:)``.
    func addSecrets(_ values: [String]) {
        masker.withLock { $0.add(values) }
    }

    /// Masks the credentials in the repository's URL wherever they show,
    /// however git prints the URL.
    func maskCredentials(of source: RepositorySource) {
        addSecrets(source.credentials)
    }

    /// Slipway's own account of a step.
    public func system(_ text: String) {
        append(text, stream: .system)
    }

    /// A line the build printed. Returns the line as the log keeps it.
    @discardableResult
    public func output(_ text: String, stream: LogLine.Stream) -> String {
        append(text, stream: stream)
    }

    /// Text made safe for the log, an error message or an API response:
    /// secrets masked, URL credentials redacted. Not cut.
    public func sanitize(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let safe = RepositorySource.redact(masker.withLock { $0 }.mask(bytes), cutAtEnd: false)
        return safe == bytes ? text : String(decoding: safe, as: UTF8.self)
    }

    /// A line as the log keeps it: masked and redacted on its UTF-8 bytes,
    /// then cut to ``maxLineBytes`` (marker included) on a scalar boundary.
    func line(_ raw: String) -> String {
        var bytes = Array(raw.utf8)
        // A line that arrives cut ends in the marker: what precedes it may
        // be the start of a secret whose rest was dropped.
        let arrivedCut = bytes.count >= Self.marker.count && bytes.suffix(Self.marker.count).elementsEqual(Self.marker)
        if arrivedCut { bytes.removeLast(Self.marker.count) }
        let masked = RepositorySource.redact(
            masker.withLock { $0 }.mask(bytes, cutAtEnd: arrivedCut), cutAtEnd: arrivedCut)
        if arrivedCut || masked.count > maxLineBytes {
            return String(decoding: SecretMasker.cut(masked, toBytes: maxLineBytes, marker: Self.marker), as: UTF8.self)
        }
        return masked == bytes ? raw : String(decoding: masked, as: UTF8.self)
    }

    /// What ends a cut line, here and in the runners' line assembly.
    static let marker = Array(LineAssembler.truncationMarker.utf8)

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

    @discardableResult
    private func append(_ raw: String, stream: LogLine.Stream) -> String {
        let text = line(raw)
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
        return text
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

/// `strerror(errno)` as text.
enum POSIXErrorText {
    static func current() -> String { describe(errno) }
    static func describe(_ code: CInt) -> String { String(cString: strerror(code)) }
}
