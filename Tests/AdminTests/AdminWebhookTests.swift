import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import Model
import NIOCore
import NIOHTTP1
import Storage
import Testing

@testable import Admin

@Suite struct AdminWebhookTests {
    static let sha = "0123456789abcdef0123456789abcdef01234567"

    /// `sha256=<hex>` as GitHub computes it.
    static func signature(_ body: String, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }

    /// A push payload; `pushedAt` (seconds since 1970) is GitHub's `repository.pushed_at`, absent when nil.
    static func push(
        ref: String, after: String = sha, message: String = "Fix the header\n\nLonger text", pushedAt: Int? = nil
    ) -> String {
        let pushed = pushedAt.map { #", "pushed_at": \#($0)"# } ?? ""
        return
            #"{"ref": "\#(ref)", "before": "\#(String(repeating: "0", count: 40))", "after": "\#(after)", "head_commit": {"id": "\#(after)", "message": "\#(message.replacingOccurrences(of: "\n", with: "\\n"))"}, "repository": {"full_name": "example/site"\#(pushed)}}"#
    }

    /// Creates a deployment and returns the webhook secret of its create response.
    static func create(_ server: AdminTestServer, slug: String, branch: String = "main") async throws -> String {
        let reply = try await server.request(
            .POST, "/api/deployments",
            body: #"{"slug": "\#(slug)", "repoUrl": "https://github.com/example/site.git", "branch": "\#(branch)"}"#)
        #expect(reply.status == 201, "\(reply.body)")
        let secret = try #require(try reply.json["webhookSecret"] as? String)
        #expect(secret.count == 43)
        #expect(secret.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        return secret
    }

    /// Delivers `body` the way GitHub does: no bearer token.
    /// A fresh `X-GitHub-Delivery` id unless `delivery` names one; nil sends none.
    static func deliver(
        _ server: AdminTestServer, slug: String, event: String?, body: String, signature: String?,
        delivery: String? = UUID().uuidString
    ) async throws -> AdminTestServer.Reply {
        var headers: [(String, String)] = []
        if let event { headers.append(("X-GitHub-Event", event)) }
        if let signature { headers.append(("X-Hub-Signature-256", signature)) }
        if let delivery { headers.append(("X-GitHub-Delivery", delivery)) }
        return try await server.request(.POST, "/api/hooks/github/\(slug)", body: body, token: nil, headers: headers)
    }

    @Test func signedPushOnTheBranchQueuesABuildWithoutTheBearerToken() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site", branch: "trunk")
            _ = try await server.runNextBuild()
            let wakes = server.wakes.count
            let body = Self.push(ref: "refs/heads/trunk")
            let reply = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: Self.signature(body, secret: secret))
            #expect(reply.status == 202, "\(reply.body)")
            let build = try #require(try reply.json["build"] as? [String: Any])
            #expect(build["status"] as? String == "queued")
            #expect(build["number"] as? Int == 2)
            #expect(build["commitSha"] as? String == Self.sha)
            #expect(build["commitMessage"] as? String == "Fix the header")
            #expect(server.wakes.count == wakes + 1)
            let site = try await server.catalog.site(slug: "site")
            let stored = try #require(try await server.catalog.builds(siteID: site.id).builds.first)
            #expect(stored.number == 2)
            #expect(stored.trigger == "github push 0123456")
        }
    }

    @Test func pushToAnotherBranchOrTagIsIgnored() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            for (ref, expected) in [
                ("refs/heads/feature", "branch feature is not the deployment's branch main"),
                ("refs/tags/main", "ref refs/tags/main is not the deployment's branch main"),
            ] {
                let body = Self.push(ref: ref)
                let reply = try await Self.deliver(
                    server, slug: "site", event: "push", body: body, signature: Self.signature(body, secret: secret))
                #expect(reply.status == 202, "\(reply.body)")
                #expect(try reply.json["ignored"] as? String == expected)
            }
            let site = try await server.catalog.site(slug: "site")
            #expect(try await server.catalog.builds(siteID: site.id).builds.count == 1)
        }
    }

    @Test func pingAnswersOKAndOtherEventsAreIgnored() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            let ping = #"{"zen": "Keep it logically awesome.", "hook_id": 1}"#
            let pong = try await Self.deliver(
                server, slug: "site", event: "ping", body: ping, signature: Self.signature(ping, secret: secret))
            #expect(pong.status == 200, "\(pong.body)")
            #expect(try pong.json["ok"] as? Bool == true)

            let issue = #"{"action": "opened"}"#
            let ignored = try await Self.deliver(
                server, slug: "site", event: "issues", body: issue, signature: Self.signature(issue, secret: secret))
            #expect(ignored.status == 202, "\(ignored.body)")
            #expect((try ignored.json["ignored"] as? String)?.contains("'issues'") == true)

            let missing = try await Self.deliver(
                server, slug: "site", event: nil, body: issue, signature: Self.signature(issue, secret: secret))
            #expect(missing.status == 400, "\(missing.body)")
        }
    }

    @Test func missingWrongOrForeignSignaturesAndUnknownSlugsGet401() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            let otherSecret = try await Self.create(server, slug: "other")
            let body = Self.push(ref: "refs/heads/main")
            let good = Self.signature(body, secret: secret)
            let tampered = Self.push(ref: "refs/heads/main", message: "Something else")
            let cases: [(slug: String, body: String, signature: String?)] = [
                ("site", body, nil),
                ("site", body, "sha256=" + String(repeating: "0", count: 64)),
                ("site", body, String(good.dropFirst("sha256=".count))),
                ("site", body, "sha1=" + String(good.dropFirst("sha256=".count).prefix(40))),
                ("site", body, "sha256=zz" + String(good.dropFirst("sha256=".count + 2))),
                ("site", tampered, good),
                ("site", body, Self.signature(body, secret: otherSecret)),
                // Unknown and malformed slugs answer exactly like a bad signature.
                ("missing", body, good),
                ("Not_A_Slug", body, good),
            ]
            for item in cases {
                let reply = try await Self.deliver(
                    server, slug: item.slug, event: "push", body: item.body, signature: item.signature)
                #expect(reply.status == 401, "\(item.slug) \(item.signature ?? "none"): \(reply.body)")
                #expect(reply.errorCode == "bad_signature")
            }
            // The upper-case hex form GitHub never sends still verifies.
            let upper = "sha256=" + good.dropFirst("sha256=".count).uppercased()
            let accepted = try await Self.deliver(server, slug: "site", event: "push", body: body, signature: upper)
            #expect(accepted.status == 202, "\(accepted.body)")
            let site = try await server.catalog.site(slug: "site")
            #expect(try await server.catalog.builds(siteID: site.id).builds.count == 2)
        }
    }

    @Test func rotatingTheSecretRetiresTheOldOneAndSecretsNeverAppearElsewhere() async throws {
        try await AdminTestServer.run { server in
            let old = try await Self.create(server, slug: "site")
            let rotate = try await server.request(.POST, "/api/deployments/site/webhook-secret")
            #expect(rotate.status == 200, "\(rotate.body)")
            let new = try #require(try rotate.json["webhookSecret"] as? String)
            #expect(new != old)
            #expect(try await server.request(.POST, "/api/deployments/site/webhook-secret", token: nil).status == 401)
            #expect(try await server.request(.POST, "/api/deployments/nope/webhook-secret").status == 404)

            let ping = #"{"zen": "hi"}"#
            let stale = try await Self.deliver(
                server, slug: "site", event: "ping", body: ping, signature: Self.signature(ping, secret: old))
            #expect(stale.status == 401)
            let fresh = try await Self.deliver(
                server, slug: "site", event: "ping", body: ping, signature: Self.signature(ping, secret: new))
            #expect(fresh.status == 200)

            for path in ["/api/deployments", "/api/deployments/site"] {
                let reply = try await server.request(.GET, path)
                #expect(reply.status == 200)
                #expect(!reply.body.contains(new) && !reply.body.contains(old) && !reply.body.contains("webhookSecret"))
            }
        }
    }

    @Test func fullQueueAnswers429() async throws {
        try await AdminTestServer.run(queue: QueueSettings(maxQueued: 1)) { server in
            let secret = try await Self.create(server, slug: "site")
            let body = Self.push(ref: "refs/heads/main")
            let reply = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: Self.signature(body, secret: secret))
            #expect(reply.status == 429, "\(reply.body)")
            #expect(reply.errorCode == "queue_full")
        }
    }

    @Test func payloadsOverOneMebibyteGet413AndBadPayloads400Or422() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            let big = #"{"ref": "refs/heads/main", "pad": ""# + String(repeating: "x", count: 1 << 20) + #""}"#
            let tooLarge = try await Self.deliver(
                server, slug: "site", event: "push", body: big, signature: Self.signature(big, secret: secret))
            #expect(tooLarge.status == 413, "\(tooLarge.body.prefix(200))")
            // Just under the limit is read (AdminConfiguration.maxBodyBytes, 4 KiB here, does not apply).
            let padded = #"{"ref": "refs/heads/other", "pad": ""# + String(repeating: "x", count: 512 << 10) + #""}"#
            let read = try await Self.deliver(
                server, slug: "site", event: "push", body: padded, signature: Self.signature(padded, secret: secret))
            #expect(read.status == 202, "\(read.body.prefix(200))")

            let broken = #"{"ref": "#
            let bad = try await Self.deliver(
                server, slug: "site", event: "push", body: broken, signature: Self.signature(broken, secret: secret))
            #expect(bad.status == 400, "\(bad.body)")
            let twice = #"{"ref": "refs/heads/other", "ref": "refs/heads/main"}"#
            let duplicate = try await Self.deliver(
                server, slug: "site", event: "push", body: twice, signature: Self.signature(twice, secret: secret))
            #expect(duplicate.status == 400, "\(duplicate.body)")
            #expect(duplicate.errorMessage?.contains("'ref'") == true, "\(duplicate.body)")
            let noRef = #"{"after": "\#(Self.sha)"}"#
            let invalid = try await Self.deliver(
                server, slug: "site", event: "push", body: noRef, signature: Self.signature(noRef, secret: secret))
            #expect(invalid.status == 422, "\(invalid.body)")
        }
    }

    /// How many builds the deployment `slug` has.
    static func buildCount(_ server: AdminTestServer, slug: String) async throws -> Int {
        let site = try await server.catalog.site(slug: slug)
        return try await server.catalog.builds(siteID: site.id, limit: 200).builds.count
    }

    @Test func aReplayedDeliveryIsAnswered200AndQueuesNothing() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            _ = try await server.runNextBuild()
            let body = Self.push(ref: "refs/heads/main")
            let signature = Self.signature(body, secret: secret)
            let delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
            let first = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: signature, delivery: delivery)
            #expect(first.status == 202, "\(first.body)")
            #expect(try await Self.buildCount(server, slug: "site") == 2)
            let wakes = server.wakes.count

            for _ in 0..<3 {
                let replay = try await Self.deliver(
                    server, slug: "site", event: "push", body: body, signature: signature, delivery: delivery)
                #expect(replay.status == 200, "\(replay.body)")
                #expect(try replay.json["alreadyProcessed"] as? Bool == true, "\(replay.body)")
                #expect(try replay.json["delivery"] as? String == delivery, "\(replay.body)")
                #expect((try replay.json["message"] as? String)?.contains("already processed") == true)
                #expect(try replay.json["build"] == nil)
            }
            #expect(try await Self.buildCount(server, slug: "site") == 2)
            #expect(server.wakes.count == wakes)

            // Another push to the same deployment is a new one.
            let other = Self.push(ref: "refs/heads/main", after: String(repeating: "b", count: 40))
            let next = try await Self.deliver(
                server, slug: "site", event: "push", body: other, signature: Self.signature(other, secret: secret))
            #expect(next.status == 202, "\(next.body)")
            #expect(try await Self.buildCount(server, slug: "site") == 3)
        }
    }

    @Test func copiesOfOneDeliveryArrivingTogetherQueueOneBuild() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            _ = try await server.runNextBuild()
            let body = Self.push(ref: "refs/heads/main")
            let signature = Self.signature(body, secret: secret)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        try await Self.deliver(
                            server, slug: "site", event: "push", body: body, signature: signature, delivery: "copy-1"
                        ).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.sorted() == [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 202])
            #expect(try await Self.buildCount(server, slug: "site") == 2)
        }
    }

    @Test func onlyAVerifiedDeliveryIsRemembered() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            _ = try await server.runNextBuild()
            let body = Self.push(ref: "refs/heads/main")
            // A forged copy carrying the id of a delivery to come must not use it up.
            let forged = try await Self.deliver(
                server, slug: "site", event: "push", body: body,
                signature: "sha256=" + String(repeating: "0", count: 64),
                delivery: "next-delivery")
            #expect(forged.status == 401)
            let real = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: Self.signature(body, secret: secret),
                delivery: "next-delivery")
            #expect(real.status == 202, "\(real.body)")
            #expect(try await Self.buildCount(server, slug: "site") == 2)
        }
    }

    @Test func aDeliveryWithoutAnIDIsStillAcceptedAndAMalformedIDIs400() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            _ = try await server.runNextBuild()
            let body = Self.push(ref: "refs/heads/main")
            let signature = Self.signature(body, secret: secret)
            let reply = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: signature, delivery: nil)
            #expect(reply.status == 202, "\(reply.body)")
            #expect(try await Self.buildCount(server, slug: "site") == 2)
            let long = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: signature,
                delivery: String(repeating: "a", count: 300))
            #expect(long.status == 400, "\(long.body)")
            #expect(long.errorMessage?.contains("X-GitHub-Delivery") == true, "\(long.body)")
            #expect(try await Self.buildCount(server, slug: "site") == 2)
        }
    }

    /// GitHub signs the payload, not the `X-GitHub-Delivery` header: a copy
    /// of a signed push is recognised by its bytes under any id or none.
    @Test func aCopyOfASignedPushUnderAnotherIDOrNoneQueuesNothing() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            _ = try await server.runNextBuild()
            let body = Self.push(ref: "refs/heads/main", pushedAt: Int(Date().timeIntervalSince1970) - 60)
            let signature = Self.signature(body, secret: secret)
            let first = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: signature, delivery: "original")
            #expect(first.status == 202, "\(first.body)")
            for delivery in ["changed-id", nil] {
                let copy = try await Self.deliver(
                    server, slug: "site", event: "push", body: body, signature: signature, delivery: delivery)
                #expect(copy.status == 200, "\(copy.body)")
                #expect(try copy.json["alreadyProcessed"] as? Bool == true, "\(copy.body)")
                #expect(try copy.json["delivery"] as? String == delivery, "\(copy.body)")
            }
            #expect(try await Self.buildCount(server, slug: "site") == 2)
            // The copy under a changed id did not use that id up.
            let other = Self.push(ref: "refs/heads/main", after: String(repeating: "c", count: 40))
            let next = try await Self.deliver(
                server, slug: "site", event: "push", body: other, signature: Self.signature(other, secret: secret),
                delivery: "changed-id")
            #expect(next.status == 202, "\(next.body)")
            #expect(try await Self.buildCount(server, slug: "site") == 3)
        }
    }

    /// A captured push sent after the replay window, when nothing remembers
    /// it any more, is known by GitHub's own timestamp inside the signed bytes.
    @Test func aSignedPushOlderThanTheReplayWindowQueuesNothing() async throws {
        try await AdminTestServer.run { server in
            let secret = try await Self.create(server, slug: "site")
            _ = try await server.runNextBuild()
            let twoDaysAgo = Int(Date().timeIntervalSince1970) - 2 * 86_400
            let body = Self.push(ref: "refs/heads/main", pushedAt: twoDaysAgo)
            let reply = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: Self.signature(body, secret: secret))
            #expect(reply.status == 202, "\(reply.body)")
            #expect((try reply.json["ignored"] as? String)?.contains("replay window") == true, "\(reply.body)")
            #expect(try reply.json["build"] == nil)
            #expect(try await Self.buildCount(server, slug: "site") == 1)
        }
    }

    @Test func aDeliveryThatQueuedNothingCanBeRedelivered() async throws {
        try await AdminTestServer.run(queue: QueueSettings(maxQueued: 1)) { server in
            let secret = try await Self.create(server, slug: "site")
            let body = Self.push(ref: "refs/heads/main")
            let signature = Self.signature(body, secret: secret)
            // The queue is full: GitHub shows the failure and the user redelivers it later.
            let refused = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: signature, delivery: "retry-me")
            #expect(refused.status == 429, "\(refused.body)")
            _ = try await server.runNextBuild()
            let redelivered = try await Self.deliver(
                server, slug: "site", event: "push", body: body, signature: signature, delivery: "retry-me")
            #expect(redelivered.status == 202, "\(redelivered.body)")
            #expect(try await Self.buildCount(server, slug: "site") == 2)
        }
    }

    @Test func openPathsAreExactlyTheHookRouteNotItsNeighbours() async throws {
        try await AdminTestServer.run { server in
            let open = try await server.request(.POST, "/api/hooks/github/site", body: "{}", token: nil)
            #expect(open.errorCode == "bad_signature", "\(open.body)")
            for path in ["/api/hooks/github/", "/api/hooks/github/site/extra"] {
                let reply = try await server.request(.POST, path, body: "{}", token: nil)
                #expect(reply.status == 401 && reply.errorCode == "unauthorized", "\(path): \(reply.body)")
            }
            // `..` as the slug reaches the hook's own check, never another route.
            #expect(try await server.request(.POST, "/api/hooks/github/..", body: "{}", token: nil).status == 401)
            #expect(RouteScopes.policy(method: .post, path: "/api/hooks/github/{slug}")?.isOpen == true)
            #expect(RouteScopes.policy(method: .get, path: "/api/deployments")?.isOpen == false)
        }
    }
}
