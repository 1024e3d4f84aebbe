import ACME
import Foundation
import Testing

@Suite("When to renew a certificate")
struct ACMERenewalPolicyTests {
    let notBefore = Date(timeIntervalSince1970: 1_800_000_000)
    var notAfter: Date { notBefore.addingTimeInterval(90 * 86_400) }

    @Test func withoutAWindowRenewsAtTwoThirdsOfTheLifetime() {
        let time = ACMERenewalPolicy.renewalTime(
            notBefore: notBefore, notAfter: notAfter, window: nil, now: notBefore.addingTimeInterval(86_400),
            jitter: 0.9)
        #expect(time == notBefore.addingTimeInterval(60 * 86_400))
    }

    @Test func aShortLifetimeRenewsAtTwoThirdsToo() {
        let time = ACMERenewalPolicy.renewalTime(
            notBefore: notBefore, notAfter: notBefore.addingTimeInterval(3600), window: nil, now: notBefore, jitter: 0)
        #expect(time == notBefore.addingTimeInterval(2400))
    }

    @Test func anOverdueCertificateRenewsNow() {
        let now = notBefore.addingTimeInterval(80 * 86_400)
        #expect(
            ACMERenewalPolicy.renewalTime(notBefore: notBefore, notAfter: notAfter, window: nil, now: now, jitter: 0.5)
                == now)
    }

    @Test(arguments: [0.0, 0.25, 0.5, 0.999, 1.0])
    func aWindowPicksThePointTheJitterNames(jitter: Double) {
        let window = ACMERenewalWindow(
            start: notBefore.addingTimeInterval(40 * 86_400), end: notBefore.addingTimeInterval(42 * 86_400))
        let time = ACMERenewalPolicy.renewalTime(
            notBefore: notBefore, notAfter: notAfter, window: window, now: notBefore, jitter: jitter)
        #expect(time >= window.start && time <= window.end)
        #expect(abs(time.timeIntervalSince(window.start) - jitter * 2 * 86_400) < 0.001)
    }

    @Test func theWindowWinsOverTwoThirds() {
        // A CA expecting a mass revocation moves the window early.
        let window = ACMERenewalWindow(
            start: notBefore.addingTimeInterval(10 * 86_400), end: notBefore.addingTimeInterval(11 * 86_400))
        let time = ACMERenewalPolicy.renewalTime(
            notBefore: notBefore, notAfter: notAfter, window: window, now: notBefore, jitter: 0.5)
        #expect(time == notBefore.addingTimeInterval(10.5 * 86_400))
    }

    @Test func aWindowAlreadyPastMeansNow() {
        let window = ACMERenewalWindow(
            start: notBefore.addingTimeInterval(10 * 86_400), end: notBefore.addingTimeInterval(11 * 86_400))
        let now = notBefore.addingTimeInterval(20 * 86_400)
        #expect(
            ACMERenewalPolicy.renewalTime(
                notBefore: notBefore, notAfter: notAfter, window: window, now: now, jitter: 0.3)
                == now)
    }

    @Test func aWindowWhosePointPassedMeansNow() {
        let window = ACMERenewalWindow(
            start: notBefore.addingTimeInterval(10 * 86_400), end: notBefore.addingTimeInterval(12 * 86_400))
        let now = notBefore.addingTimeInterval(11 * 86_400)
        #expect(
            ACMERenewalPolicy.renewalTime(
                notBefore: notBefore, notAfter: notAfter, window: window, now: now, jitter: 0.1)
                == now)
        #expect(
            ACMERenewalPolicy.renewalTime(
                notBefore: notBefore, notAfter: notAfter, window: window, now: now, jitter: 0.9)
                == notBefore.addingTimeInterval(11.8 * 86_400))
    }

    @Test func jitterOutsideZeroToOneIsClamped() {
        let window = ACMERenewalWindow(start: notBefore.addingTimeInterval(100), end: notBefore.addingTimeInterval(200))
        #expect(
            ACMERenewalPolicy.renewalTime(
                notBefore: notBefore, notAfter: notAfter, window: window, now: notBefore, jitter: -3)
                == window.start)
        #expect(
            ACMERenewalPolicy.renewalTime(
                notBefore: notBefore, notAfter: notAfter, window: window, now: notBefore, jitter: 7)
                == window.end)
    }
}
