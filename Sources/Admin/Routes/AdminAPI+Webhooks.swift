import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import NIOCore
import Storage

extension AdminAPI {
    /// Largest webhook payload accepted (GitHub caps its payloads at 25 MB,
    /// but a push event is a few kilobytes; anything this big is not one).
    static let githubHookBodyLimit = 1 << 20

    /// `POST /api/hooks/github/{slug}`: GitHub's push webhook. No bearer
    /// token: the body must carry a valid `X-Hub-Signature-256`, an HMAC-SHA256
    /// of the raw body keyed with the deployment's webhook secret. Unknown
    /// slugs get the same 401 as a bad signature, so slugs cannot be probed.
    ///
    /// A push that queues a build is remembered by its `X-GitHub-Delivery`
    /// id and by the SHA-256 of its signed payload for
    /// ``AdminConfiguration/webhookReplayWindow``: the same delivery sent
    /// again (a replay, GitHub's "Redeliver", or a copy under another id or
    /// none) is answered 200 and queues nothing, and a push made longer ago
    /// than the window (its `repository.pushed_at`) queues nothing either.
    func githubHook(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let slug = try context.parameters.require("slug")
        var buffer = try await StrictJSON.collectBody(request, limit: Self.githubHookBodyLimit)
        let body = buffer.readBytes(length: buffer.readableBytes) ?? []

        let site: Site?
        let secret: String?
        (site, secret) = try await webhookTarget(slug: slug)
        let header = request.headers[values: Self.signatureHeader]
        guard header.count <= 1 else {
            throw Self.badSignature("send exactly one X-Hub-Signature-256 header")
        }
        guard let signature = header.first else {
            throw Self.badSignature(
                "the request has no X-Hub-Signature-256 header; set the webhook's secret in GitHub to this deployment's webhook secret"
            )
        }
        // An unknown slug is checked against a throwaway key, so it costs
        // the same time as a known one and gets the same answer.
        let verified = Self.signatureMatches(signature, body: body, secret: secret ?? WebhookSecret.generate())
        guard verified, let site, secret != nil else {
            throw Self.badSignature(
                "the X-Hub-Signature-256 signature does not match; the webhook's secret in GitHub must be this deployment's webhook secret (POST /api/deployments/{slug}/webhook-secret issues a new one)"
            )
        }

        // Read only once the signature verified: an unsigned or forged
        // request never gets to use up a delivery id.
        let delivery = try Self.deliveryID(request)

        let event = request.headers[Self.eventHeader] ?? ""
        switch event {
        case "ping":
            logger.info("github webhook ping", metadata: ["slug": "\(site.slug)"])
            return try json(["ok": true])
        case "push":
            if let contentType = request.headers[.contentType], !StrictJSON.isJSON(contentType) {
                throw AdminError(
                    status: .unsupportedMediaType, code: "unsupported_media_type",
                    message:
                        "the payload is '\(contentType.prefix(100))'; set the webhook's content type in GitHub to application/json"
                )
            }
            let push = try PushEvent.decode(body)
            let wanted = "refs/heads/\(site.branch)"
            guard push.ref == wanted else {
                let pushed =
                    push.ref.hasPrefix("refs/heads/")
                    ? "branch \(push.ref.dropFirst("refs/heads/".count))" : "ref \(push.ref)"
                return try json(
                    Ignored(ignored: "\(pushed.prefix(300)) is not the deployment's branch \(site.branch)"),
                    status: .accepted)
            }
            if push.deleted {
                return try json(
                    Ignored(ignored: "the push deleted branch \(site.branch); nothing to build"), status: .accepted)
            }
            if site.repoURL.isEmpty {
                return try json(
                    Ignored(ignored: "the deployment has no repository; it is deployed by uploading folders"),
                    status: .accepted)
            }
            // Before the delivery is remembered: GitHub's redelivery after
            // the engine is back must still queue the build.
            try requireBuilds()
            // GitHub signs the payload, not the delivery id: a captured
            // delivery replayed under another id, or none, or after the
            // window carries the same signed bytes.
            let window = TimeInterval(configuration.webhookReplayWindow.components.seconds)
            if let pushedAt = push.pushedAt, Date().timeIntervalSince(pushedAt) > window {
                return try json(
                    Ignored(
                        ignored:
                            "the push was made at \(Self.timestamp(pushedAt)), longer ago than the webhook replay window; trigger a build through the API instead"
                    ),
                    status: .accepted)
            }
            var remembered: [String] = []
            for key in [Self.payloadKey(body), delivery].compactMap({ $0 }) {
                let isNew = try await catalog.recordWebhookDelivery(
                    id: key, siteID: site.id, window: configuration.webhookReplayWindow)
                guard isNew else {
                    logger.info(
                        "github delivery already processed; nothing queued",
                        metadata: ["slug": "\(site.slug)", "delivery": "\(delivery ?? "none")"])
                    return try json(AlreadyProcessed(delivery: delivery))
                }
                remembered.append(key)
            }
            let short = push.after.map { String($0.prefix(7)) }
            let trigger = ["github push", short].compactMap { $0 }.joined(separator: " ")
            let build: Build
            do {
                build = try await catalog.createBuild(
                    siteID: site.id,
                    BuildRequest(trigger: trigger, commitSHA: push.after, commitMessage: push.headCommitMessage))
            } catch {
                // Nothing was queued (a full queue, say): GitHub's redelivery
                // of this delivery carries the same id and must not look
                // like a replay.
                for key in remembered { await forget(key, siteID: site.id, slug: site.slug) }
                throw error
            }
            services.buildsQueued()
            logger.info(
                "github push queued a build",
                metadata: ["slug": "\(site.slug)", "build": "\(build.id)", "commit": "\(short ?? "unknown")"])
            return try json(Envelope(key: "build", value: buildJSON(build, slug: site.slug)), status: .accepted)
        case "":
            throw AdminError(
                status: .badRequest, code: "bad_request",
                message: "the request has no X-GitHub-Event header; this endpoint takes GitHub webhook deliveries")
        default:
            return try json(
                Ignored(ignored: "GitHub event '\(event.prefix(60))' is not handled; only push (and ping) events are"),
                status: .accepted)
        }
    }

