import AsyncHTTPClient
import Foundation
import Model
import NIOCore
import NIOHTTP1
import Storage

/// What one POST to a notify URL came to, on the wire.
enum NotificationAttempt: Sendable, Hashable {
    /// The receiver answered; `excerpt` is the start of its body, for the record.
    case answered(status: Int, reason: String, retryAfter: String?, excerpt: String)
    /// No answer: the connection failed, or the time ran out.
    case unreachable(String)

    /// How the attempt ends the delivery's `attempt`-th try: 2xx delivers;
    /// 408, 429, 5xx and no answer at all are retried while attempts remain
    /// (honouring `Retry-After`); any other answer — a redirect, a 4xx —
    /// will not change by itself, so Slipway gives up at once.
    func result(
        attempt: Int, policy: NotificationRetryPolicy, now: Date, using generator: inout some RandomNumberGenerator
    ) -> NotificationAttemptResult {
        let status: Int?
        let problem: String
        var retryAfter: Duration?
        switch self {
        case .answered(let code, _, _, _) where (200...299).contains(code):
            return .delivered(status: code)
        case .answered(let code, let reason, let header, let excerpt):
            status = code
            problem =
                "the receiver answered \(code)\(reason.isEmpty ? "" : " \(reason)")\(excerpt.isEmpty ? "" : ": \(excerpt)")"
            guard code == 408 || code == 429 || (500...599).contains(code) else {
                let advice =
                    (300...399).contains(code)
                    ? "redirects are not followed; set the notify URL to the final address"
                    : "only 408, 429 and 5xx answers are retried; fix the receiver or the notify URL"
                return .gaveUp(status: code, error: "\(problem) (\(advice))")
            }
            retryAfter = header.flatMap { RetryAfter.delay($0, now: now) }
        case .unreachable(let message):
            status = nil
            problem = message
        }
        guard attempt < policy.maxAttempts else {
            return .gaveUp(status: status, error: "gave up after \(attempt) attempts; the last one: \(problem)")
        }
        let delay = policy.delay(afterAttempt: attempt, retryAfter: retryAfter, using: &generator)
        return .retry(after: delay, status: status, error: problem)
    }
}

/// Sends one notification: a signed JSON POST, bounded in time, that never
/// follows a redirect and reads at most a little of the answer.
struct NotificationSender: Sendable {
    let client: HTTPClient
    let timeout: Duration
    let userAgent: String

    /// Most bytes of an answer read (the rest is dropped with the connection).
    static let maxAnswerBytes = 16 << 10
    /// Most characters of an answer kept in the delivery's record.
    static let maxExcerptCharacters = 200

    private struct TimedOut: Error {}
    /// The client's own ways of running out of time (the head's deadline,
    /// the idle read, the connection).
    private static let timeouts: [HTTPClientError?] = [.deadlineExceeded, .readTimeout, .connectTimeout]

    func send(_ body: Data, to url: NotifyURL, delivery: NotificationDelivery, signature: String) async
        -> NotificationAttempt
    {
        var request = HTTPClientRequest(url: url.requestURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: userAgent)
        request.headers.add(name: "X-Slipway-Event", value: delivery.event)
        request.headers.add(name: "X-Slipway-Delivery", value: delivery.id)
        request.headers.add(name: "X-Slipway-Signature-256", value: signature)
        if let user = url.user {
            let credentials = Data("\(user):\(url.password ?? "")".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let prepared = request
        let (client, timeout) = (client, timeout)
        do {
            // The client's own timeout covers the answer's head; this one
            // bounds the whole attempt, body included.
            return try await withTimeout(timeout, error: TimedOut()) {
                let response = try await client.execute(prepared, timeout: TimeAmount(timeout))
                var answer: [UInt8] = []
                for try await chunk in response.body {
                    answer.append(contentsOf: chunk.readableBytesView.prefix(Self.maxAnswerBytes - answer.count))
                    if answer.count >= Self.maxAnswerBytes { break }
                }
                return .answered(
                    status: Int(response.status.code), reason: response.status.reasonPhrase,
                    retryAfter: response.headers.first(name: "Retry-After"), excerpt: Self.excerpt(answer))
            }
        } catch let error where error is TimedOut || Self.timeouts.contains(error as? HTTPClientError) {
            return .unreachable("no answer from \(url.redacted) within \(DurationText.format(timeout))")
        } catch {
            // Errors may quote the address; never with its query string.
            let detail = String(describing: error).replacingOccurrences(of: url.requestURL, with: url.redacted)
            return .unreachable("could not deliver to \(url.redacted): \(detail)")
        }
    }

    /// The start of an answer's body as one line of printable text.
    static func excerpt(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        let line = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : Character($0) })
            .trimmingCharacters(in: .whitespaces)
        return line.count <= maxExcerptCharacters ? line : String(line.prefix(maxExcerptCharacters - 1)) + "…"
    }
}
