import Logging
import NIOCore
import SlipwayTestSupport
import Testing

@testable import DNS

/// The resolver against a scripted DNS server on 127.0.0.1: the faults a
/// real server will not produce on demand. Timeouts are short and injected
/// through the configuration; nothing sleeps.
@Suite struct DNSResolverTransportTests {
    typealias Messages = DNSTestMessages

    /// A resolver of `servers`. The default timeout is long, so that a
    /// loaded machine never turns a slow answer into a retry and the query
    /// counts stay exact; tests of timeouts give a short one.
    private func resolver(_ servers: [ScriptedDNSServer], timeout: Duration = .seconds(5), attempts: Int = 2)
        throws -> DNSResolver
    {
        DNSResolver(
            configuration: try .init(
                servers: servers.map(\.address).joined(separator: ","), timeout: timeout, attempts: attempts),
            logger: Logger(label: "slipway.dns.test"))
    }

    /// Runs `body` with a server running `script`, and stops it afterwards.
    private func withServer(
        _ script: @escaping ScriptedDNSServer.Script, _ body: (ScriptedDNSServer) async throws -> Void
    ) async throws {
        let server = try await ScriptedDNSServer.start(script)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    private static func txt(_ query: [UInt8], _ text: String) -> [UInt8] {
        Messages.response(
            to: query, answers: [Messages.record(Messages.name(of: query), type: 16, rdata: Messages.txtData(text))])
    }

    @Test func aTruncatedUDPAnswerIsAskedAgainOverTCP() async throws {
        try await withServer({ query, transport in
            switch transport {
            case .udp: [Messages.response(to: query, flags: 0x8380)]
            case .tcp: [Self.txt(query, "slipway-verify=over-tcp")]
            }
        }) { server in
            let txt = try await resolver([server]).txt("_slipway-challenge.app.example.test")
            #expect(txt == ["slipway-verify=over-tcp"])
            #expect(server.udpQueries == 1)
            #expect(server.tcpQueries == 1)
        }
    }

    @Test func aHugeTXTAnswerArrivesWholeOverTCP() async throws {
        let huge = String(repeating: "slipway-", count: 5000)
        try await withServer({ query, transport in
            switch transport {
            case .udp: [Messages.response(to: query, flags: 0x8380)]
            case .tcp: [Self.txt(query, huge)]
            }
        }) { server in
            let txt = try await resolver([server]).txt("big.example.test")
            #expect(txt == [huge])
            #expect(server.tcpQueries == 1)
        }
    }

    @Test func aSilentServerTimesOutAndTheNextServerAnswers() async throws {
        try await withServer({ _, _ in [] }) { silent in
            try await withServer({ query, _ in [Self.txt(query, "from the second")] }) { second in
                let logs = CapturedLogs()
                let resolver = DNSResolver(
                    configuration: try .init(
                        servers: [silent, second].map(\.address).joined(separator: ","), timeout: .seconds(2),
                        attempts: 2),
                    logger: Logger(label: "slipway.dns.test") { _ in CapturingLogHandler(logs, logLevel: .debug) })
                let txt = try await resolver.txt("_slipway-challenge.example.test")
                #expect(txt == ["from the second"])
                // The silent server was tried twice, each try ending in a timeout, as the
                // resolver's own log counts them (on a loaded machine a try may time out
                // before the server has read its datagram, so the server's count is not used).
                let failed = logs.all.filter { $0["message"] == "DNS try failed" }.compactMap { $0["dns.server"] }
                #expect(failed.filter { $0 == silent.address }.count == 2, "\(failed)")
                #expect(failed.prefix(2) == [silent.address, silent.address], "\(failed)")
                // The second server answered (it may have been asked twice on a loaded machine).
                #expect(second.udpQueries >= 1)
            }
        }
    }

    @Test func aServerThatNeverAnswersGivesATimeoutNamingServerAndName() async throws {
        try await withServer({ _, _ in [] }) { silent in
            let resolver = try resolver([silent], timeout: .milliseconds(150), attempts: 1)
            let error = await dnsError { _ = try await resolver.txt("_slipway-challenge.Example.com.") }
            #expect(error?.label == "timeout")
            #expect(
                error?.message.hasPrefix(
                    "the DNS server \(silent.address) did not answer for _slipway-challenge.example.com (TXT) within 150ms"
                )
                    == true, "\(String(describing: error))")
            #expect(error?.message.contains("SLIPWAY_DNS_RESOLVERS") == true)
        }
    }

    @Test func aServerWithNothingListeningIsSkippedWithoutWaiting() async throws {
        // A stopped server's port: the kernel answers "port unreachable".
        let stopped = try await ScriptedDNSServer.start { _, _ in [] }
        await stopped.stop()
        try await withServer({ query, _ in [Self.txt(query, "from the second")] }) { second in
            // A long timeout: only a quick "unreachable" lets this finish soon.
            let resolver = try resolver([stopped, second], timeout: .seconds(30))
            #expect(try await resolver.txt("_slipway-challenge.example.test") == ["from the second"])
            let alone = try self.resolver([stopped], timeout: .seconds(30))
            let error = await dnsError { _ = try await alone.txt("_slipway-challenge.example.test") }
            #expect(error?.label == "unreachable")
            #expect(error?.message.contains(stopped.address) == true)
        }
    }