    /// The `X-GitHub-Delivery` id of a verified delivery; nil when the
    /// header is absent.
    ///
    /// GitHub sends one with every delivery, so a delivery without one is
    /// accepted (like a request from a script) and only goes unremembered.
    /// The header is not covered by the signature: the id recognises GitHub
    /// sending one delivery again, not someone who changes it.
    /// - Throws: 400 for several headers or an id that cannot be one.
    static func deliveryID(_ request: Request) throws -> String? {
        let values = request.headers[values: deliveryHeader]
        guard values.count <= 1 else {
            throw AdminError(
                status: .badRequest, code: "bad_request",
                message: "send at most one X-GitHub-Delivery header; GitHub sends exactly one")
        }
        guard let id = values.first else { return nil }
        if let problem = WebhookDeliveries.problem(with: id) {
            throw AdminError(
                status: .badRequest, code: "bad_request",
                message: "the X-GitHub-Delivery header is not a delivery id: \(problem); GitHub sends a GUID there")
        }
        return id
    }

    /// The key a signed payload is remembered by: `sha256:<hex digest>`.
    static func payloadKey(_ body: [UInt8]) -> String {
        "sha256:" + SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// Forgets a recorded delivery whose build could not be queued. A
    /// failure is logged, not thrown: the caller is already answering with
    /// the error that stopped the build.
    private func forget(_ delivery: String, siteID: SiteID, slug: String) async {
        do {
            try await catalog.forgetWebhookDelivery(id: delivery, siteID: siteID)
        } catch {
            logger.warning(
                "could not forget a github delivery that queued nothing; its redelivery will be taken for a replay",
                metadata: ["slug": "\(slug)", "delivery": "\(delivery)", "error": "\(error)"])
        }
    }

    /// The site a hook names and its secret; nil for both when the slug is
    /// malformed or unknown (the caller answers 401 either way).
    private func webhookTarget(slug: String) async throws -> (Site?, String?) {
        guard SlugRules.problem(with: slug) == nil else { return (nil, nil) }
        do {
            let site = try await catalog.site(slug: slug)
            return (site, try await catalog.webhookSecret(siteID: site.id))
        } catch let error as CatalogError where error.code == .siteNotFound {
            return (nil, nil)
        }
    }

    /// `POST /api/deployments/{slug}/webhook-secret`: replaces the
    /// deployment's webhook secret and returns the new one, the only way to
    /// read it after the create response.
    func rotateWebhookSecret(_ context: AdminRequestContext) async throws -> Response {
        let site = try await site(context)
        let secret = try await catalog.rotateWebhookSecret(siteID: site.id)
        logger.info("webhook secret rotated", metadata: ["slug": "\(site.slug)"])
        return try json(["webhookSecret": secret])
    }

    static let signatureHeader = HTTPField.Name("X-Hub-Signature-256")!
    static let eventHeader = HTTPField.Name("X-GitHub-Event")!
    static let deliveryHeader = HTTPField.Name("X-GitHub-Delivery")!

    /// Whether `header` (`sha256=<64 hex digits>`) is the HMAC-SHA256 of
    /// `body` keyed with `secret`. The comparison is constant-time.
    static func signatureMatches(_ header: String, body: [UInt8], secret: String) -> Bool {
        let key = SymmetricKey(data: Data(secret.utf8))
        let prefix = "sha256="
        guard header.count == prefix.count + 64, header.lowercased().hasPrefix(prefix),
            let digest = hexBytes(header.dropFirst(prefix.count))
        else {
            // Spend the same work as a well-formed header before refusing.
            _ = HMAC<SHA256>.authenticationCode(for: body, using: key)
            return false
        }
        return HMAC<SHA256>.isValidAuthenticationCode(digest, authenticating: body, using: key)
    }

    private static func hexBytes(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for character in text.utf8 {
            let nibble: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let value = high {
                bytes.append(value << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return high == nil ? bytes : nil
    }

    private static func badSignature(_ message: String) -> AdminError {
        AdminError(status: .unauthorized, code: "bad_signature", message: message)
    }
}

/// `{"ignored": "<why>"}`: a delivery that was accepted but queues nothing.
struct Ignored: Encodable, Sendable {
    let ignored: String
}

/// `{"alreadyProcessed": true, "delivery": "<id>", "message": …}`: a copy of
/// a delivery that already queued a build; nothing more is queued.
/// `delivery` is absent when the copy came without an id.
struct AlreadyProcessed: Encodable, Sendable {
    let alreadyProcessed = true
    let delivery: String?
    let message: String

    init(delivery: String?) {
        self.delivery = delivery
        self.message =
            delivery.map { "delivery \($0) was already processed; nothing was queued" }
            ?? "this push payload was already processed; nothing was queued"
    }
}

/// The fields of a GitHub push event Slipway uses.
struct PushEvent: Sendable {
    /// `refs/heads/<branch>` or `refs/tags/<tag>`.
    let ref: String
    /// The commit the ref points to after the push; nil when absent.
    let after: String?
    /// Whether the push deleted the ref.
    let deleted: Bool
    let headCommitMessage: String?
    /// When GitHub received the push (`repository.pushed_at`, seconds since
    /// 1970); nil when the payload has none.
    let pushedAt: Date?

    static func decode(_ body: [UInt8]) throws -> PushEvent {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(body))
        } catch {
            throw AdminError.badJSON(
                "the push payload is not valid JSON (\(StrictJSON.syntaxProblem(in: Data(body)))); set the webhook's content type in GitHub to application/json"
            )
        }
        try StrictJSON.refuseDuplicateKeys(in: Data(body), subject: "the push payload")
        guard let payload = object as? [String: Any] else {
            throw AdminError.invalidBody("the push payload must be a JSON object")
        }
        guard let ref = payload["ref"] as? String else {
            throw AdminError.invalidBody("the push payload has no string field 'ref'")
        }
        var after = payload["after"] as? String
        // A deleted ref's "after" is forty zeros; it is no commit.
        if let sha = after, sha.isEmpty || sha.allSatisfy({ $0 == "0" }) { after = nil }
        let headCommit = payload["head_commit"] as? [String: Any]
        let pushedAt = ((payload["repository"] as? [String: Any])?["pushed_at"] as? NSNumber).map {
            Date(timeIntervalSince1970: $0.doubleValue)
        }
        return PushEvent(
            ref: ref, after: after, deleted: payload["deleted"] as? Bool ?? false,
            headCommitMessage: headCommit?["message"] as? String, pushedAt: pushedAt)
    }
}
