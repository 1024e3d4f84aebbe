public import Crypto
import Foundation
import Logging
import NIOHTTP1

extension ACMEClient {
    /// Obtains a certificate for `hostnames` whose key is `certificateKey`
    /// (RFC 8555 §7.4), proving control of each name with HTTP-01:
    ///
    /// 1. `newOrder` with one `dns` identifier per name (and `replaces`, the
    ///    ARI identifier of the certificate this one renews, RFC 9773 §5).
    /// 2. For each authorization that is not `valid` yet (CAs reuse recent
    ///    ones): POST `{}` to its `http-01` challenge, which the proxies
    ///    answer statelessly (``ACMEHTTP01``), and poll it until it settles.
    /// 3. Finalize with a CSR for the names, poll the order until `valid`.
    /// 4. Download the chain (`application/pem-certificate-chain`) and check
    ///    that the leaf has `certificateKey` and every name.
    ///
    /// Polls honour `Retry-After`; the waits of one poll loop are bounded by
    /// ``Options/pollingBudget``.
    /// - Parameters:
    ///   - hostnames: DNS names, no wildcards (HTTP-01 cannot prove them).
    ///   - certificateKey: the key the certificate is for (not the account key).
    ///   - replacing: the ARI certificate identifier
    ///     (``ACMEIssuedCertificate/renewalIdentifier``) of the certificate
    ///     being renewed; sent only when the directory has `renewalInfo`.
    /// - Throws: ``ACMEProblem`` when the CA refuses or a validation fails
    ///   (with the CA's type and detail and the name concerned), ``ACMEError``
    ///   otherwise.
    public func issueCertificate(
        for hostnames: [String], certificateKey: P256.Signing.PrivateKey, replacing: String? = nil
    ) async throws -> ACMEIssuedCertificate {
        let names = try ACMECertificateRequest.normalizedHostnames(hostnames)
        let directory = try await directory()
        let account = try await accountURLRegisteringIfNeeded()
        var logger = self.logger
        logger[metadataKey: "acme.names"] = "\(names.joined(separator: ","))"

        // `replaces` only where the CA speaks ARI: others may refuse a field they do not know.
        let newOrder = ACMENewOrder(
            identifiers: names.map(ACMEIdentifier.dns), replaces: directory.renewalInfo == nil ? nil : replacing)
        let created = try await post(directory.newOrder, payload: try Self.encode(newOrder), signer: .kid(account))
        guard let orderURL = created.location else {
            throw ACMEError.invalidResponse(directory.newOrder, "no Location header with the order URL")
        }
        var order = try created.decode(ACMEOrder.self, url: directory.newOrder)
        logger.debug("ACME order created", metadata: ["acme.order": "\(orderURL)", "acme.status": "\(order.status)"])

        if order.status == "pending" {
            for authorizationURL in order.authorizations {
                try await authorize(authorizationURL, account: account, logger: logger)
            }
            order = try await pollOrder(orderURL, until: ["ready", "valid", "processing"])
        }
        if order.status == "ready" {
            let csr = try ACMECertificateRequest.csrDER(for: names, key: certificateKey)
            let finalized = try await post(
                order.finalize, payload: try Self.encode(ACMEFinalize(csr: Base64URL.encode(csr))),
                signer: .kid(account))
            order = try finalized.decode(ACMEOrder.self, url: order.finalize)
            logger.debug("ACME order finalized", metadata: ["acme.status": "\(order.status)"])
        }
        if order.status != "valid" {
            order = try await pollOrder(orderURL, until: ["valid"])
        }
        guard let certificateURL = order.certificate else {
            throw ACMEError.invalidResponse(orderURL, "a valid order without a certificate URL")
        }
        let download = try await postAsGet(certificateURL, accept: "application/pem-certificate-chain")
        let issued = try ACMECertificateRequest.parseChain(
            download.text, for: names, key: certificateKey, orderURL: orderURL, url: certificateURL)
        logger.info(
            "ACME certificate issued",
            metadata: [
                "acme.serial": "\(issued.serialNumber)",
                "acme.not_after": "\(issued.notAfter.formatted(.iso8601))",
            ])
        return issued
    }

