import Foundation
import Model
import SlipwayTestSupport
import Storage
import Testing

@testable import Admin

/// What the admin listener does with requests no HTTP client would send,
/// over a raw TCP connection to a real admin server.
@Suite struct AdminFramingTests {
    /// Sends `requests` on one connection and reads until the server closes
    /// it (or 60 s pass; the close itself is immediate).
    static func exchange(_ server: AdminTestServer, _ requests: String) async throws -> (
        responses: [RawResponse], closed: Bool
    ) {
        let connection = try await RawConnection.connect(port: server.port)
        defer { connection.close() }
        try await connection.send(requests)
        let (bytes, closed) = try await connection.readUntilClosed(timeout: .seconds(60))
        return (RawResponse.parseAll(bytes), closed)
    }

    static func errorCode(_ response: RawResponse) -> String? {
        (response.json?["error"] as? [String: Any])?["code"] as? String
    }

    static func errorMessage(_ response: RawResponse) -> String? {
        (response.json?["error"] as? [String: Any])?["message"] as? String
    }

    @Test func aRequestWithoutHostIs400WithAJSONErrorAndTheConnectionCloses() async throws {
        try await AdminTestServer.run { server in
            let (responses, closed) = try await Self.exchange(
                server, "GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(responses.map(\.status) == [400], "\(responses.map(\.text))")
            let refusal = try #require(responses.first)
            #expect(refusal.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(refusal.header("Connection")?.lowercased() == "close")
            #expect(Self.errorCode(refusal) == "bad_host", "\(refusal.text)")
            #expect(Self.errorMessage(refusal)?.contains("Host") == true, "\(refusal.text)")
            #expect(closed)
        }
    }

    @Test(arguments: [
        "Host: \r\n",
        "Host: 127.0.0.1\r\nHost: 127.0.0.1\r\n",
        "Host: 127.0.0.1/evil\r\n",
        "Host: a b\r\n",
    ])
    func anEmptyRepeatedOrMalformedHostIs400BeforeRouting(_ host: String) async throws {
        try await AdminTestServer.run { server in
            // The route needs the token: a 401 would mean the request was routed.
            let (responses, closed) = try await Self.exchange(server, "GET /api/deployments HTTP/1.1\r\n\(host)\r\n")
            #expect(responses.map(\.status) == [400], "\(responses.map(\.text))")
            #expect(responses.first.flatMap(Self.errorCode) == "bad_host", "\(responses.map(\.text))")
            #expect(closed)
        }
    }

    @Test(arguments: ["xchunked", "chunked, identity", "gzip, chunked", "identity"])
    func anUnknownTransferCodingIsOne400ThenTheConnectionCloses(_ coding: String) async throws {
        try await AdminTestServer.run { server in
            // Whatever follows the bad head is never served: its framing cannot be trusted.
            let (responses, closed) = try await Self.exchange(
                server,
                "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: \(coding)\r\n\r\n"
                    + "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(responses.map(\.status) == [400], "\(responses.map(\.text))")
            let refusal = try #require(responses.first)
            #expect(Self.errorCode(refusal) == "bad_framing", "\(refusal.text)")
            #expect(Self.errorMessage(refusal)?.contains("Transfer-Encoding") == true, "\(refusal.text)")
            #expect(refusal.header("Connection")?.lowercased() == "close")
            #expect(closed)
        }
    }

    @Test(arguments: [
        (
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "bad_framing"
        ),
        ("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "bad_framing"),
        ("\u{01}\u{02}\u{03} not http at all\r\n\r\n", "bad_request"),
        ("GET /healthz HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n", "bad_request"),
    ])
    func whatTheParserRefusesIsAJSON400ThenTheConnectionCloses(_ request: String, _ code: String) async throws {
        try await AdminTestServer.run { server in
            let (responses, closed) = try await Self.exchange(
                server, request + "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(responses.map(\.status) == [400], "\(responses.map(\.text))")
            #expect(responses.first.flatMap(Self.errorCode) == code, "\(responses.map(\.text))")
            #expect(closed)
        }
    }

    @Test func aBadRequestPipelinedAfterGoodOnesIsAnsweredInItsPlaceThenTheConnectionCloses() async throws {
        try await AdminTestServer.run { server in
            let good = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            let (responses, closed) = try await Self.exchange(
                server,
                good + good + "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: xchunked\r\n\r\n" + good)
            #expect(responses.map(\.status) == [200, 200, 400], "\(responses.map(\.text))")
            #expect(responses.first?.json?["status"] as? String == "ok")
            #expect(responses.last.flatMap(Self.errorCode) == "bad_framing")
            #expect(closed)
        }
    }

    @Test func wellFormedRequestsKeepTheConnectionAndChunkedBodiesAreRead() async throws {
        try await AdminTestServer.run { server in
            let connection = try await RawConnection.connect(port: server.port)
            defer { connection.close() }
            let body = #"{"slug": "framed", "repoUrl": "https://github.com/example/site.git"}"#
            let chunk = String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n"
            try await connection.send(
                "GET /healthz HTTP/1.1\r\nHost: localhost:8081\r\n\r\n"
                    + "POST /api/deployments HTTP/1.1\r\nHost: [::1]:8081\r\nAuthorization: Bearer \(AdminTestServer.token)\r\n"
                    + "Content-Type: application/json\r\nTransfer-Encoding: Chunked\r\n\r\n\(chunk)")
            let responses = try await connection.readResponses(2, timeout: .seconds(10))
            #expect(responses.map(\.status) == [200, 201], "\(responses.map(\.text))")
            #expect(responses.allSatisfy { $0.header("Connection")?.lowercased() != "close" })
            #expect(try await server.catalog.site(slug: "framed").slug == "framed")
        }
    }
}
