public import Foundation
import Logging
import NIOHTTP1
public import X509

/// ACME Renewal Information (RFC 9773): when the CA suggests renewing a
/// certificate. CAs shorten the window ahead of a mass revocation, so an
/// issuer that follows it renews in time without guessing.
public struct ACMERenewalInfo: Sendable, Hashable {
    /// The suggested renewal window.
    public var suggestedWindow: ACMERenewalWindow
    /// A page explaining the window (e.g. an incident report), when the CA gave one.
    public var explanationURL: String?
    /// When to ask again (`Retry-After`), when the CA said.
    public var retryAfter: Date?

    public init(suggestedWindow: ACMERenewalWindow, explanationURL: String? = nil, retryAfter: Date? = nil) {
        self.suggestedWindow = suggestedWindow
        self.explanationURL = explanationURL
        self.retryAfter = retryAfter
    }

    /// The ARI certificate identifier of `certificate` (RFC 9773 §4.1):
    /// `base64url(authorityKeyIdentifier.keyIdentifier) "." base64url(serial)`,
    /// the serial being the DER INTEGER's content bytes (with the leading
    /// zero DER needs when the high bit is set).
    /// - Throws: ``ACMEError`` (`invalidArgument`) when the certificate has no
    ///   authority key identifier (ARI cannot name it).
    public static func certificateIdentifier(for certificate: Certificate) throws -> String {
        guard let aki = try? certificate.extensions.authorityKeyIdentifier, let keyID = aki.keyIdentifier,
            !keyID.isEmpty
        else {
            throw ACMEError(
                code: .invalidArgument,
                message: "the certificate (serial \(certificate.serialNumber)) has no authority key identifier, "
                    + "so ACME renewal information cannot name it; renew it by its lifetime instead")
        }
        return Base64URL.encode(keyID) + "." + Base64URL.encode(derIntegerContent(certificate.serialNumber.bytes))
    }

    /// The content octets of the DER INTEGER holding the non-negative
    /// `magnitude` (X.690 §8.3): no redundant leading zeros, and one zero
    /// byte in front when the high bit is set. swift-certificates keeps a
    /// serial's bytes in either form, so this normalizes them.
    static func derIntegerContent(_ magnitude: some Collection<UInt8>) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if bytes.isEmpty { return [0] }
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return bytes
    }
}

/// A span of time in which to renew, `start` before `end`.
public struct ACMERenewalWindow: Sendable, Hashable {
    public var start: Date
    public var end: Date

    public init(start: Date, end: Date) {
        self.start = start
        self.end = end
    }
}

extension ACMEClient {
    /// The CA's renewal information for `certificate` (RFC 9773 §4.2): an
    /// unauthenticated GET of `<renewalInfo>/<certificate identifier>`.
    /// - Throws: ``ACMEError`` `unsupported` when the directory has no
    ///   `renewalInfo` (renew by the lifetime then), `invalidArgument` when
    ///   the certificate has no authority key identifier, ``ACMEProblem``
    ///   when the CA refuses (e.g. 404 for a certificate it does not know).
    public func renewalInfo(for certificate: Certificate) async throws -> ACMERenewalInfo {
        guard let base = try await directory().renewalInfo else {
            throw ACMEError(
                code: .unsupported,
                message:
                    "the CA at \(directoryURL) offers no renewal information (ARI); renew by the certificate's lifetime"
            )
        }
        let identifier = try ACMERenewalInfo.certificateIdentifier(for: certificate)
        let url = (base.hasSuffix("/") ? base : base + "/") + identifier
        let response = try await send(.GET, url)
        guard response.status == 200 else { throw problemOrError(response, url: url) }
        let body = try response.decode(RenewalInfoBody.self, url: url)
        guard let start = Self.parseTimestamp(body.suggestedWindow.start),
            let end = Self.parseTimestamp(body.suggestedWindow.end), start <= end
        else {
            throw ACMEError.invalidResponse(url, "the suggested window is not two RFC 3339 times, start before end")
        }
        let info = ACMERenewalInfo(
            suggestedWindow: ACMERenewalWindow(start: start, end: end), explanationURL: body.explanationURL,
            retryAfter: response.headers.first(name: "retry-after").flatMap { ACMERetryAfter.date($0, now: now()) })
        logger.debug(
            "ACME renewal information",
            metadata: [
                "acme.ari.id": "\(identifier)", "acme.ari.start": "\(start.formatted(.iso8601))",
                "acme.ari.end": "\(end.formatted(.iso8601))",
            ])
        return info
    }

    private struct RenewalInfoBody: Decodable {
        struct Window: Decodable {
            var start: String
            var end: String
        }
        var suggestedWindow: Window
        var explanationURL: String?
    }

    /// An RFC 3339 timestamp, with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
