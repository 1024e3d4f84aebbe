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
///
/// The driver also carries the container's own deadline, so that a build
/// whose builder died (`kill -9`, a lost machine) does not run forever: a
/// background `sleep` of the container's lifetime, then `kill -9 0`, which
/// kills every process of the driver's process group but the driver itself
/// (the container's PID 1 receives no signal it has no handler for). The
/// step it waited for then ends, the driver exits, and when PID 1 exits the
/// kernel kills whatever else is left in the container's PID namespace
/// (processes that left the group with `setsid` too). It needs only the
/// image's `sh`, `sleep` and `kill`, as busybox has them: Docker itself has
/// no run-time limit (`StopTimeout` only applies to a `docker stop`).
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
        lifetime=$1; nonce=$2; shift 2; i=0
        (sleep "$lifetime"; echo "[slipway] ${lifetime}s limit reached" >&2; kill -9 0) &
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

    /// The container's command: `sh -c <script> slipway-driver <lifetime> <nonce> <step>…`.
    /// - Parameter lifetimeSeconds: when, after its start, the container
    ///   kills its build (``BuildContainerLabels/lifetimeSeconds(timeout:margin:)``).
    func command(for steps: [RunStep], lifetimeSeconds: Int64) -> [String] {
        ["/bin/sh", "-c", Self.script, "slipway-driver", String(lifetimeSeconds), nonce] + steps.map(\.command)
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