    /// Proves control of one authorization's name with its HTTP-01 challenge.
    private func authorize(_ url: String, account: String, logger: Logger) async throws {
        let authorization = try await postAsGet(url).decode(ACMEAuthorization.self, url: url)
        let name = authorization.identifier.value
        switch authorization.status {
        case "valid":
            logger.debug("ACME authorization already valid", metadata: ["acme.name": "\(name)"])
            return
        case "pending":
            break
        default:
            throw Self.failure(of: authorization, url: url)
        }
        guard let challenge = authorization.challenges.first(where: { $0.type == "http-01" }) else {
            throw ACMEError(
                code: .noChallenge,
                message: "the CA offers no http-01 challenge for '\(name)' (only "
                    + authorization.challenges.map(\.type).joined(separator: ", ")
                    + "); Slipway validates domains over HTTP only, so use a CA that offers http-01")
        }
        if challenge.status == "pending" {
            _ = try await post(challenge.url, payload: Data("{}".utf8), signer: .kid(account))
            logger.debug("ACME challenge started", metadata: ["acme.name": "\(name)"])
        }
        let settled = try await poll(url, what: "the authorization of '\(name)'") { response in
            let authorization = try response.decode(ACMEAuthorization.self, url: url)
            return authorization.status == "pending" ? nil : authorization
        }
        guard settled.status == "valid" else { throw Self.failure(of: settled, url: url) }
        logger.debug("ACME authorization valid", metadata: ["acme.name": "\(name)"])
    }

    /// The error of an authorization that ended other than `valid`: the
    /// failed challenge's problem, naming the identifier.
    private static func failure(of authorization: ACMEAuthorization, url: String) -> any Error {
        let name = authorization.identifier.value
        if var problem = authorization.challenges.compactMap(\.error).first {
            problem.identifier = problem.identifier ?? name
            return problem
        }
        return ACMEError(
            code: .orderFailed,
            message: "the authorization of '\(name)' is \(authorization.status) (\(url)); order the certificate again")
    }

    /// Polls the order until its status is one of `statuses`; `invalid` throws its problem.
    private func pollOrder(_ url: String, until statuses: Set<String>) async throws -> ACMEOrder {
        let order = try await poll(url, what: "the order") { response in
            let order = try response.decode(ACMEOrder.self, url: url)
            return statuses.contains(order.status) || order.status == "invalid" ? order : nil
        }
        if order.status == "invalid" {
            if var problem = order.error {
                problem.certificateAuthority = try await directory().meta?.caaIdentities?.first
                throw problem
            }
            throw ACMEError(
                code: .orderFailed,
                message: "the CA marked the order \(url) invalid without saying why; order the certificate again")
        }
        return order
    }

    /// POSTs-as-GET `url` until `settled` returns a value, waiting
    /// `Retry-After` (or a doubling interval) in between, within ``Options/pollingBudget``.
    func poll<T: Sendable>(
        _ url: String, what: String, settled: (ACMEResponse) throws -> T?
    ) async throws -> T {
        var waited = Duration.zero
        var interval = options.pollInterval
        while true {
            let response = try await postAsGet(url)
            if let value = try settled(response) { return value }
            let delay: Duration
            if let asked = ACMERetryAfter.delay(response.headers.first(name: "retry-after"), now: now()) {
                delay = asked
            } else {
                delay = interval
                interval = min(interval * 2, options.maximumPollInterval)
            }
            guard waited + delay <= options.pollingBudget else {
                throw ACMEError(
                    code: .pollingTimedOut,
                    message:
                        "\(what) did not settle within \(options.pollingBudget) (\(url)); the CA may be slow: try again later"
                )
            }
            try await clock.sleep(for: delay)
            waited += delay
        }
    }
}
