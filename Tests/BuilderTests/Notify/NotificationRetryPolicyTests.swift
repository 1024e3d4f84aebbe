import Foundation
import Model
import Storage
import Testing

@testable import Builder

/// The retry schedule, and which answers are retried, without a network.
@Suite struct NotificationRetryPolicyTests {
    @Test func theDefaultScheduleGrowsThreefoldToAnHourOverEightAttempts() {
        let policy = NotificationRetryPolicy()
        #expect(policy.maxAttempts == 8)
        let waits = (1...7).map { policy.backoff(afterAttempt: $0) }
        #expect(
            waits == [
                .seconds(10), .seconds(30), .seconds(90), .seconds(270), .seconds(810), .seconds(2430), .seconds(3600),
            ])
        #expect(policy.backoff(afterAttempt: 500) == .seconds(3600))
    }

    @Test func jitterMovesEachWaitByAtMostItsFractionAndNeverPastTheCap() {
        let policy = NotificationRetryPolicy()
        var generator = SystemRandomNumberGenerator()
        var waits: Set<Duration> = []
        for _ in 0..<200 {
            let wait = policy.delay(afterAttempt: 2, retryAfter: nil, using: &generator)
            #expect(wait >= .seconds(24) && wait <= .seconds(36))
            waits.insert(wait)
            #expect(policy.delay(afterAttempt: 7, retryAfter: nil, using: &generator) <= .seconds(3600))
        }
        // Spread out, not one value for every sender.
        #expect(waits.count > 100)
        var steady = policy
        steady.jitter = 0
        #expect(steady.delay(afterAttempt: 2, retryAfter: nil, using: &generator) == .seconds(30))
    }

    @Test func retryAfterReplacesTheWaitUpToItsCap() {
        let policy = NotificationRetryPolicy(maxRetryAfter: .seconds(60))
        var generator = SystemRandomNumberGenerator()
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(2), using: &generator) == .seconds(2))
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(86_400), using: &generator) == .seconds(60))
        #expect(policy.delay(afterAttempt: 3, retryAfter: .zero, using: &generator) == .zero)
    }

    @Test func retryAfterIsReadAsSecondsOrAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_445_412_480) // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(RetryAfter.delay("120", now: now) == .seconds(120))
        #expect(RetryAfter.delay(" 0 ", now: now) == .zero)
        #expect(RetryAfter.delay("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == .seconds(30))
        #expect(RetryAfter.delay("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == .zero)
        #expect(RetryAfter.delay("99999999999999999999999", now: now).map { $0 > .seconds(86_400 * 365) } == true)
        #expect(RetryAfter.delay("soon", now: now) == nil)
        #expect(RetryAfter.delay("-5", now: now) == nil)
    }

    @Test func answersAreDeliveredRetriedOrGivenUpByStatus() {
        let policy = NotificationRetryPolicy(maxAttempts: 3, firstDelay: .seconds(10), jitter: 0)
        var generator = SystemRandomNumberGenerator()
        let now = Date()
        func result(_ attempt: NotificationAttempt, _ number: Int = 1) -> NotificationAttemptResult {
            attempt.result(attempt: number, policy: policy, now: now, using: &generator)
        }
        func answer(_ status: Int, retryAfter: String? = nil) -> NotificationAttempt {
            .answered(status: status, reason: "", retryAfter: retryAfter, excerpt: "")
        }
        #expect(result(answer(200)) == .delivered(status: 200))
        #expect(result(answer(299)) == .delivered(status: 299))
        for status in [408, 429, 500, 502, 503, 599] {
            #expect(
                result(answer(status))
                    == .retry(after: .seconds(10), status: status, error: "the receiver answered \(status)"))
        }
        #expect(result(answer(503), 2) == .retry(after: .seconds(30), status: 503, error: "the receiver answered 503"))
        #expect(
            result(answer(429, retryAfter: "7"))
                == .retry(after: .seconds(7), status: 429, error: "the receiver answered 429"))
        for status in [100, 301, 304, 400, 401, 403, 404, 410, 422] {
            guard case .gaveUp(let recorded, _) = result(answer(status)) else {
                Issue.record("\(status) was not given up")
                continue
            }
            #expect(recorded == status)
        }
        #expect(
            result(.unreachable("connection refused"))
                == .retry(after: .seconds(10), status: nil, error: "connection refused"))
        #expect(
            result(.unreachable("connection refused"), 3)
                == .gaveUp(status: nil, error: "gave up after 3 attempts; the last one: connection refused"))
        #expect(
            result(answer(500), 3)
                == .gaveUp(status: 500, error: "gave up after 3 attempts; the last one: the receiver answered 500"))
    }

    @Test func excerptsOfAnswersAreOneBoundedLine() {
        #expect(NotificationSender.excerpt(Array("  line one\r\nline\ttwo  ".utf8)) == "line one  line two")
        let long = NotificationSender.excerpt(Array(String(repeating: "x", count: 1000).utf8))
        #expect(long.count == NotificationSender.maxExcerptCharacters && long.hasSuffix("…"))
    }
}