    @Test func anAnswerWithAnotherIDIsDroppedAndTheRightOneUsed() async throws {
        try await withServer({ query, _ in
            let name = Messages.name(of: query)
            return [
                Messages.response(
                    to: query, id: Messages.id(of: query) ^ 0xFFFF,
                    answers: [Messages.record(name, type: 1, rdata: [192, 0, 2, 66])]),
                Messages.response(to: query, answers: [Messages.record(name, type: 1, rdata: [192, 0, 2, 1])]),
            ]
        }) { server in
            let response = try await resolver([server]).query("app.example.test", type: .a)
            #expect(response.answers.map(\.data) == [.address(DNSAddress(bytes: [192, 0, 2, 1])!)])
            #expect(server.udpQueries == 1)
        }
    }

    @Test func servfailAndRefusedAreErrorsAfterEveryServer() async throws {
        try await withServer({ query, _ in [Messages.response(to: query, flags: 0x8182)] }) { failing in
            try await withServer({ query, _ in [Messages.response(to: query, flags: 0x8185)] }) { refusing in
                let resolver = try resolver([failing, refusing])
                let error = await dnsError { _ = try await resolver.txt("_slipway-challenge.example.test") }
                // Each is asked once (only a timeout is retried); the last error is reported.
                #expect(error?.label == "refused")
                #expect(error?.message.contains(refusing.address) == true)
                #expect(failing.udpQueries == 1)
                #expect(refusing.udpQueries == 1)
            }
        }
    }

    @Test func nxdomainAndNodataGiveEmptyResults() async throws {
        try await withServer({ query, _ in
            Messages.type(of: query) == 16
                ? [Messages.response(to: query, flags: 0x8183)] : [Messages.response(to: query)]
        }) { server in
            let resolver = try resolver([server])
            #expect(try await resolver.txt("missing.example.test") == [])
            #expect(try await resolver.query("missing.example.test", type: .txt).rcode == .nonExistentDomain)
            #expect(try await resolver.addresses("empty.example.test") == [])
            #expect(try await resolver.cname("empty.example.test") == nil)
            #expect(try await resolver.relevantCAA(for: "empty.example.test") == nil)
        }
    }

    @Test func cnameLoopsAndOverlongChainsAreErrors() async throws {
        // loop-a -> loop-b -> loop-a; chain-N -> chain-(N+1) forever.
        try await withServer({ query, _ in
            let name = Messages.name(of: query)
            let target: String
            if name.hasPrefix("loop-a") {
                target = "loop-b.example.test"
            } else if name.hasPrefix("loop-b") {
                target = "loop-a.example.test"
            } else {
                let number = Int(name.split(separator: ".")[0].dropFirst("chain-".count))!
                target = "chain-\(number + 1).example.test"
            }
            return [
                Messages.response(
                    to: query, answers: [Messages.record(name, type: 5, rdata: Messages.wireName(target))])
            ]
        }) { server in
            let resolver = try resolver([server])
            let loop = await dnsError { _ = try await resolver.txt("loop-a.example.test") }
            #expect(loop?.label == "cname_loop")
            let chain = await dnsError { _ = try await resolver.txt("chain-0.example.test") }
            #expect(chain?.label == "cname_chain_too_long")
            #expect(server.udpQueries == 2 + 9)
        }
    }

    @Test func relevantCAAClimbsToTheClosestParentWithRecords() async throws {
        try await withServer({ query, _ in
            let name = Messages.name(of: query)
            guard name == "example.test", Messages.type(of: query) == 257 else { return [Messages.response(to: query)] }
            return [
                Messages.response(
                    to: query,
                    answers: [
                        Messages.record(name, type: 257, rdata: [0, 5] + Array("issuedigicert.com".utf8)),
                        Messages.record(name, type: 257, rdata: [0, 5] + Array("iodefmailto:x@example.test".utf8)),
                    ])
            ]
        }) { server in
            let policy = try await resolver([server]).relevantCAA(for: "app.www.example.test")
            #expect(policy?.domain == "example.test")
            #expect(policy?.records.count == 2)
            #expect(caaPermits(records: policy?.records ?? [], issuerDomain: "digicert.com"))
            #expect(!caaPermits(records: policy?.records ?? [], issuerDomain: "letsencrypt.org"))
            #expect(server.udpQueries == 3)
        }
    }

    @Test func invalidNamesAreRefusedBeforeAnyQuery() async throws {
        try await withServer({ _, _ in [] }) { server in
            let error = await dnsError { _ = try await resolver([server]).txt("not a name") }
            #expect(error?.label == "invalid_name")
            #expect(server.udpQueries == 0)
        }
    }
}
