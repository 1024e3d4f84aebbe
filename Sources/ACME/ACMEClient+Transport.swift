import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// One answer from the CA, its body read in full (within the size limit).
struct ACMEResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer

    var location: String? { headers.first(name: "location") }

    func decode<T: Decodable>(_ type: T.Type, url: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(buffer: body)) } catch {
            throw ACMEError.invalidResponse(url, "its JSON is not an ACME \(T.self) (\(error))", status: status)
        }
    }

    var text: String { String(buffer: body) }
}

extension ACMEClient {
    /// Sends one signed POST to `url`: `payload` as JSON, or POST-as-GET when
    /// nil (an empty payload, RFC 8555 §6.3). A `badNonce` refusal is sent
    /// again with the nonce it carried; other refusals throw ``ACMEProblem``.
    func post(
        _ url: String, payload: Data?, signer: ACMEJWS.Signer, accept: String? = nil
    ) async throws -> ACMEResponse {
        var retries = 0
        while true {
            let nonce = try await nextNonce()
            let jws = try ACMEJWS(payload: payload, url: url, nonce: nonce, key: accountKey, signer: signer)
            let response = try await send(
                .POST, url, body: try jws.body(), contentType: "application/jose+json", accept: accept)
            // Redirects are off, so a 3xx lands here too: ACME never redirects.
            if (200..<300).contains(response.status) { return response }
            let failure = problemOrError(response, url: url)
            if let problem = failure as? ACMEProblem {
                if problem.isBadNonce, retries < options.maximumBadNonceRetries {
                    retries += 1
                    badNonceCount.add(1, ordering: .relaxed)
                    logger.debug(
                        "ACME nonce rejected, retrying", metadata: ["acme.url": "\(url)", "acme.retry": "\(retries)"])
                    continue
                }
                if problem.name == "accountDoesNotExist" {
                    // The CA lost or never had the cached account: register again next time.
                    cachedAccountURL.withLock { $0 = nil }
                }
            }
            throw failure
        }
    }

    /// A POST-as-GET of `url` as the account.
    func postAsGet(_ url: String, accept: String? = nil) async throws -> ACMEResponse {
        let account = try await accountURLRegisteringIfNeeded()
        return try await post(url, payload: nil, signer: .kid(account), accept: accept)
    }

    /// A nonce from the pool, or a fresh one from `HEAD newNonce` (RFC 8555 §7.2).
    func nextNonce() async throws -> String {
        if let nonce = nonces.withLock({ $0.popLast() }) { return nonce }
        let url = try await directory().newNonce
        let response = try await send(.HEAD, url)
        guard response.status == 200 || response.status == 204 else { throw problemOrError(response, url: url) }
        guard let nonce = nonces.withLock({ $0.popLast() }) else {
            throw ACMEError.invalidResponse(url, "no Replay-Nonce header", status: response.status)
        }
        return nonce
    }

    /// Sends one request with the client's deadline and body limit, and
    /// keeps the response's `Replay-Nonce` for the next signed request.
    func send(
        _ method: HTTPMethod, _ url: String, body: Data? = nil, contentType: String? = nil, accept: String? = nil
    ) async throws -> ACMEResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "user-agent", value: options.userAgent)
        if let contentType { request.headers.add(name: "content-type", value: contentType) }
        if let accept { request.headers.add(name: "accept", value: accept) }
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        let prepared = request
        let limit = options.maximumResponseBytes
        let timeout = options.requestTimeout
        let client = httpClient
        let response: ACMEResponse
        do {
            response = try await withThrowingTaskGroup(of: ACMEResponse?.self) { group in
                group.addTask {
                    let response = try await client.execute(prepared, timeout: TimeAmount(timeout))
                    let body = try await response.body.collect(upTo: limit)
                    return ACMEResponse(status: Int(response.status.code), headers: response.headers, body: body)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    throw HTTPClientError.deadlineExceeded
                }
                return response
            }
        } catch {
            throw Self.transportError(error, method: method, url: url, limit: limit, timeout: timeout)
        }
        if let nonce = response.headers.first(name: "replay-nonce"), !nonce.isEmpty {
            nonces.withLock { pool in
                pool.append(nonce)
                if pool.count > 16 { pool.removeFirst(pool.count - 16) }
            }
        }
        return response
    }

    /// The ``ACMEProblem`` an error response carries, with the CA's
    /// `Retry-After` and CAA identity added; an ``ACMEError`` when it
    /// carries none.
    func problemOrError(_ response: ACMEResponse, url: String) -> any Error {
        if var problem = try? JSONDecoder().decode(ACMEProblem.self, from: Data(buffer: response.body)),
            problem.type != "about:blank" || !problem.detail.isEmpty
        {
            problem.status = problem.status ?? response.status
            problem.retryAfter = response.headers.first(name: "retry-after").flatMap {
                ACMERetryAfter.date($0, now: now())
            }
            problem.certificateAuthority = cachedDirectory.withLock { $0?.meta?.caaIdentities?.first }
            return problem
        }
        let excerpt = String(response.text.prefix(200))
        return ACMEError(
            code: .unexpectedStatus,
            message: "the ACME server answered \(url) with HTTP \(response.status) and no problem document"
                + (excerpt.isEmpty ? "" : " ('\(excerpt)')") + "; check the directory URL and the CA's status",
            status: response.status)
    }

    private static func transportError(
        _ error: any Error, method: HTTPMethod, url: String, limit: Int, timeout: Duration
    ) -> any Error {
        if error is ACMEError || error is ACMEProblem || error is CancellationError { return error }
        if error is NIOTooManyBytesError {
            return ACMEError(
                code: .tooLarge,
                message:
                    "the ACME server's answer to \(method) \(url) is larger than \(limit) bytes; check the directory URL"
            )
        }
        if let error = error as? HTTPClientError,
            error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout
        {
            return ACMEError(
                code: .timeout,
                message: "the ACME server did not answer \(method) \(url) within \(timeout); try again later")
        }
        if Task.isCancelled { return CancellationError() }
        return ACMEError(
            code: .unreachable,
            message: "cannot reach the ACME server at \(url) (\(error)); check the directory URL, DNS, the network "
                + "and that the CA's certificate is trusted")
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date.
enum ACMERetryAfter {
    /// The moment `value` names, relative to `now` for a number of seconds.
    static func date(_ value: String, now: Date) -> Date? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return now.addingTimeInterval(TimeInterval(seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: trimmed)
    }

    /// The wait `value` asks for from `now` (zero for a date in the past), or nil.
    static func delay(_ value: String?, now: Date) -> Duration? {
        guard let value, let date = date(value, now: now) else { return nil }
        let seconds = max(0, date.timeIntervalSince(now))
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
