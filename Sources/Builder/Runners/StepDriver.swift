import Foundation
import Synchronization

/// Runs a build's steps one after the other inside one container.
///
/// One container per build (not per step) keeps the engine's start-up cost
/// (~0.3 s per container here) out of every build once more. The driver is
/// a small `sh` script, the container's main process: it runs each step
/// with `sh -c`, stops at the first non-zero status and exits with it. To
/// tell which step failed and how long each ran, it prints a marker line on
/// stderr before and after each step, tagged with a per-build random nonce;
/// Slipway turns markers into its own log lines and never shows them. The
/// exit status and the OOM flag come from the engine, never from markers,
/// so a build that forges one can only mislabel its own failure.
struct StepDriver: Sendable {
    let nonce: String

    init(nonce: String = StepDriver.makeNonce()) {
        self.nonce = nonce
    }

    static func makeNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(generator.next(upperBound: UInt8(16)), radix: 16) }.joined()
    }

    static let script = """
        nonce=$1; shift; i=0
        for step in "$@"; do
          i=$((i+1))
          echo "::slipway-$nonce:start:$i" >&2
          sh -c "$step"
          code=$?
          echo "::slipway-$nonce:end:$i:$code" >&2
          if [ "$code" -ne 0 ]; then exit "$code"; fi
        done
        exit 0
        """

    /// The container's command: `sh -c <script> slipway-driver <nonce> <step>…`.
    func command(for steps: [RunStep]) -> [String] {
        ["/bin/sh", "-c", Self.script, "slipway-driver", nonce] + steps.map(\.command)
    }

    enum Marker: Sendable, Hashable {
        case start(step: Int)
        case end(step: Int, status: Int32)
    }

    /// Splits a stderr line into the text before a marker and the marker.
    func parse(_ line: String) -> (text: String?, marker: Marker?) {
        let tag = "::slipway-\(nonce):"
        guard let range = line.range(of: tag) else { return (line, nil) }
        let before = String(line[..<range.lowerBound])
        let fields = line[range.upperBound...].split(separator: ":")
        var marker: Marker?
        if fields.count == 2, fields[0] == "start", let step = Int(fields[1]) {
            marker = .start(step: step)
        } else if fields.count == 3, fields[0] == "end", let step = Int(fields[1]), let status = Int32(fields[2]) {
            marker = .end(step: step, status: status)
        }
        if marker == nil { return (line, nil) }
        return (before.isEmpty ? nil : before, marker)
    }
}

/// What the markers said so far: which step runs, how long each took.
final class StepTracker: Sendable {
    private struct State {
        var current: Int?
        var started: [Int: ContinuousClock.Instant] = [:]
        var durations: [Int: Duration] = [:]
        var failed: (step: Int, status: Int32)?
    }

    private let state = Mutex(State())
    private let clock = ContinuousClock()

    /// Records a marker; returns a duration for an `end`.
    @discardableResult
    func record(_ marker: StepDriver.Marker) -> Duration? {
        let now = clock.now
        return state.withLock { state in
            switch marker {
            case .start(let step):
                state.current = step
                state.started[step] = now
                return nil
            case .end(let step, let status):
                let duration = state.started[step].map { now - $0 } ?? .zero
                state.durations[step] = duration
                if status != 0 { state.failed = (step, status) }
                state.current = nil
                return duration
            }
        }
    }

    /// The 1-based step running now (or when the container died).
    var currentStep: Int? { state.withLock { $0.current } }
    var failedStep: Int? { state.withLock { $0.failed?.step } }
    /// Duration of each step that ended, in step order; a step without an
    /// end marker counts from its start to `end`.
    func durations(steps: Int, until end: ContinuousClock.Instant) -> [Duration] {
        state.withLock { state in
            (1...max(1, steps)).compactMap { step in
                state.durations[step] ?? state.started[step].map { end - $0 }
            }
        }
    }
}
